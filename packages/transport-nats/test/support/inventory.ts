// In-process replicas of the Inventory machine over NATS, for the typed-client
// tests: each a core Replica (MachineHost: sessions, registration) on a
// NatsTransport, serving clients through serveClients, with a record of what
// it was asked.
import {
  MemoryLogStore,
  MemoryStableStore,
  Replica,
  seededRandom,
  type CommandRequest,
  type MachineHostOptions,
  type NodeConfig,
  type QueryRequest,
} from '@raftline/core';
import { NatsTransport, type NatsConnection } from '../../src/index';
import { Inventory } from '../../../../test/fixtures/inventory';
import { FAST, Link } from './cluster';
import { serveWatched } from './serve-watched';

/** One in-process replica and what its client server saw. */
export interface InventoryReplica {
  readonly id: string;
  readonly replica: Replica<Inventory>;
  readonly transport: NatsTransport;
  /** Its Raft link: isolate it to cut it off from its peers (clients still reach it). */
  readonly link: Link;
  /** Every command serveClients handed this replica, in order. */
  readonly commands: CommandRequest[];
  /** Every query serveClients handed this replica, in order. */
  readonly queries: QueryRequest[];
  /**
   * When set, a command this replica proposes is applied but its reply never
   * comes (a lost reply); called with each command, true drops that one.
   */
  dropReply?: (request: CommandRequest) => boolean;
  stopServing(): void;
}

/**
 * Starts one Replica<Inventory> per id over NATS with in-memory stores, each serving clients.
 * @returns the started replicas
 */
export async function startInventory(
  ids: readonly string[],
  o: {
    readonly connection: NatsConnection;
    readonly cluster: string;
    readonly group: string;
    readonly config?: Partial<NodeConfig>;
    readonly hostOptions?: MachineHostOptions;
  },
): Promise<InventoryReplica[]> {
  const rng = seededRandom(23);
  const out: InventoryReplica[] = [];
  for (const id of ids) {
    const transport = await NatsTransport.create({
      cluster: o.cluster,
      group: o.group,
      connection: o.connection,
      nodeId: id,
    });
    const link = new Link(transport);
    const replica = new Replica({
      id,
      voters: ids,
      machine: new Inventory(),
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: link,
      random: rng.fork(),
      config: { ...FAST, ...o.config },
      ...(o.hostOptions ? { hostOptions: o.hostOptions } : {}),
    });
    const node = replica.node;
    const r: InventoryReplica = {
      id,
      replica,
      transport,
      link,
      commands: [],
      queries: [],
      stopServing: () => stopServing(),
    };
    const stopServing = serveWatched(o, node, {
      propose: async (request) => {
        r.commands.push(request);
        const value = await node.propose(request);
        if (r.dropReply?.(request)) return new Promise<never>(() => undefined);
        return value;
      },
      onQuery: (request) => r.queries.push(request),
    });
    out.push(r);
  }
  await Promise.all(out.map((r) => r.replica.start()));
  return out;
}

/** Stops serving and stops every replica; closes the transports. */
export async function stopInventory(replicas: readonly InventoryReplica[]): Promise<void> {
  for (const r of replicas) r.stopServing();
  await Promise.all(replicas.map((r) => r.replica.stop()));
  await Promise.all(replicas.map((r) => r.transport.close()));
}

/** The replica that believes it leads, if any. */
export function leaderOf(replicas: readonly InventoryReplica[]): InventoryReplica | undefined {
  return replicas.find((r) => r.replica.node.isLeader());
}
