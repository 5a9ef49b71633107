// The task queue's guarantees, model-checked on SimCluster across a seed
// sweep: TASK_QUEUE_SEEDS seeds (default 40; npm run test:sweep runs 400),
// from TASK_QUEUE_FIRST_SEED (default 1), 3 and 5 nodes alternating.
import { checkHistory, emptyHistory, resultOf, type History } from './support/checker';
import { runTaskQueueSeed, type RunResult } from './support/workload';
import type { JobInfo } from '../src/index';

const SEEDS = Number(process.env.TASK_QUEUE_SEEDS ?? 40);
const FIRST = Number(process.env.TASK_QUEUE_FIRST_SEED ?? 1);

describe('task queue on SimCluster - guarantees under faults', () => {
  it(`no job is lost, none is completed twice, one unexpired lease per job and only its token accepted: ${SEEDS} seeds`, async () => {
    const failures: RunResult[] = [];
    const total = { enqueued: 0, acked: 0, stale: 0, unknown: 0, reclaimed: 0, dead: 0, snapshotSeeds: 0 };
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = await runTaskQueueSeed(seed, { nodes: seed % 2 === 0 ? 5 : 3 });
      if (r.problems.length > 0) failures.push(r);
      for (const k of ['enqueued', 'acked', 'stale', 'unknown', 'reclaimed', 'dead'] as const)
        total[k] += r.stats[k];
      if (r.stats.snapshotEvery > 0) total.snapshotSeeds++;
    }
    const report = failures.map(
      (r) =>
        `seed ${r.seed}: ${r.problems.slice(0, 5).join('\n  ')}\n` +
        `  replay: TASK_QUEUE_FIRST_SEED=${r.seed} TASK_QUEUE_SEEDS=1 npx jest test/sweep.spec.ts`,
    );
    expect(report).toEqual([]);
    // The workload really does what the claim needs: stale workers, lost answers, re-claims, dead letters, snapshots.
    expect(total.enqueued).toBeGreaterThan(50 * SEEDS);
    expect(total.acked).toBeGreaterThan(40 * SEEDS);
    expect(total.stale).toBeGreaterThan(5 * SEEDS);
    expect(total.reclaimed).toBeGreaterThan(10 * SEEDS);
    expect(total.unknown).toBeGreaterThan(0);
    expect(total.dead).toBeGreaterThan(0);
    expect(total.snapshotSeeds).toBeGreaterThan(0);
  }, 900_000);

  it('replays a seed exactly', async () => {
    const a = await runTaskQueueSeed(7);
    const b = await runTaskQueueSeed(7);
    expect(b.events).toEqual(a.events);
    expect(b.stats).toEqual(a.stats);
    expect((await runTaskQueueSeed(8)).events).not.toEqual(a.events);
  }, 120_000);
});

/** A job as the final state holds it. */
function job(id: string, state: JobInfo['state'], patch: Partial<JobInfo> = {}): JobInfo {
  return {
    id,
    queue: 'q',
    state,
    payload: null,
    priority: 0,
    attempts: 1,
    maxAttempts: 3,
    backoff: null,
    dedupKey: null,
    enqueuedAt: 0,
    readyAt: 0,
    deadline: null,
    lease: null,
    lastError: null,
    result: null,
    finishedAt: null,
    deadReason: null,
    ...patch,
  };
}

/** Job 1, claimed by w1 under token 10 over [0, 100) and acked at 50: a clean history. */
function clean(): { h: History; final: Map<string, JobInfo | null> } {
  const h = emptyHistory();
  h.enqueued.add('1');
  h.claims.push({ jobId: '1', worker: 'w1', token: 10, attempt: 1, claimedAt: 0, expiresAt: 100 });
  h.acksSent.set('1:10', resultOf('1', 10));
  h.accepted.push({ kind: 'ack', jobId: '1', token: 10, at: 50 });
  return { h, final: new Map([['1', job('1', 'done', { result: resultOf('1', 10) })]]) };
}

