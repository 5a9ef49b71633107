import { JobNotFoundError, StaleTokenError, isRefusal, throwIfRefused } from '../src/index';
import { Harness } from './support/harness';

/** A queue with one job, claimed by w1 at time 0 for 100 ms. */
function claimedOnce() {
  const h = new Harness().at(0);
  const id = h.cmd.enqueue('q', 'work', { maxAttempts: 5 });
  const [a] = h.cmd.claim('q', 'w1', { leaseMs: 100 });
  return { h, id, a: a! };
}

describe('task queue - fencing tokens', () => {
  it('a stale fencing token never completes a job', () => {
    const { h, id, a } = claimedOnce();
    h.at(100); // w1's lease has ended; w2 takes the job
    const [b] = h.cmd.claim('q', 'w2', { leaseMs: 100 });
    expect(b!.token).toBeGreaterThan(a.token);
    expect(h.cmd.ack(id, a.token, 'from w1')).toEqual({
      ok: false,
      error: 'StaleTokenError',
      jobId: id,
      state: 'leased',
      message: `token ${a.token} of job ${id} is not its current lease: the job is leased under token ${b!.token}`,
    });
    expect(h.cmd.nack(id, a.token, { error: 'w1 gives up' })).toMatchObject({
      ok: false,
      error: 'StaleTokenError',
    });
    expect(h.cmd.extend(id, a.token, 1000)).toMatchObject({ ok: false, error: 'StaleTokenError' });
    expect(h.q.getJob(id)).toMatchObject({ state: 'leased', lease: { workerId: 'w2', expiresAt: 200 } });
    expect(h.cmd.ack(id, b!.token, 'from w2')).toEqual({ ok: true, jobId: id, at: 100 });
    expect(h.q.getJob(id)).toMatchObject({ state: 'done', result: 'from w2', attempts: 2 });
  });

  it('an ack after the lease expired is refused, even when nobody claimed the job since', () => {
    const { h, id, a } = claimedOnce();
    h.at(99);
    expect(h.cmd.extend(id, a.token, 100)).toEqual({ ok: true, jobId: id, leaseExpiresAt: 199, at: 99 });
    h.at(199);
    expect(h.cmd.ack(id, a.token)).toMatchObject({ ok: false, error: 'StaleTokenError', state: 'ready' });
    expect(h.q.getJob(id)).toMatchObject({
      state: 'ready',
      attempts: 1,
      lastError: expect.stringMatching(/expired/),
    });
  });

  it('a job is completed at most once: a second ack under the same token is refused', () => {
    const { h, id, a } = claimedOnce();
    expect(h.cmd.ack(id, a.token, 1)).toMatchObject({ ok: true });
    expect(h.cmd.ack(id, a.token, 2)).toMatchObject({ ok: false, error: 'StaleTokenError', state: 'done' });
    expect(h.cmd.ackMany([{ jobId: id, token: a.token }])).toEqual([
      expect.objectContaining({ ok: false, state: 'done' }),
    ]);
    expect(h.q.getJob(id)).toMatchObject({ state: 'done', result: 1 });
  });

  it('only the current token extends a lease, and extending never changes the token', () => {
    const { h, id, a } = claimedOnce();
    expect(h.cmd.extend(id, a.token + 1, 500)).toMatchObject({ ok: false, error: 'StaleTokenError' });
    h.at(50);
    expect(h.cmd.extend(id, a.token, 500)).toMatchObject({ ok: true, leaseExpiresAt: 550 });
    h.at(300);
    h.cmd.tick();
    expect(h.q.getJob(id)).toMatchObject({ state: 'leased', lease: { token: a.token, expiresAt: 550 } });
    expect(h.cmd.claim('q', 'w2')).toEqual([]);
  });

  it('tokens of one job strictly increase from claim to claim', () => {
    const h = new Harness();
    const id = h.cmd.enqueue('q', 'x', { maxAttempts: 10 });
    const tokens: number[] = [];
    for (let k = 0; k < 6; k++) {
      h.enqueueNoise();
      const [job] = h.cmd.claim('q', `w${k}`, { leaseMs: 10 });
      tokens.push(job!.token);
      h.at(h.time + 10);
    }
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(h.q.getJob(id)).toMatchObject({ attempts: 6 });
  });

  it('an unknown job is refused with JobNotFoundError', () => {
    const h = new Harness();
    expect(h.cmd.ack('42', 1)).toEqual({
      ok: false,
      error: 'JobNotFoundError',
      jobId: '42',
      state: null,
      message: 'job 42 does not exist (never enqueued, or pruned or purged)',
    });
  });

  it('ackMany answers each item as ack would, in order', () => {
    const h = new Harness();
    h.cmd.enqueueMany('q', [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    const [x, y, z] = h.cmd.claim('q', 'w', { max: 3 });
    const answers = h.cmd.ackMany([
      { jobId: x!.id, token: x!.token, result: 'x' },
      { jobId: y!.id, token: y!.token + 1 },
      { jobId: z!.id, token: z!.token },
      { jobId: x!.id, token: x!.token },
    ]);
    expect(answers.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
      'ok',
      'StaleTokenError',
      'ok',
      'StaleTokenError',
    ]);
    expect(h.q.stats('q')).toMatchObject({ leased: 1, done: 2 });
  });

  it('extendMany extends each current lease and refuses the others, in order', () => {
    const h = new Harness().at(0);
    h.cmd.enqueueMany('q', [{ payload: 1 }, { payload: 2 }]);
    const [x, y] = h.cmd.claim('q', 'w', { max: 2, leaseMs: 100 });
    h.at(50);
    const answers = h.cmd.extendMany(
      [
        { jobId: x!.id, token: x!.token },
        { jobId: y!.id, token: y!.token - 1 },
      ],
      300,
    );
    expect(answers).toEqual([
      { ok: true, jobId: x!.id, leaseExpiresAt: 350, at: 50 },
      expect.objectContaining({ ok: false, error: 'StaleTokenError' }),
    ]);
    h.at(100); // y's lease ends, x's goes on
    expect(h.cmd.claim('q', 'w2', { max: 2 })).toEqual([expect.objectContaining({ id: y!.id, attempt: 2 })]);
  });

  it('a released job is ready at once, its attempt not counted, and the released token is stale', () => {
    const h = new Harness();
    const id = h.cmd.enqueue('q', 'x', { maxAttempts: 1 });
    const [a] = h.cmd.claim('q', 'w1');
    expect(h.cmd.release(id, a!.token)).toEqual({ ok: true, jobId: id, at: 0 });
    expect(h.cmd.ack(id, a!.token)).toMatchObject({ ok: false, error: 'StaleTokenError', state: 'ready' });
    const [b] = h.cmd.claim('q', 'w2');
    expect(b).toMatchObject({ id, attempt: 1 });
    expect(b!.token).toBeGreaterThan(a!.token);
    expect(h.cmd.release(id, a!.token)).toMatchObject({ ok: false, error: 'StaleTokenError' });
  });

  it('throwIfRefused turns a refusal into the named error class and passes an answer through', () => {
    const { h, id, a } = claimedOnce();
    const refused = h.cmd.ack(id, a.token + 7);
    expect(isRefusal(refused)).toBe(true);
    expect(() => throwIfRefused(refused)).toThrow(StaleTokenError);
    let caught: unknown;
    try {
      throwIfRefused(h.cmd.ack('77', 1));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(JobNotFoundError);
    expect(caught).toMatchObject({ name: 'JobNotFoundError', jobId: '77', code: 'JobNotFoundError' });
    expect(throwIfRefused(h.cmd.ack(id, a.token))).toEqual({ ok: true, jobId: id, at: 0 });
  });
});
