import { backoffDelay } from '../src/store';
import { Harness } from './support/harness';

describe('task queue - expiry, retries and dead letters', () => {
  it('an expired lease returns the job to ready, the attempt counted', () => {
    const h = new Harness().at(0);
    const id = h.cmd.enqueue('q', 'x', { maxAttempts: 3 });
    h.cmd.claim('q', 'w1', { leaseMs: 100 });
    h.at(100);
    const [again] = h.cmd.claim('q', 'w2');
    expect(again).toMatchObject({ id, attempt: 2 });
    expect(h.q.getJob(id)).toMatchObject({ attempts: 2, lastError: expect.stringContaining('worker w1') });
  });

  it('expiry is decided by commands at replicated time: a lease stands until a command past its end', () => {
    const h = new Harness().at(0);
    const id = h.cmd.enqueue('q', 'x');
    h.cmd.claim('q', 'w1', { leaseMs: 100 });
    // No command applied since time 0: whatever time it is elsewhere, the lease stands.
    expect(h.q.getJob(id)).toMatchObject({ state: 'leased' });
    h.at(99);
    expect(h.cmd.tick()).toEqual({ at: 99, moved: 0 });
    expect(h.q.stats('q')).toMatchObject({ leased: 1, asOf: 99 });
    h.at(100);
    expect(h.cmd.tick()).toEqual({ at: 100, moved: 1 });
    expect(h.q.stats('q')).toMatchObject({ leased: 0, ready: 1, asOf: 100 });
  });

  it('a job out of attempts goes to the dead letters, which can be listed, retried and purged', () => {
    const h = new Harness().at(0);
    const id = h.cmd.enqueue('q', 'poison', { maxAttempts: 2 });
    const other = h.cmd.enqueue('q', 'poison too', { maxAttempts: 1 });
    const [first, second] = h.cmd.claim('q', 'w', { max: 2, leaseMs: 10 });
    expect(h.cmd.nack(id, first!.token, { error: 'boom' })).toEqual({
      ok: true,
      jobId: id,
      state: 'ready',
      readyAt: 0,
      at: 0,
    });
    h.at(10); // other's only lease expires: dead
    const [retry] = h.cmd.claim('q', 'w');
    expect(h.cmd.nack(id, retry!.token, { error: 'boom again' })).toMatchObject({
      state: 'dead',
      readyAt: null,
    });
    expect(second!.id).toBe(other);
    expect(h.q.stats('q')).toMatchObject({ dead: 2, ready: 0 });
    const dead = h.q.listJobs('q', 'dead').jobs;
    expect(dead.map((j) => [j.id, j.deadReason, j.lastError])).toEqual([
      [id, 'attempts', 'boom again'],
      [other, 'attempts', expect.stringMatching(/lease expired/)],
    ]);
    expect(h.cmd.retryDead('q', [id, '999'])).toEqual({ count: 1, skipped: ['999'] });
    expect(h.q.getJob(id)).toMatchObject({ state: 'ready', attempts: 0, deadReason: null, finishedAt: null });
    expect(h.cmd.purgeDead('q')).toEqual({ count: 1, skipped: [] });
    expect(h.q.getJob(other)).toBeNull();
    expect(h.cmd.claim('q', 'w')).toEqual([expect.objectContaining({ id, attempt: 1 })]);
  });

  it('a nack retries after retryInMs, else after the job backoff', () => {
    const h = new Harness().at(1000);
    const id = h.cmd.enqueue('q', 'x', { maxAttempts: 10, backoff: { type: 'fixed', delayMs: 50 } });
    let [job] = h.cmd.claim('q', 'w');
    expect(h.cmd.nack(id, job!.token)).toMatchObject({ state: 'delayed', readyAt: 1050 });
    expect(h.cmd.claim('q', 'w')).toEqual([]);
    h.at(1050);
    [job] = h.cmd.claim('q', 'w');
    expect(h.cmd.nack(id, job!.token, { retryInMs: 0 })).toMatchObject({ state: 'ready', readyAt: 1050 });
    [job] = h.cmd.claim('q', 'w');
    expect(h.cmd.nack(id, job!.token, { retryInMs: 7 })).toMatchObject({ state: 'delayed', readyAt: 1057 });
  });

  it('exponential backoff doubles from delayMs and stops at maxMs', () => {
    const b = { type: 'exponential', delayMs: 100, maxMs: 1000 } as const;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay({ type: 'fixed', delayMs: 30 }, 9)).toBe(30);
    expect(backoffDelay(null, 3)).toBe(0);
    expect(backoffDelay({ type: 'exponential', delayMs: 1 }, 1000)).toBe(365 * 24 * 60 * 60 * 1000);
  });

  it('a job not claimed by its deadline dies with reason ttl', () => {
    const h = new Harness().at(0);
    const waiting = h.cmd.enqueue('q', 'w', { ttlMs: 100 });
    const delayed = h.cmd.enqueue('q', 'd', { ttlMs: 100, delayMs: 50, priority: 1 });
    h.at(99);
    expect(h.q.getJob(delayed)).toMatchObject({ state: 'delayed', deadline: 100 });
    h.cmd.tick();
    expect(h.q.stats('q')).toMatchObject({ ready: 2 });
    h.at(100);
    expect(h.cmd.claim('q', 'w', { max: 2 })).toEqual([]);
    expect(h.q.listJobs('q', 'dead').jobs.map((j) => [j.id, j.deadReason])).toEqual([
      [waiting, 'ttl'],
      [delayed, 'ttl'],
    ]);
  });

  it('a lease held at the deadline runs to its end; a failure after the deadline is final', () => {
    const h = new Harness().at(0);
    const acked = h.cmd.enqueue('q', 'a', { ttlMs: 100 });
    const failed = h.cmd.enqueue('q', 'b', { ttlMs: 100, maxAttempts: 5 });
    const [a, b] = h.cmd.claim('q', 'w', { max: 2, leaseMs: 500 });
    h.at(300);
    expect(h.cmd.ack(acked, a!.token)).toMatchObject({ ok: true });
    expect(h.cmd.nack(failed, b!.token, { retryInMs: 0 })).toMatchObject({ ok: true, state: 'dead' });
    expect(h.q.getJob(failed)).toMatchObject({ deadReason: 'ttl', attempts: 1 });
  });

  it('a retry whose wait would pass the deadline is dead at once', () => {
    const h = new Harness().at(0);
    const id = h.cmd.enqueue('q', 'x', { ttlMs: 100, maxAttempts: 5 });
    const [job] = h.cmd.claim('q', 'w');
    expect(h.cmd.nack(id, job!.token, { retryInMs: 100 })).toMatchObject({ state: 'dead' });
  });
});
