import {
  ConfigError,
  unknownKeyProblems,
  type KnownKeys,
  type NodeId,
  type NodeStatus,
} from '@raftline/core';
import { isNoResponders } from './client';
import type { MirrorStatus } from './mirror';
import { servicesModule, type NatsConnection, type Service, type ServiceInfo, type ServiceMsg } from './nats';
import { checkToken, groupSubjects } from './subjects';
import type { NatsTransportStats } from './transport';

/** The NATS service name every raftline replica registers under (`nats micro ls` lists it). */
export const REPLICA_SERVICE_NAME = 'raftline';

/** The version a replica service reports unless told otherwise: @raftline/transport-nats's (its own package.json, found by name from src and from either build). */
export const REPLICA_SERVICE_VERSION: string =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('@raftline/transport-nats/package.json') as { version: string }).version;

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** The endpoints of a replica service; each answers JSON on groupSubjects(cluster, group).service(node, endpoint). */
export const REPLICA_ENDPOINTS = ['status', 'stats'] as const;

/** What a replica service reports on: RaftNode satisfies it. */
export interface StatusSource {
  readonly id: NodeId;
  /** @throws NodeStoppedError before start */
  status(): NodeStatus;
}

/** How a replica registers with the NATS services framework. */
export interface ReplicaServiceOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly node: StatusSource;
  /** Its transport, whose counters the stats endpoint reports. */
  readonly transport?: { stats(): NatsTransportStats };
  /** Its committed-stream mirror, whose status the stats endpoint reports. */
  readonly mirror?: { status(): MirrorStatus };
  /** The service name (default REPLICA_SERVICE_NAME); letters, digits, '-' and '_'. */
  readonly name?: string;
  /** A semantic version (default REPLICA_SERVICE_VERSION). */
  readonly version?: string;
  readonly description?: string;
  /** More metadata; cluster, group and node are always set by the service. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const SERVICE_OPTION_KEYS: KnownKeys<ReplicaServiceOptions> = {
  connection: true,
  cluster: true,
  group: true,
  node: true,
  transport: true,
  mirror: true,
  name: true,
  version: true,
  description: true,
  metadata: true,
};

/** The body of the stats endpoint. */
export interface ReplicaStats {
  readonly node: NodeId;
  readonly transport?: NatsTransportStats;
  readonly mirror?: MirrorStatus;
}

