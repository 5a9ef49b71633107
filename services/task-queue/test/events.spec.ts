import 'reflect-metadata';
import {
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  REGISTER_SESSION,
  Replica,
  systemClock,
  type Clock,
  type CommittedEvent,
} from '@raftline/core';
import {
  JobEventFeed,
  JobEventsError,
  jobEvents,
  TaskQueue,
  type CommittedCommand,
  type JobEvent,
  type TaskQueueOptions,
} from '../src/index';
import { Harness } from './support/harness';

/** A Harness that keeps every command it applied as the committed stream would carry it. */
class Recorded extends Harness {
  readonly log: CommittedCommand[] = [];

  constructor(private readonly options: TaskQueueOptions = {}) {
    super(options);
  }

  override apply(name: string, args: readonly unknown[]): unknown {
    const value = super.apply(name, args);
    this.log.push({
      index: this.index,
      term: 1,
      command: { name, args, time: this.time },
      outcome: { kind: 'applied' },
    });
    return value;
  }

  /** The job events of everything applied so far, from a fresh feed. */
  events(): JobEvent[] {
    const feed = new JobEventFeed(this.options); // built as the group's machine is
    return this.log.flatMap((e) => feed.apply(e));
  }
}

const kinds = (events: readonly JobEvent[]): string[] => events.map((e) => `${e.type} ${e.jobId}`);

describe('task queue - job events from the committed stream', () => {
  it('every move of a job is an event, with the index of the command that made it', () => {
    const h = new Recorded().at(10);
    const id = h.cmd.enqueue('q', { n: 1 }, { maxAttempts: 3 });
    const [first] = h.cmd.claim('q', 'w1', { leaseMs: 100 });
    h.cmd.nack(id, first!.token, { error: 'boom' });
    const [second] = h.cmd.claim('q', 'w2', { leaseMs: 100 });
    h.cmd.ack(id, second!.token, 'ok');
    const events = h.events();
    expect(kinds(events)).toEqual([
      `enqueued ${id}`,
      `claimed ${id}`,
      `failed ${id}`,
      `claimed ${id}`,
      `completed ${id}`,
    ]);
    expect(events.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]).toEqual({
      type: 'enqueued',
      index: 1,
      at: 10,
      jobId: id,
      queue: 'q',
      state: 'ready',
      readyAt: 10,
      priority: 0,
      dedupKey: null,
    });
    expect(events[2]).toMatchObject({
      type: 'failed',
      workerId: 'w1',
      token: first!.token,
      attempt: 1,
      error: 'boom',
      expired: false,
      next: 'ready',
      readyAt: 10,
    });
    expect(events[4]).toMatchObject({ type: 'completed', workerId: 'w2', token: second!.token, attempt: 2 });
  });

  it('a lease that expires is a failed event at its expiry time, reported by the next command; the last attempt is followed by dead', () => {
    const h = new Recorded().at(0);
    const id = h.cmd.enqueue('q', 'x', { maxAttempts: 1 });
    const [job] = h.cmd.claim('q', 'w1', { leaseMs: 100 });
    h.at(500);
    h.cmd.enqueue('other', 'y'); // a command on another queue finds the expired lease
    const events = h.events().filter((e) => e.queue === 'q');
    expect(events.slice(2)).toEqual([
      expect.objectContaining({
        type: 'failed',
        index: 3,
        at: 100,
        expired: true,
        next: 'dead',
        readyAt: null,
      }),
      expect.objectContaining({ type: 'dead', index: 3, at: 100, reason: 'attempts', attempts: 1 }),
    ]);
    expect(events[2]).toMatchObject({ jobId: id, token: job!.token, workerId: 'w1' });
  });

  it('a refused (stale) ack makes no event: a job is completed once, by its holder', () => {
    const h = new Recorded().at(0);
    const id = h.cmd.enqueue('q', 'x');
    const [slow] = h.cmd.claim('q', 'slow', { leaseMs: 100 });
    h.at(200);
    const [fast] = h.cmd.claim('q', 'fast', { leaseMs: 100 });
    expect(h.cmd.ack(id, slow!.token).ok).toBe(false);
    expect(h.cmd.ack(id, fast!.token).ok).toBe(true);
    const completed = h.events().filter((e) => e.type === 'completed');
    expect(completed).toEqual([expect.objectContaining({ jobId: id, workerId: 'fast', token: fast!.token })]);
  });

  it('delays, deadlines, dedup, release, the dead letters and pruning each show as what they did', () => {
    const h = new Recorded({ defaults: { keepDoneMs: 1000 } }).at(0);
    const late = h.cmd.enqueue('q', 'later', { delayMs: 50, ttlMs: 60 });
    const kept = h.cmd.enqueue('q', 'once', { dedupKey: 'k' });
    expect(h.cmd.enqueue('q', 'again', { dedupKey: 'k' })).toBe(kept); // no event
    const [held] = h.cmd.claim('q', 'w', { max: 1 });
    h.cmd.release(kept, held!.token);
    h.at(100); // the delayed job became ready at 50 and reached its deadline at 60
    const [again] = h.cmd.claim('q', 'w');
    h.cmd.ack(kept, again!.token);
    h.cmd.retryDead('q', [late]);
    h.cmd.purge('q');
    h.at(1100);
    h.cmd.tick(); // the done job is pruned
    expect(kinds(h.events())).toEqual([
      `enqueued ${late}`,
      `enqueued ${kept}`,
      `claimed ${kept}`,
      `released ${kept}`,
      `dead ${late}`,
      `claimed ${kept}`,
      `completed ${kept}`,
      `retried ${late}`,
      `removed ${late}`,
      `removed ${kept}`,
    ]);
    const events = h.events();
    expect(events[0]).toMatchObject({ state: 'delayed', readyAt: 50 });
    expect(events[4]).toMatchObject({ type: 'dead', reason: 'ttl', at: 60 });
    expect(events[8]).toMatchObject({ reason: 'purged' });
    expect(events[9]).toMatchObject({ reason: 'pruned', at: 1100 });
  });

  it('duplicates and failures that ran no handler are skipped; indexes must increase', () => {
    const feed = new JobEventFeed();
    const enqueue = { name: 'enqueue', args: ['q', 'x'], time: 0 };
    expect(feed.apply({ index: 3, term: 1, command: enqueue, outcome: { kind: 'applied' } })).toHaveLength(1);
    expect(feed.apply({ index: 4, term: 1, command: enqueue, outcome: { kind: 'duplicate' } })).toEqual([]);
    const expired = { kind: 'failed', error: { name: 'SessionExpiredError' } } as const;
    expect(feed.apply({ index: 5, term: 1, command: enqueue, outcome: expired })).toEqual([]);
    expect(feed.index).toBe(5);
    expect(() => feed.apply({ index: 5, term: 1, command: enqueue, outcome: { kind: 'applied' } })).toThrow(
      JobEventsError,
    );
  });

  it('a stream of another machine is refused by name, at its index', () => {
    const feed = new JobEventFeed();
    const put = { name: 'put', args: ['k', 'v'], time: 0 };
    expect(() => feed.apply({ index: 1, term: 1, command: put, outcome: { kind: 'applied' } })).toThrow(
      /command put at index 1 was applied on the replicas but failed/,
    );
  });

  it('a feed restored from its snapshot goes on with the same events', () => {
    const h = new Recorded().at(0);
    const a = h.cmd.enqueue('q', 'a');
    const [job] = h.cmd.claim('q', 'w', { leaseMs: 10 });
    h.at(50);
    h.cmd.enqueue('q', 'b');
    h.cmd.ack(a, job!.token); // refused: the lease expired at 10
    const whole = h.events();
    const first = new JobEventFeed();
    const head = h.log.slice(0, 2).flatMap((e) => first.apply(e));
    const resumed = JobEventFeed.restore(first.snapshot());
    expect(resumed.index).toBe(2);
    const tail = h.log.slice(2).flatMap((e) => resumed.apply(e));
    expect([...head, ...tail]).toEqual(whole);
  });
});

