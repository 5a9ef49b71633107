import {
  MemoryLogStore,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  systemClock,
  type Message,
  type NodeConfig,
  type Transport,
} from '@raftline/core';
import { NatsTransport, type NatsTransportOptions } from '../../src/index';
import { CounterApplier } from '../../../../test/fixtures/counter';

export { CounterApplier };

/** Fast timeouts for tests on loopback: election 300 ms, heartbeat 50 ms. */
export const FAST: Partial<NodeConfig> = {
  electionTimeoutMs: 300,
  heartbeatMs: 50,
  tickMs: 10,
  proposalTimeoutMs: 3000,
};

/** A Transport in front of a NatsTransport that a test can cut off: while isolated, nothing is sent or delivered. */
export class Link implements Transport {
  isolated = false;
  constructor(private readonly inner: NatsTransport) {}
  send(messages: readonly Message[]): void {
    if (!this.isolated) this.inner.send(messages);
  }
  listen(handler: (message: Message) => void): Promise<void> {
    return this.inner.listen((m) => {
      if (!this.isolated) handler(m);
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Replica {
  readonly id: string;
  readonly node: RaftNode;
  readonly applier: CounterApplier;
  readonly transport: NatsTransport;
  /** The node's Raft link, to isolate it from its peers (client requests still reach it). */
  readonly link: Link;
}

/**
 * Starts one RaftNode per id over NATS, with in-memory stores.
 * @returns the started replicas
 */
export async function startReplicas(
  ids: readonly string[],
  transport: Omit<NatsTransportOptions, 'nodeId'>,
  seed = 7,
): Promise<Replica[]> {
  const rng = seededRandom(seed);
  const replicas: Replica[] = [];
  for (const id of ids) {
    const t = await NatsTransport.create({ ...transport, nodeId: id });
    const applier = new CounterApplier();
    const link = new Link(t);
    const node = new RaftNode({
      id,
      voters: ids,
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: link,
      clock: systemClock,
      random: rng.fork(),
      applier,
      config: FAST,
    });
    replicas.push({ id, node, applier, transport: t, link });
  }
  await Promise.all(replicas.map((r) => r.node.start()));
  return replicas;
}

/** The replicas that believe they lead. */
export function leaders(replicas: readonly Replica[]): Replica[] {
  return replicas.filter((r) => r.node.isLeader());
}