describe('task queue - the model checker catches each violation', () => {
  it('passes a clean history', () => {
    const { h, final } = clean();
    expect(checkHistory(h, final, true)).toEqual([]);
  });

  it('a lost job', () => {
    const { h, final } = clean();
    h.enqueued.add('2');
    expect(checkHistory(h, final, false)).toEqual([
      'job 2: lost (enqueue answered 2, the queue does not hold it)',
    ]);
  });

  it('a job still waiting after the drain', () => {
    const { h } = clean();
    expect(checkHistory(h, new Map([['1', job('1', 'ready')]]), true)).toContain(
      'job 1: still ready after the drain',
    );
  });

  it('a job completed twice', () => {
    const { h, final } = clean();
    h.claims.push({ jobId: '1', worker: 'w2', token: 20, attempt: 2, claimedAt: 50, expiresAt: 150 });
    h.accepted.push({ kind: 'ack', jobId: '1', token: 20, at: 60 });
    final.set('1', job('1', 'done', { result: resultOf('1', 10), attempts: 2 }));
    expect(checkHistory(h, final, true)).toEqual(['job 1: completed 2 times (acks under tokens 10, 20)']);
  });

  it('two unexpired leases at once', () => {
    const { h, final } = clean();
    h.accepted.pop();
    h.claims.push({ jobId: '1', worker: 'w2', token: 20, attempt: 2, claimedAt: 80, expiresAt: 180 });
    final.set('1', job('1', 'ready', { attempts: 2 }));
    expect(checkHistory(h, final, false)).toEqual([
      "job 1: leased to w2 (token 20) at 80, while w1's lease (token 10) ran until 100",
    ]);
  });

  it('a call accepted under an expired or superseded token', () => {
    const { h, final } = clean();
    h.accepted.pop();
    h.accepted.push({ kind: 'extend', jobId: '1', token: 10, at: 120, expiresAt: 220 });
    h.claims.push({ jobId: '1', worker: 'w2', token: 20, attempt: 2, claimedAt: 110, expiresAt: 210 });
    final.set('1', job('1', 'leased', { attempts: 2 }));
    expect(checkHistory(h, final, false)).toEqual([
      "job 1: leased to w2 (token 20) at 110, while w1's lease (token 10) ran until 220",
      'job 1: extend under token 10 accepted at 120, when the lease had expired at 100',
      'job 1: extend under token 10 accepted at 120, after token 20 was handed to w2 at 110',
    ]);
  });

  it('a call accepted after the lease ended, and a completion nobody sent', () => {
    const { h, final } = clean();
    h.accepted.push({ kind: 'nack', jobId: '1', token: 10, at: 60 });
    final.set('1', job('1', 'done', { result: 'forged' }));
    expect(checkHistory(h, final, true)).toEqual([
      'job 1: nack under token 10 accepted at 60, after the lease ended by an accepted ack or nack',
      'job 1: acked under token 10, but done with result forged',
      'job 1: done with result forged, which no worker sent',
    ]);
  });

  it('a job claimed beyond its attempts', () => {
    const { h, final } = clean();
    final.set('1', job('1', 'done', { result: resultOf('1', 10), maxAttempts: 1, attempts: 0 }));
    h.claims.push({ jobId: '1', worker: 'w2', token: 5, attempt: 1, claimedAt: 0, expiresAt: 0 });
    expect(checkHistory(h, final, true)).toEqual([
      'job 1: claim under token 10 is attempt 1, after attempt 1',
      'job 1: claimed beyond its 1 attempts',
      'job 1: 2 claims seen, the job counts 0 attempts',
    ]);
  });

  it('forgives what a call of unknown outcome may have done to its lease', () => {
    const { h, final } = clean();
    h.accepted.pop();
    h.uncertain.add('1:10'); // say w1's ack got no answer: it may have ended the lease at any time
    h.claims.push({ jobId: '1', worker: 'w2', token: 20, attempt: 2, claimedAt: 60, expiresAt: 160 });
    h.acksSent.set('1:20', resultOf('1', 20));
    h.accepted.push({ kind: 'ack', jobId: '1', token: 20, at: 70 });
    final.set('1', job('1', 'done', { result: resultOf('1', 20), attempts: 2 }));
    expect(checkHistory(h, final, true)).toEqual([]);
  });
});
