import { MembershipChangeError, seededRandom, type NodeId } from '@raftline/core';
import { HistoryRecorder, type KvInput, type KvOutput, type SimCluster } from '../src/index';
import { kvClientLoop } from '../src/sim/workload';
import { cluster, converge, dump, expectLinearizable, firstIndex, put, until } from './support/sim';

jest.setTimeout(120_000);

const sorted = (ids: readonly NodeId[]) => [...ids].sort();

/** Every running member's view of the voters, sorted. */
function voterViews(c: SimCluster): Record<NodeId, NodeId[]> {
  return Object.fromEntries(c.runningIds().map((id) => [id, sorted(c.status(id).members.voters)]));
}

describe('SimCluster - §6 membership changes', () => {
  it.each([
    ['from the log', 0],
    ['by snapshot', 20],
  ])('a node added %s knows the whole configuration, and cannot lead alone', async (_how, snapshotEvery) => {
    const c = await cluster({ nodes: 3, seed: 31, snapshotEvery, snapshotTrailing: 0 });
    await c.waitForLeader();
    for (let k = 0; k < 60; k++) await c.client('w').propose(put(`k${k % 5}`, `v${k}`));
    const members = await c.addNode('n4');
    expect(sorted(members.voters)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(c.ids).toEqual(['n1', 'n2', 'n3', 'n4']);
    const leader = c.leader()!;
    await until(
      c,
      () => c.ids.every((id) => c.status(id).appliedIndex === c.status(leader).commitIndex),
      2000,
    );
    expect(dump(c, 'n4').get('k4')).toBe('v59');
    expect(c.status('n4').snapshotIndex > 0).toBe(snapshotEvery > 0);
    for (const [id, voters] of Object.entries(voterViews(c))) expect([id, voters]).toEqual([id, c.ids]);
    // Cut off, it must not win an election: it needs two of n1, n2, n3 as well.
    c.disconnect('n4');
    await c.advance(3000);
    expect(c.status('n4').role).not.toBe('leader');
    c.check();
  });

  it('a node added to a cluster with a long, compacted log catches up by snapshot', async () => {
    const c = await cluster({ nodes: 3, seed: 32, snapshotEvery: 50, snapshotTrailing: 10 });
    await c.waitForLeader();
    const filler = 'x'.repeat(200); // a state of several KiB, sent in several 1 KiB chunks
    await Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        for (let k = 0; k < 400; k++) await c.client(name).propose(put(`${name}${k % 8}`, `${k}${filler}`));
      }),
    );
    const leader = c.leader()!;
    expect(firstIndex(c, leader)).toBeGreaterThan(1000); // the early log is gone everywhere
    const chunksBefore = c.networkStats().byType['snapshot-chunk'].count;
    await c.addNode('n4');
    await until(c, () => c.status('n4').appliedIndex >= c.status(leader).commitIndex, 2000);
    expect(dump(c, 'n4')).toEqual(dump(c, leader));
    expect(c.status('n4').snapshotIndex).toBeGreaterThan(1000);
    expect(c.networkStats().byType['snapshot-chunk'].count - chunksBefore).toBeGreaterThan(3);
    // It applied only what followed the snapshot.
    expect(Math.min(...c.applied('n4').keys())).toBeGreaterThan(c.status('n4').snapshotIndex - 50);
    c.check();
  });

  it('a learner receives the log but counts toward no quorum, until promoted', async () => {
    const c = await cluster({ nodes: 3, seed: 36 });
    const leader = await c.waitForLeader();
    const members = await c.addLearner('n4');
    expect(members.learners).toEqual(['n4']);
    expect(c.ids).toEqual(['n1', 'n2', 'n3', 'n4']);
    await c.propose(put('k', 'a'));
    await until(c, () => dump(c, 'n4').get('k') === 'a', 1000);
    const [f1, f2] = c.ids.filter((id) => id !== leader && id !== 'n4') as [NodeId, NodeId];
    c.crash(f1);
    c.crash(f2);
    const stuck = c.submit(leader, put('k', 'b')); // the leader and the learner are no majority
    await c.advance(1000);
    expect(c.appliedBy(stuck.index).nodes).toEqual([]);
    await c.restart(f1);
    await c.restart(f2);
    await c.waitForLeader();
    expect(sorted((await c.promote('n4')).voters)).toEqual(['n1', 'n2', 'n3', 'n4']);
    c.crash(f1); // three of four voters remain: enough
    expect(await c.propose(put('k', 'c'))).toBeNull();
    c.check();
  });

  it('removing the leader: it steps down once the removal commits, and the others go on without it', async () => {
    const c = await cluster({ nodes: 3, seed: 33 });
    const old = await c.waitForLeader();
    await c.propose(put('k', 'before'));
    const members = await c.removeNode(old);
    expect(members.voters).not.toContain(old);
    expect(c.ids).not.toContain(old);
    const next = await c.waitForLeader(3000, c.ids);
    expect(next).not.toBe(old);
    expect(await c.propose(put('k', 'after'))).toBeNull();
    await c.advance(3000);
    expect(c.status(old).role).not.toBe('leader');
    expect(c.leaders()).toEqual([next]);
    // The removed node gets nothing new.
    expect(c.status(old).appliedIndex).toBeLessThan(c.status(next).appliedIndex);
    // Down to one voter, which cannot be removed.
    await c.removeNode(c.ids.find((id) => id !== next)!);
    expect(c.ids).toEqual([next]);
    await expect(c.removeNode(next)).rejects.toBeInstanceOf(MembershipChangeError);
    c.check();
  });

  it.each([
    ['with pre-vote', true],
    ['without pre-vote', false],
  ])(
    'a removed node cut off before it learns of its removal cannot disrupt the cluster when it rejoins (%s)',
    async (_name, preVote) => {
      const c = await cluster({ nodes: 3, seed: 34, node: { preVote } });
      const leader = await c.waitForLeader();
      const gone = c.ids.find((id) => id !== leader)!;
      c.disconnect(gone);
      await c.removeNode(gone);
      expect(c.status(gone).members.voters).toContain(gone); // it never heard
      await c.advance(3000); // it campaigns alone; without pre-vote its term climbs
      if (!preVote) expect(c.status(gone).term).toBeGreaterThan(c.status(leader).term);
      const term = c.status(leader).term;
      c.connect(gone);
      for (let t = 0; t < 30; t++) {
        await c.advance(100);
        expect(c.leader(c.ids)).toBe(leader);
        expect(c.status(leader).term).toBe(term);
      }
      expect(await c.propose(put('k', 'undisturbed'))).toBeNull();
      c.check();
    },
  );

  it('membership changes during partitions and crashes: one leader per term, a linearizable history', async () => {
    const c = await cluster({ nodes: 5, seed: 35, snapshotEvery: 30 });
    const rng = seededRandom(135);
    const history = new HistoryRecorder<KvInput, KvOutput>();
    const stats = { invoked: 0, completed: 0, unknown: 0 };
    let stop = false;
    const workload = { keys: 3, opTimeoutMs: 1500, thinkMs: 20, reads: ['log', 'linearizable'] as const };
    const clients = ['c1', 'c2', 'c3'].map((name) =>
      kvClientLoop(c, name, rng.fork(), history, workload, stats, () => stop),
    );
    let nextId = 6;
    let changes = 0;
    for (let round = 0; round < 24; round++) {
      const voters = c.members().voters;
      const leader = c.leader(c.ids);
      const change = (
        voters.length <= 4 || round % 3 === 0
          ? c.addNode(`n${nextId++}`, { timeoutMs: 2000 })
          : c.removeNode(round % 4 === 1 && leader ? leader : voters[rng.nextInt(voters.length)]!, {
              timeoutMs: 2000,
            })
      ).then(
        () => true,
        () => false, // timed out under the faults: it may still take effect
      );
      // Faults while the change runs: a partition, or a crashed minority.
      const ids = c.ids;
      if (round % 2 === 0) {
        const cut = ids.filter(() => rng.nextInt(3) === 0);
        c.partition(
          cut,
          ids.filter((id) => !cut.includes(id)),
        );
      } else {
        const victim = ids[rng.nextInt(ids.length)]!;
        if (c.runningIds().length > ids.length - Math.floor((ids.length - 1) / 2)) c.crash(victim);
      }
      await c.advance(150 + rng.nextInt(300));
      c.check();
      c.heal();
      for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
      if (await change) changes++;
      c.check();
    }
    stop = true;
    await converge(c, 'end');
    await Promise.all(clients);
    expect(changes).toBeGreaterThan(12);
    expect(c.ids).not.toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(c.leaderHistory().size).toBeGreaterThan(5);
    const terms = [...c.leaderHistory().keys()];
    expect(new Set(terms).size).toBe(terms.length); // one leader per term (check() also verifies it)
    expect(stats.completed).toBeGreaterThan(200);
    expectLinearizable(history.history());
  });
});
