import { ReadNotConfirmedError, seededRandom, type NodeId, type ReadConsistency } from '@raftline/core';
import {
  HistoryRecorder,
  checkLinearizability,
  kvModel,
  type KvInput,
  type KvOutput,
  type SimCluster,
} from '../src/index';
import { kvClientLoop } from '../src/sim/workload';
import { cluster, converge, expectLinearizable, put } from './support/sim';

jest.setTimeout(120_000);

type History = HistoryRecorder<KvInput, KvOutput>;

/** One read of key k at node `at` (no retry elsewhere), recorded in history; undefined when it was not confirmed. */
async function readAt(
  c: SimCluster,
  history: History,
  at: NodeId,
  consistency: ReadConsistency,
  timeoutMs = 300,
): Promise<KvOutput | undefined> {
  const handle = history.invoke(`reader@${at}`, { op: 'get', key: 'k' }, c.now());
  try {
    const value = (await c.query('read', ['k'], {
      consistency,
      via: at,
      retry: false,
      timeoutMs,
    })) as KvOutput;
    history.complete(handle, value, c.now());
    return value;
  } catch (err) {
    if (!(err instanceof ReadNotConfirmedError)) throw err;
    return undefined; // nothing was read: it stays pending in the history, free to be left out
  }
}

/** A put through the client path, recorded in history. */
async function write(c: SimCluster, history: History, value: string): Promise<void> {
  const handle = history.invoke('writer', { op: 'put', key: 'k', value }, c.now());
  await c.client('writer').propose(put('k', value));
  history.complete(handle, null, c.now());
}

describe('SimCluster - reads (thesis §6.4)', () => {
  it.each([
    ['linearizable', false],
    ['lease', true],
  ] as const)('%s reads are linearizable under partitions and crashes', async (consistency, leaseReads) => {
    const c = await cluster({ nodes: 5, seed: consistency === 'lease' ? 52 : 51, node: { leaseReads } });
    const rng = seededRandom(consistency === 'lease' ? 152 : 151);
    const history = new HistoryRecorder<KvInput, KvOutput>();
    const stats = { invoked: 0, completed: 0, unknown: 0 };
    let stop = false;
    const workload = { keys: 1, opTimeoutMs: 1000, thinkMs: 10, reads: [consistency] };
    const clients = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'].map((name) =>
      kvClientLoop(c, name, rng.fork(), history, workload, stats, () => stop),
    );
    // The dangerous moments: a leader cut off (alone or with one follower) while the rest elect anew.
    for (let step = 0; step < 40; step++) {
      const roll = rng.nextInt(10);
      const leader = c.leader(c.ids);
      if (roll < 5 && leader) {
        const buddy = rng.nextInt(2) === 0 ? c.ids.find((id) => id !== leader)! : leader;
        c.partition(
          [leader, buddy],
          c.ids.filter((id) => id !== leader && id !== buddy),
        );
      } else if (roll < 7) {
        const cut = c.ids.filter(() => rng.nextInt(2) === 0);
        c.partition(
          cut,
          c.ids.filter((id) => !cut.includes(id)),
        );
      } else if (roll < 8 && leader) {
        c.crash(leader);
      } else {
        c.heal();
        for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
      }
      await c.advance(200 + rng.nextInt(500));
      c.check();
    }
    stop = true;
    await converge(c, 'end');
    await Promise.all(clients);
    const reads = history.history().filter((op) => op.input.op === 'get' && op.return !== undefined);
    expect(reads.length).toBeGreaterThan(300);
    expect(c.leaderHistory().size).toBeGreaterThan(5);
    expectLinearizable(history.history());
  });

  it.each(['linearizable', 'lease'] as const)(
    'a leader cut off from the majority never answers a %s read with stale data',
    async (consistency) => {
      // Cut off at eight different moments of the old leader's check-quorum and heartbeat cycles.
      for (let phase = 0; phase < 8; phase++) {
        const c = await cluster({ nodes: 5, seed: 53 + phase, node: { leaseReads: true } });
        const history = new HistoryRecorder<KvInput, KvOutput>();
        const old = await c.waitForLeader();
        await write(c, history, 'old');
        await c.advance(100 + phase * 13);
        const buddy = c.ids.find((id) => id !== old)!;
        const majority = c.ids.filter((id) => id !== old && id !== buddy);
        c.partition([old, buddy], majority);
        // The minority keeps being asked while the majority elects a leader and overwrites k.
        const answers: { at: NodeId; value: KvOutput; invoked: number }[] = [];
        let asked = 0;
        let newAckedAt = Infinity;
        const asking = (async () => {
          while (c.now() < newAckedAt + 500) {
            for (const at of [old, buddy]) {
              const invoked = c.now();
              const value = await readAt(c, history, at, consistency, 100);
              if (value !== undefined) answers.push({ at, value, invoked });
              if (invoked > newAckedAt) asked++;
            }
            await c.sleep(5);
          }
        })();
        await c.waitForLeader(3000, majority);
        await write(c, history, 'new');
        newAckedAt = c.now();
        await asking;
        // Once 'new' was acknowledged the minority answered nothing (it cannot confirm); the checker agrees.
        expect(asked).toBeGreaterThan(5);
        expect(answers.filter((a) => a.invoked > newAckedAt)).toEqual([]);
        expectLinearizable(history.history());
        expect(c.status(old).role).not.toBe('leader'); // check-quorum deposed it meanwhile
        // Healed, the old leader answers with the new value.
        c.heal();
        await c.advance(1000);
        expect(await readAt(c, history, old, consistency, 2000)).toBe('new');
        c.check();
        await c.stop();
      }
    },
  );

  it('the control: a stale read at the cut-off leader returns old data, and the checker rejects the history', async () => {
    const c = await cluster({ nodes: 5, seed: 53, node: { leaseReads: true } });
    const history = new HistoryRecorder<KvInput, KvOutput>();
    const old = await c.waitForLeader();
    await write(c, history, 'old');
    await c.advance(100);
    const majority = c.ids.filter((id) => id !== old);
    c.partition([old], majority);
    await c.waitForLeader(3000, majority);
    await write(c, history, 'new');
    await c.advance(1); // strictly after the write returned
    expect(await readAt(c, history, old, 'stale')).toBe('old');
    const result = checkLinearizability(history.history(), kvModel);
    expect(result.ok).toBe(false);
  });

  it('with leaseReads on, a lease read at the leader needs no round trip; a linearizable one does', async () => {
    const c = await cluster({ nodes: 3, seed: 54, node: { leaseReads: true }, latencyMs: [5, 5] });
    const leader = await c.waitForLeader();
    await c.propose(put('k', 'v'));
    await c.advance(200);
    const timed = async (consistency: ReadConsistency, via: NodeId) => {
      const start = c.now();
      expect(await c.query('read', ['k'], { consistency, via, retry: false })).toBe('v');
      return c.now() - start;
    };
    expect(await timed('lease', leader)).toBeLessThan(10);
    expect(await timed('linearizable', leader)).toBeGreaterThanOrEqual(10); // a heartbeat round: 2 × 5 ms
    const follower = c.ids.find((id) => id !== leader)!;
    expect(await timed('linearizable', follower)).toBeGreaterThanOrEqual(10); // forwarded to the leader
    c.check();
  });
});
