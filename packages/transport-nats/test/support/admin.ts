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
  NatsTransport,
  serveAdmin,
  serveClients,
  type AdminServer,
  type NatsConnection,
} from '../../src/index';
import { CounterApplier, FAST, Link } from './cluster';

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
