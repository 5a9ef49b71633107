import {
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  NodeStoppedError,
  NotLeaderError,
  RaftNode,
  StateLostError,
  seededRandom,
  systemClock,
  type Applier,
  type CommandEnvelope,
} from '../../src/index';
import { until } from '../support/nodes';

/** A minimal applier: a counter map, enough to drive RaftNode without the decorator layer. */
class CounterApplier implements Applier {
  readonly counts = new Map<string, number>();
  readonly applied: number[] = [];
  validate(): void {}
  apply(c: CommandEnvelope, ctx: { index: number }) {
    const key = String(c.args[0]);
    const next = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, next);
    this.applied.push(ctx.index);
    return { ok: true as const, value: next };
  }
  query(_n: string, args: readonly unknown[]) {
    return this.counts.get(String(args[0])) ?? 0;
  }
  snapshot() {
    return new Uint8Array();
  }
  restore() {}
}

interface Replica {
  node: RaftNode;
  applier: CounterApplier;
  log: MemoryLogStore;
  stable: MemoryStableStore;
}

async function cluster(ids: string[], seed = 1) {
  const net = new MemoryNetwork();
  const rng = seededRandom(seed);
  const replicas = new Map<string, Replica>();
  const make = (id: string, log = new MemoryLogStore(), stable = new MemoryStableStore()): Replica => {
    const applier = new CounterApplier();
    const node = new RaftNode({
      id,
      voters: ids,
      logStore: log,
      stableStore: stable,
      transport: net.transport(id),
      clock: systemClock,
      random: rng.fork(),
      applier,
      config: { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5 },
    });
    return { node, applier, log, stable };
  };
  for (const id of ids) replicas.set(id, make(id));
  await Promise.all([...replicas.values()].map((r) => r.node.start()));
  return { replicas, make };
}

async function leaderOf(replicas: Map<string, Replica>): Promise<Replica> {
  for (let i = 0; i < 400; i++) {
    const leaders = [...replicas.values()].filter((r) => r.node.isLeader());
    if (leaders.length === 1) return leaders[0]!;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no leader');
}

describe('RaftNode - in-memory cluster', () => {
  it('elects a leader, applies proposals on every replica in order, and recovers after restart', async () => {
    const { replicas, make } = await cluster(['a', 'b', 'c']);
    const leader = await leaderOf(replicas);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => leader.node.propose({ name: 'inc', args: ['x'] })),
    );
    expect(results.sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const follower = [...replicas.values()].find((r) => r !== leader)!;
    await expect(follower.node.propose({ name: 'inc', args: ['x'] })).rejects.toBeInstanceOf(NotLeaderError);
    // refusal(): what any command would get here, before it is looked at; the leader takes commands.
    expect(follower.node.refusal()).toMatchObject({ name: 'NotLeaderError', leaderId: leader.node.id });
    expect(follower.node.refusal()!.stack).not.toMatch(/\n\s+at /);
    expect(leader.node.refusal()).toBeUndefined();

    for (let i = 0; i < 200 && [...replicas.values()].some((r) => r.applier.counts.get('x') !== 20); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const r of replicas.values()) expect(r.applier.counts.get('x')).toBe(20);

    // Restart every node from its stores: state is rebuilt from the durable log.
    await Promise.all([...replicas.values()].map((r) => r.node.stop()));
    const again = new Map<string, Replica>();
    for (const [id, r] of replicas) again.set(id, make(id, r.log, r.stable));
    await Promise.all([...again.values()].map((r) => r.node.start()));
    const leader2 = await leaderOf(again);
    await leader2.node.propose({ name: 'inc', args: ['x'] });
    expect(leader2.applier.counts.get('x')).toBe(21);
    await Promise.all([...again.values()].map((r) => r.node.stop()));
  });

  it('halts a replica restarted on empty stores (it lost what it acknowledged), and the others go on', async () => {
    const { replicas, make } = await cluster(['a', 'b', 'c'], 2);
    const leader = await leaderOf(replicas);
    for (let i = 0; i < 10; i++) await leader.node.propose({ name: 'inc', args: ['x'] });
    const victim = [...replicas.values()].find((r) => r !== leader)!;
    const id = victim.node.id;
    await until(
      () => leader.node.status().followers?.[id]?.match === leader.node.status().lastIndex,
      'a full match',
    );
    await victim.node.stop();

    // The same id on new, empty stores: as if its disk was wiped, or in-memory stores restarted.
    const amnesiac = make(id);
    const halted = new Promise<Error>((resolve) => amnesiac.node.onHalt(resolve));
    await amnesiac.node.start();
    const cause = await halted;
    expect(cause).toBeInstanceOf(StateLostError);
    expect(cause.message).toMatch(new RegExp(`node ${id} lost log entries it had acknowledged`));
    expect((cause as StateLostError).lastIndex).toBeLessThan((cause as StateLostError).acknowledged);
    expect(amnesiac.node.status().halted).toBe(cause.message);
    const refused = await amnesiac.node.propose({ name: 'inc', args: ['x'] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(NodeStoppedError);
    expect((refused as Error).cause).toBe(cause);
    expect(amnesiac.applier.counts.get('x')).toBeUndefined(); // it applied nothing it no longer holds

    // The two others are a quorum: the group goes on, and its leader did not lose its place.
    expect(await leader.node.propose({ name: 'inc', args: ['x'] })).toBe(11);
    await Promise.all([...replicas.values()].filter((r) => r !== victim).map((r) => r.node.stop()));
  });
});
