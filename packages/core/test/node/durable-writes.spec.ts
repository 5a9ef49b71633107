import {
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  stepStoreOf,
  systemClock,
  type Entry,
  type HardState,
  type StableStore,
  type StepStore,
} from '../../src/index';
import { counter } from '../support/nodes';

// What RaftNode waits for before it acknowledges and applies (ports/stable-store.ts):
// term and vote durable first, never a write that only records the commit index;
// with a StepStore, one write per step.

/** A stable store whose saves can be held: held saves resolve only on release(). */
class GatedStable extends MemoryStableStore {
  saves: HardState[] = [];
  private held: (() => void)[] | undefined;
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }
  override async save(state: HardState): Promise<void> {
    this.saves.push(state);
    const held = this.held;
    if (held) await new Promise<void>((resolve) => held.push(resolve));
    await super.save(state);
  }
}

/** A MemoryLogStore offering StepStore with its own stable store; counts every kind of write. */
class StepLog extends MemoryLogStore implements StepStore {
  appends = 0;
  steps: { entries: number; state: HardState | undefined }[] = [];
  constructor(readonly stable: GatedStable) {
    super();
  }
  pairsWith(stable: StableStore): boolean {
    return stable === this.stable;
  }
  override async append(entries: readonly Entry[]): Promise<void> {
    this.appends++;
    return super.append(entries);
  }
  /** Writes held by holdWrites(), each waiting for its release. */
  private gate: (() => void)[] | undefined;
  holdWrites(): void {
    this.gate ??= [];
  }
  /** Lets the held writes go; with `holdOn`, later writes are held again. */
  releaseWrites(holdOn = false): void {
    const held = this.gate ?? [];
    this.gate = holdOn ? [] : undefined;
    for (const go of held) go();
  }
  async persistStep(entries: readonly Entry[], state: HardState | undefined): Promise<void> {
    const gate = this.gate;
    if (gate) await new Promise<void>((resolve) => gate.push(resolve));
    this.steps.push({ entries: entries.length, state });
    this.appendSync(entries);
    if (state) await MemoryStableStore.prototype.save.call(this.stable, state);
  }
}

interface Member {
  readonly node: RaftNode;
  readonly log: MemoryLogStore;
  readonly stable: GatedStable;
  readonly applier: ReturnType<typeof counter>;
}

function cluster(ids: readonly string[], withSteps: boolean, seed = 7) {
  const net = new MemoryNetwork();
  const rng = seededRandom(seed);
  const make = (id: string, stable = new GatedStable(), log?: MemoryLogStore): Member => {
    const logStore = log ?? (withSteps ? new StepLog(stable) : new MemoryLogStore());
    const applier = counter();
    const node = new RaftNode({
      id,
      voters: ids,
      logStore,
      stableStore: stable,
      transport: net.transport(id),
      clock: systemClock,
      random: rng.fork(),
      applier,
      config: { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5 },
    });
    return { node, log: logStore, stable, applier };
  };
  return { members: ids.map((id) => make(id)), make };
}

