// @Tick on virtual time: the leader proposes the tick every everyMs while
// there is a leader, every replica applies the same ticks with replicated
// time, and a new leader goes on ticking after a leader change.
import { Query, ReplicatedStateMachine, StateMachine, Tick } from '@raftline/core';
import { SimCluster } from '../src/index';

jest.setTimeout(60_000);

const EVERY = 100;

/** Records the replicated context of every tick it applies. */
@StateMachine('sim-ticking')
class Ticking extends ReplicatedStateMachine {
  ticks: { term: number; time: number }[] = [];

  @Tick({ everyMs: EVERY })
  expire(): void {
    this.ticks.push({ term: this.context.term, time: this.context.time });
  }

  @Query() last(): { term: number; time: number } | undefined {
    return this.ticks.at(-1);
  }
}

const ticksOf = (c: SimCluster, id: string) => (c.machine(id) as Ticking).ticks;

/** Gaps between consecutive ticks of the same term. */
function gapsWithinTerms(ticks: readonly { term: number; time: number }[]): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < ticks.length; i++) {
    if (ticks[i]!.term === ticks[i - 1]!.term) gaps.push(ticks[i]!.time - ticks[i - 1]!.time);
  }
  return gaps;
}

describe('SimCluster - @Tick on virtual time', () => {
  it('a tick is applied every everyMs of virtual time while a leader leads, the same on every replica', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 17, stateMachine: () => new Ticking() });
    const leader = await c.waitForLeader();
    await c.advance(300);
    const from = c.now();
    const before = ticksOf(c, leader).length;
    await c.advance(10_000);
    const during = ticksOf(c, leader).length - before;
    // 10 s at one tick per 100 ms: 100, give or take the one in flight at either end.
    expect(during).toBeGreaterThanOrEqual(99);
    expect(during).toBeLessThanOrEqual(101);
    const ticks = ticksOf(c, leader);
    expect(new Set(gapsWithinTerms(ticks))).toEqual(new Set([EVERY])); // proposed on the leader's timer
    expect(ticks.at(-1)!.time).toBeGreaterThan(from + 9_800);
    await c.advance(100);
    const all = ticksOf(c, leader);
    for (const id of c.ids) {
      // The same ticks; the newest one's commit reaches followers with the next append or tick (lazyCommitNotify).
      const mine = ticksOf(c, id);
      expect(mine).toEqual(all.slice(0, mine.length));
      expect(all.length - mine.length).toBeLessThanOrEqual(1);
    }
    c.check();
    await c.stop();
  });

  it('ticks continue under the next leader after a leader change, and the cut-off leader’s never apply', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 23, stateMachine: () => new Ticking() });
    const first = await c.waitForLeader();
    await c.advance(1_000);
    const firstTerm = c.status(first).term;
    const others = c.ids.filter((id) => id !== first);
    const cut = c.now();
    c.partition([first], others);
    const second = await c.waitForLeader(3_000, others);
    const atChange = ticksOf(c, second).length;
    await c.advance(2_000);
    const secondTerm = c.status(second).term;
    expect(secondTerm).toBeGreaterThan(firstTerm);
    const later = ticksOf(c, second).slice(atChange);
    expect(later.length).toBeGreaterThanOrEqual(19);
    expect(later.every((t) => t.term === secondTerm)).toBe(true);

    c.heal();
    await c.advance(1_000);
    // The old leader proposed ticks while cut off (they never committed); now it holds the new leader's.
    const everywhere = ticksOf(c, second);
    for (const id of c.ids) expect(ticksOf(c, id)).toEqual(everywhere);
    expect(new Set(everywhere.map((t) => t.term))).toEqual(new Set([firstTerm, secondTerm]));
    expect(everywhere.filter((t) => t.term === firstTerm && t.time > cut)).toEqual([]);
    expect(new Set(gapsWithinTerms(everywhere))).toEqual(new Set([EVERY]));
    expect(ticksOf(c, second)).toContainEqual(await c.query('last', []));
    c.check();
    await c.stop();
  });
});
