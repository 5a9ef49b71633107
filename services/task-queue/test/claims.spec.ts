import { Harness } from './support/harness';

const ids = (jobs: readonly { id: string }[]): string[] => jobs.map((j) => j.id);

describe('task queue - enqueue and claim', () => {
  it('claims hand out ready jobs in priority order (lower first), then in enqueue order', () => {
    const h = new Harness();
    const a = h.cmd.enqueue('q', 'a', { priority: 5 });
    const b = h.cmd.enqueue('q', 'b');
    const c = h.cmd.enqueue('q', 'c', { priority: -1 });
    const d = h.cmd.enqueue('q', 'd');
    const e = h.cmd.enqueue('q', 'e', { priority: 5 });
    expect(ids(h.cmd.claim('q', 'w', { max: 10 }))).toEqual([c, b, d, a, e]);
    expect(h.cmd.claim('q', 'w', { max: 10 })).toEqual([]);
  });

  it('a claim leases at most max jobs, each until claim time + leaseMs, under the claim log index as token', () => {
    const h = new Harness();
    h.cmd.enqueueMany('q', [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    h.at(1000);
    const jobs = h.cmd.claim('q', 'w1', { leaseMs: 500, max: 2 });
    expect(jobs).toEqual([
      expect.objectContaining({
        payload: 1,
        token: h.index,
        attempt: 1,
        claimedAt: 1000,
        leaseExpiresAt: 1500,
      }),
      expect.objectContaining({
        payload: 2,
        token: h.index,
        attempt: 1,
        claimedAt: 1000,
        leaseExpiresAt: 1500,
      }),
    ]);
    expect(h.q.getJob(jobs[0]!.id)).toMatchObject({
      state: 'leased',
      lease: { workerId: 'w1', token: h.index, claimedAt: 1000, expiresAt: 1500 },
    });
    expect(h.q.stats('q')).toMatchObject({ ready: 1, leased: 2 });
  });

  it('a claim without options leases one job for 30 s', () => {
    const h = new Harness();
    h.cmd.enqueue('q', 'x');
    h.cmd.enqueue('q', 'y');
    expect(h.cmd.claim('q', 'w')).toEqual([
      expect.objectContaining({ payload: 'x', leaseExpiresAt: 30_000 }),
    ]);
  });

  it('a delayed job becomes ready at enqueue time + delayMs, not before', () => {
    const h = new Harness().at(100);
    const id = h.cmd.enqueue('q', 'later', { delayMs: 50 });
    expect(h.q.getJob(id)).toMatchObject({ state: 'delayed', readyAt: 150 });
    h.at(149);
    expect(h.cmd.claim('q', 'w')).toEqual([]);
    h.at(150);
    expect(ids(h.cmd.claim('q', 'w'))).toEqual([id]);
  });

  it('a job delayed past others still keeps its enqueue place once ready', () => {
    const h = new Harness();
    const first = h.cmd.enqueue('q', 1, { delayMs: 10 });
    const second = h.cmd.enqueue('q', 2);
    h.at(20);
    expect(ids(h.cmd.claim('q', 'w', { max: 2 }))).toEqual([first, second]);
  });

  it('a dedup key returns the first job while it lives, and a new job once it is done', () => {
    const h = new Harness();
    const first = h.cmd.enqueue('q', 'a', { dedupKey: 'k' });
    expect(h.cmd.enqueue('q', 'b', { dedupKey: 'k' })).toBe(first);
    expect(h.cmd.enqueue('other', 'c', { dedupKey: 'k' })).not.toBe(first); // keys are per queue
    const [job] = h.cmd.claim('q', 'w');
    expect(h.cmd.enqueue('q', 'd', { dedupKey: 'k' })).toBe(first); // leased still lives
    h.cmd.ack(first, job!.token);
    const next = h.cmd.enqueue('q', 'e', { dedupKey: 'k' });
    expect(next).not.toBe(first);
    expect(h.q.stats('q')).toMatchObject({ ready: 1, done: 1 });
  });

  it('a paused queue hands out nothing, while enqueues and held leases go on; resume lets claims take again', () => {
    const h = new Harness();
    h.cmd.enqueue('q', 1);
    h.cmd.enqueue('q', 2);
    const [held] = h.cmd.claim('q', 'w');
    expect(h.cmd.pause('q')).toBe(true);
    expect(h.cmd.pause('q')).toBe(false);
    h.cmd.enqueue('q', 3);
    expect(h.cmd.claim('q', 'w', { max: 5 })).toEqual([]);
    expect(h.cmd.ack(held!.id, held!.token)).toMatchObject({ ok: true });
    expect(h.q.stats('q')).toMatchObject({ paused: true, ready: 2, done: 1 });
    expect(h.cmd.resume('q')).toBe(true);
    expect(h.cmd.claim('q', 'w', { max: 5 })).toHaveLength(2);
  });

  it('purge removes ready and delayed jobs but lets leased ones finish', () => {
    const h = new Harness();
    h.cmd.enqueueMany('q', [{ payload: 1 }, { payload: 2 }, { payload: 3, options: { delayMs: 100 } }]);
    const [held] = h.cmd.claim('q', 'w');
    expect(h.cmd.purge('q')).toEqual({ count: 2, skipped: [] });
    expect(h.q.stats('q')).toMatchObject({ ready: 0, delayed: 0, leased: 1 });
    expect(h.cmd.ack(held!.id, held!.token)).toMatchObject({ ok: true });
    h.at(200);
    expect(h.cmd.claim('q', 'w')).toEqual([]);
  });

  it('an unknown queue hands out nothing and counts zero', () => {
    const h = new Harness().at(5);
    expect(h.cmd.claim('nope', 'w')).toEqual([]);
    expect(h.q.stats('nope')).toEqual({
      queue: 'nope',
      paused: false,
      delayed: 0,
      ready: 0,
      leased: 0,
      done: 0,
      dead: 0,
      oldestReadyAgeMs: 0,
      asOf: 5,
    });
  });
});

describe('task queue - queries', () => {
  it('stats count every state, and the oldest ready age as of the last command', () => {
    const h = new Harness().at(0);
    h.cmd.enqueue('q', 'old');
    h.at(40);
    h.cmd.enqueue('q', 'young');
    h.cmd.enqueue('q', 'later', { delayMs: 1000 });
    h.at(100);
    const [job] = h.cmd.claim('q', 'w', { leaseMs: 10 }); // takes 'old'
    expect(h.q.stats('q')).toMatchObject({
      ready: 1,
      delayed: 1,
      leased: 1,
      oldestReadyAgeMs: 60,
      asOf: 100,
    });
    h.at(150);
    h.cmd.tick(); // the lease ended at 110: the job is ready again since then
    expect(job!.payload).toBe('old');
    expect(h.q.stats('q')).toMatchObject({ ready: 2, leased: 0, oldestReadyAgeMs: 110, asOf: 150 });
  });

  it('listJobs pages through one state in id order, or through every state', () => {
    const h = new Harness();
    const all = h.cmd.enqueueMany(
      'q',
      Array.from({ length: 7 }, (_, i) => ({ payload: i })),
    );
    h.cmd.claim('q', 'w', { max: 2 }); // jobs 0 and 1 leased
    const first = h.q.listJobs('q', 'ready', { limit: 3 });
    expect(ids(first.jobs)).toEqual(all.slice(2, 5));
    expect(first.next).toBe(all[4]);
    const second = h.q.listJobs('q', 'ready', { limit: 3, after: first.next! });
    expect(ids(second.jobs)).toEqual(all.slice(5));
    expect(second.next).toBeNull();
    expect(ids(h.q.listJobs('q').jobs)).toEqual(all);
    expect(h.q.listJobs('q', 'leased').jobs.map((j) => j.lease?.workerId)).toEqual(['w', 'w']);
    expect(() => h.q.listJobs('q', 'gone' as never)).toThrow('unknown job state gone');
    expect(() => h.q.listJobs('q', null, { limit: 0 })).toThrow(
      'limit (0) must be an integer from 1 to 1000',
    );
  });

  it('a job read by a query is a copy: changing it changes nothing', () => {
    const h = new Harness();
    const id = h.cmd.enqueue('q', { n: 1 });
    (h.q.getJob(id)!.payload as { n: number }).n = 2;
    const [job] = h.cmd.claim('q', 'w');
    (job!.payload as { n: number }).n = 3;
    expect(h.q.getJob(id)!.payload).toEqual({ n: 1 });
    expect(h.q.getJob('999')).toBeNull();
    expect(h.q.queues()).toEqual(['q']);
  });
});
