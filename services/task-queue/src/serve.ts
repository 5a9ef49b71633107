/**
 * One replica of a task queue group over NATS: the Replica of a TaskQueue
 * on the stores it is given, its NatsTransport, the client and admin APIs,
 * the committed stream mirrored into JetStream (what readCommitted and
 * jobEvents read), the NATS service registration (discovery, `nats micro
 * ls`), and a leader-side ticker. `scripts/replica.ts` runs it
 * on PostgreSQL stores as a process; `raftline serve` (packages/cli) finds
 * the machine as this package's `machine` export.
 */
import {
  checkKnownKeys,
  ConfigError,
  Replica,
  type KnownKeys,
  type LogStore,
  type MachineHostOptions,
  type NodeConfig,
  type RandomSource,
  type SnapshotStore,
  type StableStore,
} from '@raftline/core';
import {
  mirrorCommitted,
  NatsTransport,
  registerReplicaService,
  serveAdmin,
  serveClients,
  type AdminServer,
  type JetStreamMirror,
  type NatsConnection,
} from '@raftline/transport-nats';
import { TaskQueue, type TaskQueueOptions } from './machine';

/** What one task queue replica runs on. */
export interface TaskQueueReplicaOptions {
  /** A NATS connection the caller owns (stop() leaves it open). */
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly id: string;
  readonly voters: readonly string[];
  readonly logStore: LogStore;
  readonly stableStore: StableStore;
  readonly snapshotStore?: SnapshotStore;
  /** The TaskQueue's options: the same on every replica of the group. */
  readonly machine?: TaskQueueOptions;
  /** RaftNode settings (election timeout, snapshot thresholds, …). */
  readonly config?: Partial<NodeConfig>;
  readonly hostOptions?: MachineHostOptions;
  readonly random?: RandomSource;
  /**
   * While this replica leads, it proposes `tick` when nothing was applied
   * for this long (default 1000 ms; 0: never), so that expiries and delays
   * show in queries of an idle queue.
   */
  readonly tickMs?: number;
  /** Mirror the committed stream into JetStream (default true). */
  readonly mirror?: boolean;
  /** Register the replica as NATS service `raftline` (discoverReplicas; default true). */
  readonly register?: boolean;
}

const REPLICA_KEYS: KnownKeys<TaskQueueReplicaOptions> = {
  connection: true,
  cluster: true,
  group: true,
  id: true,
  voters: true,
  logStore: true,
  stableStore: true,
  snapshotStore: true,
  machine: true,
  config: true,
  hostOptions: true,
  random: true,
  tickMs: true,
  mirror: true,
  register: true,
};

/** A running task queue replica. */
export interface TaskQueueReplica {
  readonly replica: Replica<TaskQueue>;
  readonly transport: NatsTransport;
  readonly mirror: JetStreamMirror | undefined;
  /** Stops serving, then the replica (a leader hands over first) and its transport. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts one replica of a task queue group.
 * @returns it, once its transport listens and its APIs are served
 * @throws ConfigError for unknown or bad options (and as Replica and TaskQueue do)
 * @throws DuplicateNodeError when a live transport already answers for this node id
 */
export async function serveTaskQueue(options: TaskQueueReplicaOptions): Promise<TaskQueueReplica> {
  checkKnownKeys(options, REPLICA_KEYS, 'serveTaskQueue options');
  const { connection, cluster, group, id, tickMs = 1000 } = options;
  if (!Number.isSafeInteger(tickMs) || tickMs < 0)
    throw new ConfigError([`tickMs (${tickMs}) must be a non-negative integer`]);
  const machine = new TaskQueue(options.machine);
  const transport = await NatsTransport.create({ cluster, group, nodeId: id, connection });
  const replica = new Replica({
    id,
    voters: [...options.voters],
    machine,
    logStore: options.logStore,
    stableStore: options.stableStore,
    ...(options.snapshotStore ? { snapshotStore: options.snapshotStore } : {}),
    transport,
    ...(options.config ? { config: options.config } : {}),
    ...(options.hostOptions ? { hostOptions: options.hostOptions } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  await replica.start();
  const clients = serveClients({ connection, cluster, group, node: replica.node });
  const admin: AdminServer = serveAdmin({ connection, cluster, group, node: replica.node, transport });
  const mirror =
    options.mirror === false
      ? undefined
      : await mirrorCommitted({ node: replica.node, connection, cluster, group });
  const service =
    options.register === false
      ? undefined
      : await registerReplicaService({
          connection,
          cluster,
          group,
          node: replica.node,
          transport,
          ...(mirror ? { mirror } : {}),
        });
  const ticker = tickMs > 0 ? startTicker(replica, tickMs) : undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (ticker) clearInterval(ticker);
      await service?.stop();
      admin.close();
      clients.close();
      await mirror?.close();
      await replica.stop({ transferLeadership: true });
    })());
  return { replica, transport, mirror, stop };
}

/**
 * Proposes `tick` from the leader when no entry was applied for tickMs
 * (commands move the queues' time themselves). A tick that fails (the
 * replica just lost leadership) is simply tried at the next turn.
 */
function startTicker(replica: Replica<TaskQueue>, tickMs: number): NodeJS.Timeout {
  let seen = -1;
  let inFlight = false;
  return setInterval(() => {
    const { role, appliedIndex } = replica.status();
    const quiet = appliedIndex === seen;
    seen = appliedIndex;
    if (role !== 'leader' || !quiet || inFlight) return;
    inFlight = true;
    replica.commands
      .tick()
      .catch(() => undefined)
      .finally(() => (inFlight = false));
  }, tickMs);
}