/** A replica registered with the NATS services framework. */
export interface ReplicaService {
  /** The service instance id (unique per registration), as $SRV.PING reports it. */
  readonly id: string;
  /** The nats.js service, for its stats() and info(). */
  readonly service: Service;
  /** Deregisters the service: its endpoints stop answering. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Registers a replica as a NATS micro service, so standard NATS tooling
 * (`nats micro ls|info|stats`, $SRV.PING/INFO/STATS) discovers it. Metadata:
 * `cluster`, `group`, `node`. Endpoints, answering JSON:
 * - `status`: RaftNode.status() (503 while the node is not started)
 * - `stats`: ReplicaStats (transport counters, mirror status)
 * @returns the registered service
 * @throws SubjectTokenError when cluster, group or the node id is not a valid subject token
 * @throws ConfigError when the service name or version is invalid, or an option key is unknown
 * @throws the nats.js error when the connection is closed
 */
export async function registerReplicaService(options: ReplicaServiceOptions): Promise<ReplicaService> {
  const unknown = unknownKeyProblems(options, SERVICE_OPTION_KEYS, 'registerReplicaService options');
  if (unknown.length > 0) throw new ConfigError(unknown);
  const { connection, cluster, group, node } = options;
  const subjects = groupSubjects(cluster, group);
  checkToken('node id', node.id);
  const name = options.name ?? REPLICA_SERVICE_NAME;
  const version = options.version ?? REPLICA_SERVICE_VERSION;
  const problems: string[] = [];
  if (!/^[-\w]+$/.test(name)) {
    problems.push(`name (${JSON.stringify(name)}) may hold only letters, digits, '-' and '_'`);
  }
  if (!SEMVER.test(version)) problems.push(`version (${JSON.stringify(version)}) must be a semantic version`);
  if (problems.length > 0) throw new ConfigError(problems);
  const svcm = servicesManager(connection);
  const service: Service = await svcm.add({
    name,
    version,
    description: options.description ?? `raftline replica ${node.id} of ${cluster}/${group}`,
    metadata: { ...options.metadata, cluster, group, node: node.id },
  });
  const answer = (msg: ServiceMsg, body: () => unknown): void => {
    try {
      msg.respond(JSON.stringify(body()));
    } catch (err) {
      msg.respondError(503, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  };
  const endpoints: Record<(typeof REPLICA_ENDPOINTS)[number], () => unknown> = {
    status: () => node.status(),
    stats: (): ReplicaStats => ({
      node: node.id,
      ...(options.transport ? { transport: options.transport.stats() } : {}),
      ...(options.mirror ? { mirror: options.mirror.status() } : {}),
    }),
  };
  for (const endpoint of REPLICA_ENDPOINTS) {
    service.addEndpoint(endpoint, {
      subject: subjects.service(node.id, endpoint),
      handler: (err, msg) => {
        if (!err) answer(msg, endpoints[endpoint]);
      },
      metadata: { format: 'application/json' },
    });
  }
  let stopped: Promise<unknown> | undefined;
  return {
    id: service.info().id,
    service,
    stop: async () => {
      stopped ??= service.stop().catch(() => undefined);
      await stopped;
    },
  };
}

/** A replica found by discoverReplicas. */
export interface DiscoveredReplica {
  /** The service instance id. */
  readonly id: string;
  readonly cluster: string;
  readonly group: string;
  readonly node: NodeId;
  readonly version: string;
  /** The subject of each endpoint. */
  readonly endpoints: Readonly<Record<string, string>>;
}

/**
 * Finds the replicas registered on this NATS account ($SRV.INFO), optionally
 * of one cluster and group; waits timeoutMs (default 500) for the answers.
 * @returns the replicas that answered, sorted by cluster, group and node;
 *   an empty list when none is registered (NATS answers "no responders")
 * @throws the nats.js error when the connection is closed or the request fails otherwise
 */
export async function discoverReplicas(
  connection: NatsConnection,
  filter: { cluster?: string; group?: string; name?: string; timeoutMs?: number } = {},
): Promise<DiscoveredReplica[]> {
  const client = servicesManager(connection).client({ strategy: 'timer', maxWait: filter.timeoutMs ?? 500 });
  const found: DiscoveredReplica[] = [];
  try {
    for await (const info of await client.info(filter.name ?? REPLICA_SERVICE_NAME)) {
      const r = fromInfo(info);
      if (!r) continue;
      if (filter.cluster !== undefined && r.cluster !== filter.cluster) continue;
      if (filter.group !== undefined && r.group !== filter.group) continue;
      found.push(r);
    }
  } catch (err) {
    if (!isNoResponders(err)) throw err; // nobody registered: no replica to list
  }
  const key = (r: DiscoveredReplica) => `${r.cluster}\u0000${r.group}\u0000${r.node}`;
  return found.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

type Svcm = InstanceType<typeof servicesModule.Svcm>;

/**
 * The services manager of a connection. @nats-io/services 3.0.0-25 (the
 * newest published) declares its own copy of nats-core's types; the
 * connection is the same object at run time.
 */
function servicesManager(connection: NatsConnection): Svcm {
  return new servicesModule.Svcm(
    connection as unknown as ConstructorParameters<typeof servicesModule.Svcm>[0],
  );
}

function fromInfo(info: ServiceInfo): DiscoveredReplica | undefined {
  const m = info.metadata ?? {};
  const { cluster, group, node } = m;
  if (!cluster || !group || !node) return undefined;
  return {
    id: info.id,
    cluster,
    group,
    node,
    version: info.version,
    endpoints: Object.fromEntries(info.endpoints.map((e) => [e.name, e.subject])),
  };
}
