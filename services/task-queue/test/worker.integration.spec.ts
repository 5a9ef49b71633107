// Producer and Worker against a 3-replica group over the machine's NATS
// (in-process replicas, in-memory stores). Each test bounds its jobs and
// waits for what a user would see; none asserts how long something took.
import { CommandRejectedError, ConfigError, type CommittedEvent } from '@raftline/core';
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import {
  Producer,
  StaleTokenError,
  Worker,
  WorkerClosedError,
  type Job,
  type WorkerOptions,
} from '../src/index';
import { NATS_URL, sleep, startGroup, until, type Group } from './support/group';

jest.setTimeout(30_000);

let g: Group;
let nc: NatsConnection;
let producer: Producer;
const workers: Worker[] = [];
let queueNo = 0;

beforeAll(async () => {
  g = await startGroup(3);
  nc = await connectNats({ servers: NATS_URL });
  producer = new Producer({ connection: nc, cluster: g.cluster, group: g.group });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close({ timeoutMs: 0 })));
  await producer?.close();
  await nc?.close();
  await g?.stop();
});

/** A fresh queue name per test. */
const fresh = (): string => `q${++queueNo}`;

function worker<P, R>(
  queue: string,
  handler: (job: Job<P>) => Promise<R> | R,
  options: Partial<WorkerOptions> = {},
) {
  const w = new Worker<P, R>(queue, handler, {
    connection: nc,
    cluster: g.cluster,
    group: g.group,
    ...options,
  });
  w.on('error', () => undefined); // transient call failures are retried; the assertions say what counts
  workers.push(w as Worker);
  return w;
}

describe('task queue - Producer', () => {
  it('enqueue calls made together go as one command, each resolving with its own id; a bad one fails alone', async () => {
    const queue = fresh();
    const leader = await g.leader();
    const from = leader.replica.status().appliedIndex + 1;
    const calls = Array.from({ length: 20 }, (_, i) =>
      producer.enqueue(queue, { i }, i === 7 ? { delayMs: -1 } : undefined),
    );
    const settled = await Promise.allSettled(calls);
    const ids = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(ids).toHaveLength(19);
    expect(new Set(ids).size).toBe(19);
    const refused = settled[7] as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(CommandRejectedError);
    expect(String(refused.reason.message)).toContain('delayMs');
    expect((await producer.stats(queue)).ready).toBe(19);
    // The 20 calls were one enqueueMany (refused before replication), then the items one by one.
    const names: string[] = [];
    const stop = new AbortController();
    for await (const e of leader.replica.committed({
      fromIndex: from,
      signal: stop.signal,
    }) as AsyncIterable<CommittedEvent>) {
      if (e.command.args[0] === queue) names.push(e.command.name);
      if (names.length === 19) stop.abort();
    }
    expect(names).toEqual(Array(19).fill('enqueue'));
    const together = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.enqueue(queue, { i })));
    expect(new Set(together).size).toBe(30);
  });
});