async function leaderOf(members: readonly Member[]): Promise<Member> {
  for (let i = 0; i < 400; i++) {
    const leaders = members.filter((m) => m.node.isLeader());
    if (leaders.length === 1) return leaders[0]!;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no leader');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RaftNode - durable writes', () => {
  it('stepStoreOf finds the capability only when the log store pairs with the stable store', () => {
    const stable = new GatedStable();
    const log = new StepLog(stable);
    expect(stepStoreOf(log, stable)).toBe(log);
    expect(stepStoreOf(log, new MemoryStableStore())).toBeUndefined();
    expect(stepStoreOf(new MemoryLogStore(), stable)).toBeUndefined();
  });

  it('applies and acknowledges commands while every save of the commit index is held', async () => {
    const { members } = cluster(['a', 'b', 'c'], false);
    await Promise.all(members.map((m) => m.node.start()));
    const leader = await leaderOf(members);
    await leader.node.propose({ name: 'inc', args: [] }); // the term's vote and no-op are durable by now
    for (const m of members) m.stable.hold();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => leader.node.propose({ name: 'inc', args: [] })),
    );
    expect(results).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Only commit indexes were waiting: term and vote stayed those of the election.
    const term = leader.node.status().term;
    for (const m of members) for (const s of m.stable.saves.slice(-3)) expect(s.term).toBe(term);
    for (const m of members) m.stable.release();
    await Promise.all(members.map((m) => m.node.stop()));
  });

  it('does not acknowledge a command before the vote of its term is durable', async () => {
    const { members } = cluster(['solo'], false);
    const [solo] = members as [Member];
    solo.stable.hold(); // the election's term and vote cannot become durable
    await solo.node.start();
    for (let i = 0; i < 100 && !solo.node.isLeader(); i++) await sleep(5);
    let settled = false;
    const done = solo.node.propose({ name: 'inc', args: [] }).finally(() => (settled = true));
    await sleep(100);
    expect(settled).toBe(false);
    solo.stable.release();
    expect(await done).toBe(1);
    await solo.node.stop();
  });

  it('with a StepStore, writes each step once: entries and hard state together, append never', async () => {
    const { members } = cluster(['a', 'b', 'c'], true);
    await Promise.all(members.map((m) => m.node.start()));
    const leader = await leaderOf(members);
    for (let k = 0; k < 20; k++) await leader.node.propose({ name: 'inc', args: [] });
    await Promise.all(Array.from({ length: 50 }, () => leader.node.propose({ name: 'inc', args: [] })));
    for (const m of members) {
      const log = m.log as StepLog;
      expect(log.appends).toBe(0);
      expect(log.steps.length).toBeGreaterThan(0);
      // Commit indexes rode along with entries: saves are the election's plus at most a few flushes.
      const carried = log.steps.filter((s) => s.entries > 0 && s.state).length;
      expect(carried).toBeGreaterThan(10);
      expect(m.stable.saves.length).toBeLessThan(carried);
    }
    await Promise.all(members.map((m) => m.node.stop()));
  });

  it('applies a committed entry it holds durably without waiting for the write of the next step', async () => {
    const { members } = cluster(['a', 'b', 'c'], true);
    await Promise.all(members.map((m) => m.node.start()));
    const leader = await leaderOf(members);
    const log = leader.log as StepLog;
    await leader.node.propose({ name: 'inc', args: [] });
    log.holdWrites();
    // The leader's write of the second command is held; its followers commit it meanwhile.
    const second = leader.node.propose({ name: 'inc', args: [] });
    const secondIndex = leader.node.status().lastIndex;
    for (let i = 0; i < 200 && leader.node.status().commitIndex < secondIndex; i++) await sleep(2);
    expect(leader.node.status().commitIndex).toBe(secondIndex);
    let thirdSettled = false;
    const third = leader.node.propose({ name: 'inc', args: [] }).finally(() => (thirdSettled = true));
    // The second command's write completes; the next step (the third's write) is held again.
    log.releaseWrites(true);
    // The second is durable here and committed: it is applied while the third's write waits.
    const outcome = await Promise.race([second, sleep(1000).then(() => 'still waiting')]);
    const thirdWaited = !thirdSettled;
    log.releaseWrites();
    expect(outcome).toBe(2);
    expect(thirdWaited).toBe(true);
    await expect(third).resolves.toBe(3);
    await Promise.all(members.map((m) => m.node.stop()));
  });

  it('saves the commit index on a clean stop, so a restart applies everything at once', async () => {
    const { members, make } = cluster(['solo'], true);
    const [solo] = members as [Member];
    await solo.node.start();
    await leaderOf(members);
    for (let k = 0; k < 5; k++) await solo.node.propose({ name: 'inc', args: [] });
    const applied = solo.node.status().appliedIndex;
    await solo.node.stop();
    expect((await solo.stable.load())?.commit).toBe(applied);
    const again = make('solo', solo.stable, solo.log);
    await again.node.start();
    // Applied from the stored commit index, before any election could tell it more.
    for (let i = 0; i < 10 && again.node.status().appliedIndex < applied; i++) await sleep(2);
    expect(again.node.status()).toMatchObject({ appliedIndex: applied, role: 'follower' });
    expect(again.applier.applied).toBe(5);
    await again.node.stop();
  });

  it('writes a pending commit index in the background within a few ticks of going idle', async () => {
    const { members } = cluster(['a', 'b', 'c'], true);
    await Promise.all(members.map((m) => m.node.start()));
    const leader = await leaderOf(members);
    for (let k = 0; k < 5; k++) await leader.node.propose({ name: 'inc', args: [] });
    const applied = leader.node.status().appliedIndex;
    await sleep(100); // 20 ticks
    for (const m of members) expect((await m.stable.load())?.commit).toBe(applied);
    await Promise.all(members.map((m) => m.node.stop()));
  });
});
