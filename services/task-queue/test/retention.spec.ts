import { MachineHost } from '@raftline/core';
import { AuditedTaskQueue, Harness } from './support/harness';

/** Enqueues, claims and acks n jobs of queue q, one time unit apart, from h.time on. */
function runJobs(h: Harness, n: number, payload: unknown = 'p'): string[] {
  const done: string[] = [];
  for (let k = 0; k < n; k++) {
    const id = h.cmd.enqueue('q', payload);
    const [job] = h.cmd.claim('q', 'w');
    h.cmd.ack(id, job!.token, k);
    done.push(id);
    h.at(h.time + 1);
  }
  return done;
}

describe('task queue - retention of finished jobs', () => {
  it('done jobs are kept up to keepDoneCount, the oldest pruned first', () => {
    const h = new Harness({ defaults: { keepDoneCount: 3 } });
    const ids = runJobs(h, 5);
    expect(h.q.stats('q')).toMatchObject({ done: 3 });
    expect(h.q.listJobs('q', 'done').jobs.map((j) => j.id)).toEqual(ids.slice(2));
    expect(h.q.getJob(ids[0]!)).toBeNull();
  });

  it('done jobs are pruned keepDoneMs after they were done, by the first command past that time', () => {
    const h = new Harness({ defaults: { keepDoneMs: 10 } }).at(0);
    const [first, second] = runJobs(h, 2); // done at 0 and 1
    h.at(10);
    expect(h.cmd.tick().moved).toBe(1);
    expect(h.q.getJob(first!)).toBeNull();
    expect(h.q.getJob(second!)).toMatchObject({ state: 'done', finishedAt: 1 });
  });

  it('dead jobs have their own bounds, keepDeadCount and keepDeadMs', () => {
    const h = new Harness({ defaults: { keepDeadCount: 1, keepDeadMs: 100 } }).at(0);
    const a = h.cmd.enqueue('q', 'a', { maxAttempts: 1 });
    const b = h.cmd.enqueue('q', 'b', { maxAttempts: 1 });
    for (const job of h.cmd.claim('q', 'w', { max: 2 })) h.cmd.nack(job.id, job.token);
    expect(h.q.getJob(a)).toBeNull();
    expect(h.q.getJob(b)).toMatchObject({ state: 'dead' });
    h.at(100);
    h.cmd.tick();
    expect(h.q.stats('q')).toMatchObject({ dead: 0 });
  });

  it('configure applies new keep bounds to finished jobs at once, and only to its queue', () => {
    const h = new Harness().at(0);
    runJobs(h, 4);
    h.cmd.enqueue('other', 'x');
    expect(h.cmd.configure('q', { keepDoneCount: 2 })).toEqual({
      maxAttempts: 3,
      keepDoneCount: 2,
      keepDoneMs: 3_600_000,
      keepDeadCount: 10_000,
      keepDeadMs: 604_800_000,
    });
    expect(h.q.stats('q').done).toBe(2);
    h.cmd.configure('q', { keepDoneMs: 1 }); // the remaining two finished at 2 and 3; it is 4 now
    expect(h.q.stats('q').done).toBe(0);
    expect(h.q.settings('other')).toMatchObject({ keepDoneCount: 1000 });
  });

  it('a job enqueued into a configured queue takes its maxAttempts unless it names one', () => {
    const h = new Harness();
    h.cmd.configure('q', { maxAttempts: 7 });
    expect(h.q.getJob(h.cmd.enqueue('q', 1))).toMatchObject({ maxAttempts: 7 });
    expect(h.q.getJob(h.cmd.enqueue('q', 2, { maxAttempts: 2 }))).toMatchObject({ maxAttempts: 2 });
  });
});

describe('task queue - snapshots', () => {
  /** A queue with a job in every state, and timers of every kind pending. */
  function busy(): Harness {
    const h = new Harness({ defaults: { keepDoneCount: 5 } }).at(0);
    h.cmd.enqueueMany('q', [
      { payload: 'ready', options: { priority: 2, ttlMs: 10_000 } },
      { payload: 'delayed', options: { delayMs: 500, dedupKey: 'd' } },
      { payload: 'leased' },
      { payload: 'dead', options: { maxAttempts: 1 } },
      { payload: 'done' },
    ]);
    const jobs = h.cmd.claim('q', 'w', { max: 3, leaseMs: 300 }); // leased, dead, done: by priority 0 first
    h.cmd.nack(jobs[1]!.id, jobs[1]!.token);
    h.cmd.ack(jobs[2]!.id, jobs[2]!.token, { r: 1 });
    h.cmd.pause('paused');
    return h;
  }

  it('a restored snapshot holds the same state and makes the same moves', () => {
    const a = busy();
    const b = new Harness(undefined, new AuditedTaskQueue({ defaults: { keepDoneCount: 5 } }));
    b.host.restore(a.host.snapshot());
    b.index = a.index;
    expect(b.host.digest()).toBe(a.host.digest());
    expect(b.machine.audit()).toEqual([]);
    for (const h of [a, b]) {
      h.at(600);
      h.cmd.enqueue('q', 'late');
    }
    const moves = (h: Harness) => [h.cmd.claim('q', 'w2', { max: 10 }), h.q.stats('q'), h.q.stats('paused')];
    expect(moves(b)).toEqual(moves(a));
    expect(b.host.digest()).toBe(a.host.digest());
  });

  it('snapshots stay bounded when done jobs are pruned', () => {
    const size = (n: number): number => {
      const h = new Harness({ defaults: { keepDoneCount: 50 } });
      runJobs(h, n, 'x'.repeat(100));
      return h.host.snapshot().byteLength;
    };
    const small = size(50);
    const large = size(2000);
    expect(large).toBeLessThan(small * 1.1);
  });

  it('a snapshot of another format is refused with DecodeError', () => {
    const host = new MachineHost(new AuditedTaskQueue());
    const m = host.machine as AuditedTaskQueue;
    expect(() => m.restoreState({ version: 99 })).toThrow(
      'task queue: unsupported snapshot (version 99, expected 1)',
    );
    expect(() => m.restoreState({ version: 1 })).toThrow(
      'task queue: snapshot lacks its queues, jobs or time',
    );
  });
});