describe('task queue - Worker', () => {
  it('runs each job, acks it with the handler value and emits completed, concurrency at once at most', async () => {
    const queue = fresh();
    const ids = await producer.enqueueMany(
      queue,
      Array.from({ length: 40 }, (_, i) => ({ payload: { n: i } })),
    );
    let running = 0;
    let most = 0;
    const completed = new Map<string, unknown>();
    const w = worker<{ n: number }, number>(
      queue,
      async (job) => {
        most = Math.max(most, ++running);
        await sleep(5);
        running--;
        return job.payload.n * 2;
      },
      { concurrency: 8 },
    );
    w.on('completed', (job, result) => completed.set(job.id, result));
    await until(() => completed.size === 40, '40 completions');
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThan(1);
    expect((await producer.getJob(ids[3]!))?.result).toBe(6);
    expect(await producer.stats(queue)).toMatchObject({ ready: 0, leased: 0, done: 40 });
  });

  it('a handler that throws nacks its job; past its attempts it is dead, and the dead letters can be retried and purged', async () => {
    const queue = fresh();
    const id = await producer.enqueue(queue, 'bad', { maxAttempts: 2 });
    const failures: [number, string][] = [];
    let fixed = false;
    const w = worker(queue, (job) => {
      if (!fixed) throw new Error(`attempt ${job.attempt} failed`);
      return 'fine';
    });
    w.on('failed', (job, _err, next) => failures.push([job.attempt, next.state]));
    await until(() => failures.length === 2, 'two failed attempts');
    expect(failures).toEqual([
      [1, 'ready'],
      [2, 'dead'],
    ]);
    const dead = await producer.dead(queue);
    expect(dead.jobs.map((j) => [j.id, j.lastError])).toEqual([[id, 'attempt 2 failed']]);
    fixed = true;
    const done = new Promise<string>((resolve) => w.once('completed', (job) => resolve(job.id)));
    expect(await producer.retryDead(queue)).toEqual({ count: 1, skipped: [] });
    expect(await done).toBe(id);
    const other = await producer.enqueue(queue, 'x', { maxAttempts: 1 });
    fixed = false;
    await until(async () => (await producer.getJob(other))?.state === 'dead', 'the second job dead');
    expect((await producer.purgeDead(queue)).count).toBe(1);
    expect(await producer.getJob(other)).toBeNull();
  });

  it('extends the leases of running handlers, so a handler longer than leaseMs keeps its job', async () => {
    const queue = fresh();
    const id = await producer.enqueue(queue, 'slow');
    const starts: string[] = [];
    const slow = worker(
      queue,
      async (job) => {
        starts.push(`slow ${job.attempt}`);
        await sleep(1500);
        return 'slow done';
      },
      { leaseMs: 400, heartbeatMs: 100, pollMs: 50 },
    );
    const done = new Promise<string>((resolve) => slow.once('completed', (job) => resolve(job.id)));
    await until(() => starts.length === 1, 'the slow handler started');
    // A second worker polls the same queue all along: the job is never free for it.
    worker(queue, (job) => void starts.push(`other ${job.attempt}`), { pollMs: 50 });
    expect(await done).toBe(id);
    expect(starts).toEqual(['slow 1']);
    expect(await producer.getJob(id)).toMatchObject({ state: 'done', attempts: 1, result: 'slow done' });
  });

  it('a lease refused at a heartbeat aborts the handler and its result is never acked', async () => {
    const queue = fresh();
    const id = await producer.enqueue(queue, 'x');
    let seen: AbortSignal | undefined;
    const w = worker(
      queue,
      async (job) => {
        seen = job.signal;
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
        return 'too late';
      },
      { leaseMs: 2000, heartbeatMs: 100 },
    );
    const lost = new Promise<unknown>((resolve) => w.once('lost', (_job, err) => resolve(err)));
    await until(() => seen !== undefined, 'the handler started');
    // Someone else ends the attempt under the worker's token (as an expiry would), with claims paused.
    await producer.pause(queue);
    const token = (await producer.getJob(id))!.lease!.token;
    expect((await producer.client.commands.nack(id, token, { error: 'taken away' })).ok).toBe(true);
    const err = await lost;
    expect(err).toBeInstanceOf(StaleTokenError);
    expect(seen!.aborted).toBe(true);
    await sleep(300);
    expect(await producer.getJob(id)).toMatchObject({
      state: 'ready',
      result: null,
      lastError: 'taken away',
    });
  });

  it('close() lets running handlers finish and acks them; close({ timeoutMs: 0 }) releases them, the attempt not counted', async () => {
    const queue = fresh();
    const [a, b] = await producer.enqueueMany(queue, [{ payload: 'a' }, { payload: 'b' }]);
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const w = worker(
      queue,
      async (job) => {
        started.push(job.id);
        if (job.payload === 'a') await gate;
        else await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
        return job.payload;
      },
      { concurrency: 2 },
    );
    await until(() => started.length === 2, 'both handlers started');
    const completed: string[] = [];
    w.on('completed', (job) => completed.push(job.id));
    const closing = w.close({ timeoutMs: 300 });
    setTimeout(() => release!(), 50);
    await closing;
    expect(completed).toEqual([a]);
    expect(await producer.getJob(a!)).toMatchObject({ state: 'done' });
    expect(await producer.getJob(b!)).toMatchObject({ state: 'ready', attempts: 0, lease: null });
    // A released job goes to the next worker at once, still on its first attempt.
    const next = worker(queue, (job) => job.attempt);
    const result = await new Promise((resolve) => next.once('completed', (_job, r) => resolve(r)));
    expect(result).toBe(1);
  });

  it('an idle worker claims as soon as a producer enqueues, not at its next poll', async () => {
    const queue = fresh();
    const w = worker(queue, (job) => job.payload, { pollMs: 60_000 });
    await sleep(200); // its first claim found nothing; the next poll is a minute away
    const done = new Promise((resolve) => w.once('completed', (_job, r) => resolve(r)));
    await producer.enqueue(queue, 'woken');
    expect(await done).toBe('woken');
  });

  it('with prefetch it holds more jobs than it runs, runs concurrency at once, and close() hands back the ones never started', async () => {
    const queue = fresh();
    await producer.enqueueMany(
      queue,
      Array.from({ length: 10 }, (_, i) => ({ payload: i })),
    );
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    const w = worker<number, number>(
      queue,
      async (job) => {
        started.push(job.payload);
        await gate;
        return job.payload;
      },
      { concurrency: 2, prefetch: 3 },
    );
    await until(async () => (await producer.stats(queue)).leased === 5, 'five jobs leased');
    expect(started).toEqual([0, 1]);
    const closing = w.close();
    await until(async () => (await producer.stats(queue)).ready === 8, 'the three held jobs back, ready');
    release!();
    await closing;
    expect(await producer.stats(queue)).toMatchObject({ done: 2, leased: 0, ready: 8 });
    const back = await producer.listJobs(queue, 'ready', { limit: 3 });
    expect(back.jobs.map((j) => [j.payload, j.attempts])).toEqual([
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
  });

  it('by default holds more jobs than it runs once its handler proves quick, and holds none with prefetch 0', async () => {
    const held = async (prefetch: number | undefined): Promise<number> => {
      const queue = fresh();
      await producer.enqueueMany(
        queue,
        Array.from({ length: 300 }, (_, i) => ({ payload: i })),
      );
      let release: (() => void) | undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let done = 0;
      const w = worker<number, number>(
        queue,
        async (job) => {
          if (++done > 30) await gate; // quick at first, then every slot is stuck
          return job.payload;
        },
        { concurrency: 1, ...(prefetch === undefined ? {} : { prefetch }) },
      );
      await until(async () => done > 30, 'thirty jobs done');
      await sleep(300); // claims in flight land
      const { leased } = await producer.stats(queue);
      release!();
      await w.close();
      return leased;
    };
    expect(await held(undefined)).toBeGreaterThan(1);
    expect(await held(0)).toBe(1);
  });

  it('refuses bad options, naming each', () => {
    const make = (o: Partial<WorkerOptions>) =>
      new Worker('q', () => undefined, {
        connection: nc,
        cluster: g.cluster,
        group: g.group,
        autorun: false,
        ...o,
      });
    const problems = (o: Partial<WorkerOptions>): unknown => {
      try {
        make(o);
      } catch (err) {
        return err instanceof ConfigError ? err.problems : err;
      }
      return 'accepted';
    };
    expect(problems({ concurrency: 0, leaseMs: 100, heartbeatMs: 100 })).toEqual([
      'concurrency (0) must be an integer from 1 to 1000',
      'heartbeatMs (100) must be less than leaseMs (100)',
    ]);
    expect(problems({ batch: 1001, pollMs: 0 })).toEqual([
      'batch (1001) must be an integer from 1 to 1000',
      'pollMs (0) must be an integer from 1 to 86400000',
    ]);
    expect(problems({ prefetch: 'some' as unknown as number })).toEqual([
      "prefetch (some) must be 'auto' or an integer from 0 to 1000",
    ]);
    expect(() => make({ colour: 'blue' } as Partial<WorkerOptions>)).toThrow(/colour/);
  });

  it('a job released by close is reported to its handler as WorkerClosedError', async () => {
    const queue = fresh();
    await producer.enqueue(queue, 'x');
    let reason: unknown;
    const w = worker(queue, async (job) => {
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
      reason = job.signal.reason;
    });
    await until(() => w.active === 1, 'the handler started');
    await w.close({ timeoutMs: 0 });
    await until(() => reason !== undefined, 'the handler saw the abort');
    expect(reason).toBeInstanceOf(WorkerClosedError);
  });
});
