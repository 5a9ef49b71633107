// In-process replicas that serve clients and the admin API over NATS, with
// snapshots, for the admin tests.
import {
  MemoryLogStore,
  MemorySnapshotStore,
  MemoryStableStore,
  pack,
  RaftNode,
  seededRandom,
  systemClock,
  unpack,
  type NodeConfig,
} from '@raftline/core';
import {
  AdminClient,
  connectNats,
  NatsTransport,
  serveAdmin,
  serveClients,
  type AdminServer,
  type NatsConnection,
} from '../../src/index';
import { CounterApplier, FAST, Link } from './cluster';
import { SHARED_NATS, uniqueCluster, waitFor } from './nats-server';

/** The counter, with a snapshot of its counts and applied order, so a replica restored from one holds them. */
export class SnapshottingCounter extends CounterApplier {
  override snapshot() {
    return new Uint8Array(pack([[...this.counts], this.applied]));
  }

  override restore(data?: Uint8Array): void {
    if (!data || data.byteLength === 0) return;
    const [counts, applied] = unpack(data) as [[string, number][], string[]];
    this.counts.clear();
    for (const [key, n] of counts) this.counts.set(key, n);
    this.applied.length = 0;
    this.applied.push(...applied);
  }
}

/** One replica of an admin test. */
export interface AdminReplica {
  readonly id: string;
  readonly node: RaftNode;
  readonly applier: SnapshottingCounter;
  readonly transport: NatsTransport;
  /** The node's Raft link, to cut it off from its peers (client and admin requests still reach it). */
  readonly link: Link;
  readonly admin: AdminServer;
  stop(): Promise<void>;
}

/** How a test group is reached. */
export interface GroupAddress {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
}

let seed = 11;

/**
 * Starts one replica: a RaftNode over NATS with in-memory stores (snapshots
 * included unless o.snapshots is false), serving clients and the admin API.
 * `voters` is its initial configuration: [] for a node that joins later as a learner.
 */
export async function startAdminReplica(
  at: GroupAddress,
  id: string,
  voters: readonly string[],
  config: Partial<NodeConfig> = {},
  o: { snapshots?: boolean } = {},
): Promise<AdminReplica> {
  const { connection, cluster, group } = at;
  const transport = await NatsTransport.create({ connection, cluster, group, nodeId: id });
  const applier = new SnapshottingCounter();
  const link = new Link(transport);
  const node = new RaftNode({
    id,
    voters,
    logStore: new MemoryLogStore(),
    stableStore: new MemoryStableStore(),
    ...(o.snapshots === false ? {} : { snapshotStore: new MemorySnapshotStore() }),
    transport: link,
    clock: systemClock,
    random: seededRandom(seed++),
    applier,
    config: { ...FAST, ...config },
  });
  await node.start();
  const clients = serveClients({ connection, cluster, group, node });
  const admin = serveAdmin({ connection, cluster, group, node, transport, lagSampleMs: 20 });
  let stopped: Promise<void> | undefined;
  return {
    id,
    node,
    applier,
    transport,
    link,
    admin,
    stop: () =>
      (stopped ??= (async () => {
        admin.close();
        clients.close();
        await node.stop();
      })()),
  };
}

/** Starts a group of replicas whose initial voters are ids. */
export function startAdminGroup(
  at: GroupAddress,
  ids: readonly string[],
  config: Partial<NodeConfig> = {},
): Promise<AdminReplica[]> {
  return Promise.all(ids.map((id) => startAdminReplica(at, id, ids, config)));
}

/** What an admin test file works with: fresh per test, but for the connection. */
export interface AdminGroupFixture {
  /** One connection to the shared NATS server for the whole file. */
  readonly nc: NatsConnection;
  /** A new cluster name per test, so tests never see each other's replicas. */
  readonly at: GroupAddress;
  /** An AdminClient of `at` (8 s per call, 500 ms per request). */
  readonly admin: AdminClient;
  /** The test's replicas: assign or push them; each is stopped after the test. */
  replicas: AdminReplica[];
  /** Waits until exactly one of replicas leads. @returns it */
  leaderOf(): Promise<AdminReplica>;
}

/**
 * Registers the jest hooks of an admin test file (connect once; per test a
 * new cluster named after `prefix` and its AdminClient; stop the test's
 * replicas after it; close the connection at the end).
 * @returns the fixture the hooks keep up to date (read its fields inside tests only)
 */
export function useAdminGroup(prefix: string): AdminGroupFixture {
  let nc: NatsConnection | undefined;
  let at: GroupAddress | undefined;
  let admin: AdminClient | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useAdminGroup: ${what} is read outside a test`);
    return value;
  };
  const fixture: AdminGroupFixture = {
    get nc() {
      return ready(nc, 'nc');
    },
    get at() {
      return ready(at, 'at');
    },
    get admin() {
      return ready(admin, 'admin');
    },
    replicas: [],
    leaderOf: async () => {
      await waitFor('one leader', () => fixture.replicas.filter((r) => r.node.isLeader()).length === 1);
      return fixture.replicas.find((r) => r.node.isLeader())!;
    },
  };
  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  beforeEach(() => {
    at = { connection: fixture.nc, cluster: uniqueCluster(prefix), group: 'g' };
    admin = new AdminClient({ ...at, timeoutMs: 8000, requestTimeoutMs: 500 });
  });
  afterEach(async () => {
    await Promise.all(fixture.replicas.map((r) => r.stop()));
    fixture.replicas = [];
  });
  afterAll(async () => {
    await nc?.close();
  });
  return fixture;
}