describe('task queue - job events of a running replica', () => {
  /** The system clock, plus an offset a test moves forward (replicated time follows the leader's clock). */
  function skewedClock(): Clock & { skip(ms: number): void } {
    let offset = 0;
    return {
      now: () => systemClock.now() + offset,
      setTimeout: systemClock.setTimeout,
      skip: (ms) => void (offset += ms),
    };
  }

  it('jobEvents folds replica.committed({ outcomes: "all" }), session retries included, into the events its queue went through', async () => {
    const clock = skewedClock();
    const replica = new Replica({
      id: 'n1',
      voters: ['n1'],
      machine: new TaskQueue(),
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: new MemoryNetwork().transport('n1'),
      clock,
      config: { electionTimeoutMs: 100, heartbeatMs: 20, tickMs: 5 },
    });
    await replica.start();
    try {
      while (replica.status().role !== 'leader') await new Promise((resolve) => setTimeout(resolve, 10));
      const clientId = (await replica.propose({ name: REGISTER_SESSION, args: ['nonce-1'] })) as string;
      const enqueue = {
        name: 'enqueue',
        args: ['q', 'x', { maxAttempts: 2 }],
        session: { clientId, seq: 1 },
      };
      const id = (await replica.propose(enqueue)) as string;
      expect(await replica.propose(enqueue)).toBe(id); // a retry: a duplicate in the stream
      const [job] = await replica.commands.claim('q', 'w1', { leaseMs: 1000 });
      clock.skip(5000); // w1 stalls past its lease
      const [next] = await replica.commands.claim('q', 'w2', { leaseMs: 1000 });
      expect((await replica.commands.ack(id, job!.token)).ok).toBe(false);
      expect((await replica.commands.ack(id, next!.token)).ok).toBe(true);

      const stop = new AbortController();
      const seen: JobEvent[] = [];
      const source = replica.committed({
        outcomes: 'all',
        signal: stop.signal,
      }) as AsyncIterable<CommittedEvent>;
      for await (const event of jobEvents(source)) {
        seen.push(event);
        if (event.type === 'completed') stop.abort();
      }
      expect(seen.map((e) => e.type)).toEqual(['enqueued', 'claimed', 'failed', 'claimed', 'completed']);
      expect(seen[2]).toMatchObject({ expired: true, workerId: 'w1', next: 'ready' });
      expect(seen[4]).toMatchObject({ workerId: 'w2', token: next!.token, attempt: 2 });
    } finally {
      await replica.stop();
    }
  });
});
