// Replicas that run a real ReplicatedStateMachine (through MachineHost, so
// client sessions apply a command at most once) over NATS, for client tests.
import {
  Command,
  MachineHost,
  MemoryLogStore,
  MemoryStableStore,
  Query,
  RaftNode,
  ReplicatedStateMachine,
  seededRandom,
  StateMachine,
  systemClock,
  type CommandRequest,
  type NodeConfig,
} from '@raftline/core';
import { NatsTransport, type NatsConnection, type NatsTransportOptions } from '../../src/index';
import { FAST } from './cluster';
import { serveWatched } from './serve-watched';

/** Counts per key, and makes results of any size. */
@StateMachine('tally')
export class Tally extends ReplicatedStateMachine {
  counts: Record<string, number> = {};

  @Command()
  inc(key: string): number {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    return this.counts[key];
  }

  /** Stores nothing; its argument only makes the command as large as a test needs. */
  @Command()
  carry(data: string): number {
    this.counts.carried = (this.counts.carried ?? 0) + 1;
    return data.length;
  }

  /** Counts the call, and returns a result of `size` characters. */
  @Command()
  make(size: number): string {
    this.counts.made = (this.counts.made ?? 0) + 1;
    return 'x'.repeat(size);
  }

  @Query()
  count(key: string): number {
    return this.counts[key] ?? 0;
  }
}

/** One replica: its node, its machine, and the proposals its client server saw. */
export interface MachineReplica {
  readonly id: string;
  readonly node: RaftNode;
  readonly host: MachineHost;
  readonly machine: Tally;
  readonly transport: NatsTransport;
  /** Every request serveClients handed this replica, in order. */
  readonly seen: CommandRequest[];
  /** Stops serving clients (as a stopped process would). */
  stopServing(): void;
}

/**
 * What a test may put between serveClients and the node: it gets the request
 * and the node's propose, and answers in its place.
 */
export type ProposeHook = (
  replica: MachineReplica,
  request: CommandRequest,
  propose: () => Promise<unknown>,
) => Promise<unknown>;

/**
 * Starts one RaftNode per id running Tally, over NATS with in-memory stores,
 * each serving clients through `hook` (default: straight to the node).
 * @returns the started replicas
 */
export async function startTallyReplicas(
  ids: readonly string[],
  o: {
    readonly connection: NatsConnection;
    readonly cluster: string;
    readonly group: string;
    readonly config?: Partial<NodeConfig>;
    readonly transport?: Partial<NatsTransportOptions>;
    readonly hook?: ProposeHook;
  },
): Promise<MachineReplica[]> {
  const rng = seededRandom(11);
  const replicas: MachineReplica[] = [];
  for (const id of ids) {
    const transport = await NatsTransport.create({
      cluster: o.cluster,
      group: o.group,
      connection: o.connection,
      ...o.transport,
      nodeId: id,
    });
    const machine = new Tally();
    const host = new MachineHost(machine);
    const node = new RaftNode({
      id,
      voters: ids,
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport,
      clock: systemClock,
      random: rng.fork(),
      applier: host,
      config: { ...FAST, ...o.config },
    });
    const seen: CommandRequest[] = [];
    const replica: MachineReplica = {
      id,
      node,
      host,
      machine,
      transport,
      seen,
      stopServing: () => stopServing(),
    };
    const hook = o.hook ?? ((_r, _q, propose) => propose());
    const stopServing = serveWatched(o, node, {
      propose: (request) => {
        seen.push(request);
        return hook(replica, request, () => node.propose(request));
      },
    });
    replicas.push(replica);
  }
  await Promise.all(replicas.map((r) => r.node.start()));
  return replicas;
}

/** Stops serving and stops every node; closes the transports. */
export async function stopTallyReplicas(replicas: readonly MachineReplica[]): Promise<void> {
  for (const r of replicas) r.stopServing();
  await Promise.all(replicas.map((r) => r.node.stop()));
  await Promise.all(replicas.map((r) => r.transport.close()));
}
