import { seededRandom, type NodeId } from '@raftline/core';
import { KvMachine, SimCluster } from '../src/index';

jest.setTimeout(120_000);

const put = (key: string, value: string) => ({ name: 'put', args: [key, value] });

function lastTerm(c: SimCluster, id: NodeId): number {
  const { log } = c.stores(id);
  const last = log.lastIndexSync();
  return last === 0 ? 0 : log.entriesSync(last, last + 1)[0]!.term;
}

/** Advances in steps of stepMs until pred holds. @throws after maxMs */
async function until(c: SimCluster, pred: () => boolean, maxMs: number, stepMs = 1): Promise<void> {
  for (let t = 0; !pred(); t += stepMs) {
    if (t >= maxMs) throw new Error(`condition not reached within ${maxMs} ms`);
    await c.advance(stepMs);
  }
}

/** Heals everything, restarts every node, and waits until a fresh command is applied everywhere. */
async function converge(c: SimCluster, value: string): Promise<void> {
  c.heal();
  c.setUnreliable(false);
  for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
  await c.propose(put('final', value), { timeoutMs: 10_000 });
  await c.advance(1000);
  const reference = (c.machine(c.ids[0]!) as KvMachine).dump();
  expect(reference.get('final')).toBe(value);
  for (const id of c.ids) expect((c.machine(id) as KvMachine).dump()).toEqual(reference);
  c.check();
}

describe('SimCluster - churn', () => {
  it.each([
    ['reliable', false],
    ['unreliable', true],
  ])('stays safe and converges with clients running through %s churn', async (_name, unreliable) => {
    const c = await SimCluster.create({ nodes: 5, seed: unreliable ? 31 : 30 });
    const rng = seededRandom(unreliable ? 131 : 130);
    if (unreliable) c.setUnreliable({ dropRate: 0.1, delayMs: [0, 25], duplicateRate: 0.05, reorder: true });
    let stop = false;
    let done = 0;
    const clients = [1, 2, 3].map(async (k) => {
      const client = c.client(`c${k}`);
      for (let n = 0; !stop; n++) {
        await client.propose({ name: 'append', args: [`k${n % 3}`, `${k}.${n};`] }, { timeoutMs: 1500 }).then(
          () => done++,
          () => undefined, // outcome unknown: fine here
        );
      }
    });
    // Crash, restart, disconnect and reconnect random nodes, leaving a quorum up most of the time.
    const usable = () => c.ids.filter((id) => c.isRunning(id) && c.isConnected(id));
    for (let step = 0; step < 100; step++) {
      const id = c.ids[rng.nextInt(c.ids.length)]!;
      const roll = rng.nextInt(100);
      if (roll < 20 && usable().length > 3) c.crash(id);
      else if (roll < 50 && !c.isRunning(id)) await c.restart(id);
      else if (roll < 65 && usable().length > 3) c.disconnect(id);
      else if (roll < 95) c.connect(id);
      await c.advance(rng.nextInt(unreliable ? 150 : 100));
      c.check();
    }
    stop = true;
    await converge(c, 'end');
    await Promise.all(clients);
    expect(done).toBeGreaterThan(50);
    await c.stop();
  });
});

describe('SimCluster - §5.4.2 Figure 8: only entries of the current term commit by counting', () => {
  it('does not lose a re-replicated entry of an old term when its leader crashes right after', async () => {
    // One entry per append, so a follower can acknowledge an old entry before the new leader's noop.
    const c = await SimCluster.create({
      nodes: 5,
      seed: 8,
      latencyMs: [2, 2],
      node: { maxEntriesPerMessage: 1 },
    });
    const s1 = await c.waitForLeader();
    await c.propose(put('k', 'a'));
    await c.advance(200);
    // (a) s1 replicates X to s2 only, then crashes.
    const s2 = c.ids.find((id) => id !== s1)!;
    const rest = c.ids.filter((id) => id !== s1 && id !== s2);
    c.partition([s1, s2], rest);
    const x = c.submit(s1, put('k', 'X'));
    expect(x.isLeader).toBe(true);
    await c.advance(20);
    expect(c.status(s2).lastIndex).toBe(x.index);
    c.crash(s1);
    // (b) s5 wins a later term without X and is cut off before its noop reaches anyone.
    c.partition([s2], rest);
    let s5: NodeId | undefined;
    await until(c, () => (s5 = c.leader(rest)) !== undefined, 3000);
    c.disconnect(s5!);
    c.crash(s5!);
    await c.advance(20); // let its appends in flight arrive at the cut (and be dropped) before anything heals
    expect(lastTerm(c, s5!)).toBeGreaterThan(x.term);
    for (const id of rest) if (id !== s5) expect(c.status(id).lastIndex).toBe(x.index - 1);
    // (c) s1 returns and s1 or s2 wins a still later term, re-replicating X (one entry per append).
    await c.restart(s1);
    c.heal();
    let s3: NodeId | undefined;
    await until(c, () => (s3 = c.leader()) !== undefined, 3000);
    expect([s1, s2]).toContain(s3);
    const t3 = c.status(s3!).term;
    await until(c, () => c.status(s3!).commitIndex >= x.index, 3000);
    c.check(); // records X as committed, as of term t3
    // (d) Every node with an entry of term t3 crashes. Had X committed before an entry of t3 reached
    // a majority (the Figure 8 bug), s5 could now win with the others' votes and erase X.
    for (const id of c.runningIds()) {
      if (lastTerm(c, id) < t3) continue;
      c.disconnect(id); // and what it still has in flight is lost
      c.crash(id);
    }
    await c.restart(s5!);
    c.connect(s5!);
    await c.advance(3000);
    c.check();
    await converge(c, 'after');
    for (const id of c.ids) expect(c.applied(id).get(x.index)).toEqual(put('k', 'X'));
    await c.stop();
  });

  it.each([
    ['reliable', false],
    ['unreliable', true],
  ])(
    'stays safe under a %s network while leaders crash right after taking commands',
    async (_name, unreliable) => {
      const c = await SimCluster.create({
        nodes: 5,
        seed: unreliable ? 41 : 40,
        node: { maxEntriesPerMessage: 2 },
      });
      const rng = seededRandom(unreliable ? 141 : 140);
      if (unreliable) c.setUnreliable({ dropRate: 0.1, delayMs: [0, 20], reorder: true });
      for (let it = 0; it < 400; it++) {
        let leader: NodeId | undefined;
        for (const id of c.runningIds()) if (c.submit(id, put('k', `${it}`)).isLeader) leader = id;
        await c.advance(rng.nextInt(10) === 0 ? rng.nextInt(150) : rng.nextInt(13));
        if (leader !== undefined && c.isRunning(leader) && rng.nextInt(3) > 0) c.crash(leader);
        const down = c.ids.filter((id) => !c.isRunning(id));
        if (down.length >= 3 || (down.length > 0 && rng.nextInt(4) === 0))
          await c.restart(down[rng.nextInt(down.length)]!);
        c.check();
      }
      expect(c.leaderHistory().size).toBeGreaterThan(10);
      await converge(c, 'end');
      await c.stop();
    },
  );
});
