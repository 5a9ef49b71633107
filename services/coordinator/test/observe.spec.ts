import { ConfigError, FRAMEWORK_COMMAND_PREFIX } from '@raftline/core';
import {
  HistoryTruncatedError,
  observeTask,
  type CommittedCommand,
  type GrantCause,
  type ObservedEvent,
  type TaskEvent,
} from '../src/index';
import { TaskCursor, mayConcern, ABSENT } from '../src/client/task-cursor';
import { Feed } from './support/feed';

/**
 * One task through every way a tenure starts and ends, with commands of
 * another task and of the framework's sort in between: grants by campaign,
 * expiry, resignation, override, failure (stuck), resume, designation and
 * unregistration; and on 'review', an approval.
 */
function story(feed: Feed): void {
  const at = (ms: number): void => feed.m.advance(ms);
  for (const c of ['a', 'b', 'c', 'd']) feed.cmd('register', c);
  feed.cmd('createTask', 'job', { leaseMs: 1000, stuckAfterRenewals: 3 });
  feed.cmd('createTask', 'review', { approval: true });
  feed.cmd('campaign', 'job', 'a'); // granted 1 a: campaign
  feed.cmd('campaign', 'job', 'b');
  feed.cmd('renew', 'job', 1, { marker: 1 }); // a renewal is no event
  feed.cmd('checkpoint', 'job', 1, { state: 's1', summary: 'one' });
  at(400);
  feed.cmd('tick'); // before the grant's expiry: nothing can end
  feed.cmd('campaign', 'review', 'a');
  at(2000);
  feed.cmd('tick'); // ended 1 (expired), granted 2 b: expiry
  feed.cmd('campaign', 'job', 'c');
  feed.cmd('resign', 'job', 2); // ended 2, granted 3 c: resignation
  feed.cmd('designate', 'job', 'a', 'alice'); // designated, ended 3 (overridden), granted 4 a: override
  feed.cmd('campaign', 'job', 'b');
  for (let i = 0; i < 3; i++) feed.cmd('renew', 'job', 4); // the third: ended 4 (stuck), granted 5 b: failure
  feed.cmd('pause', 'job', 'alice'); // ended 5 (paused), paused
  feed.cmd('resume', 'job', 'alice'); // resumed; nobody applies
  feed.cmd('campaign', 'job', 'c'); // granted 6 c: resume
  feed.cmd('checkpoint', 'review', 1, { state: 'draft' }); // review waits for approval
  feed.cmd('approve', 'review', 1, 'alice');
  feed.cmd('revoke', 'job', 'alice'); // ended 6 (revoked); nobody applies
  feed.cmd('designate', 'job', 'd', 'alice'); // designated, granted 7 d: designation
  feed.cmd('unregister', 'd'); // ended 7 (unregistered)
  feed.cmd('campaign', 'job', 'a'); // granted 8 a: unregistered
}

/** Feeds a cursor the whole log, reading the history whenever it asks. @returns what it served, and which commands it read for */
function follow(feed: Feed, cursor: TaskCursor, log: readonly CommittedCommand[]) {
  const served: ObservedEvent[] = [];
  const readFor: CommittedCommand[] = [];
  const read = (): void => {
    const page = feed.m.query<never>('history', cursor.task, cursor.historyAfter);
    served.push(...cursor.accept({ page, appliedIndex: feed.m.host.appliedIndex }));
  };
  read();
  for (const c of log) {
    if (!cursor.see(c)) continue;
    readFor.push(c);
    read();
  }
  return { served, readFor };
}

/** Runs the story while the cursor follows it, reading the history after each command it asks for (as observe does). */
function followLive(cursor: TaskCursor, options = {}) {
  const feed = new Feed(options);
  const served: ObservedEvent[] = [];
  const readFor: CommittedCommand[] = [];
  /** Commands after which the cursor had not served every event the history holds. */
  const lagging: string[] = [];
  const read = (): void => {
    const page = feed.m.query<never>('history', cursor.task, cursor.historyAfter);
    served.push(...cursor.accept({ page, appliedIndex: feed.m.host.appliedIndex }));
  };
  read();
  const cmd = feed.cmd.bind(feed);
  feed.cmd = ((name: string, ...args: unknown[]) => {
    const result = cmd(name, ...args);
    const c = feed.log.at(-1)!;
    if (cursor.see(c)) {
      readFor.push(c);
      read();
    }
    const last = feed.events(cursor.task).at(-1);
    if (last && served.at(-1)?.seq !== last.seq) lagging.push(`${c.index}:${name}`);
    return result;
  }) as Feed['cmd'];
  story(feed);
  return { feed, served, readFor, lagging };
}

const kinds = (events: readonly TaskEvent[]): string[] =>
  events.map((e) => `${e.kind}:${e.epoch}${e.reason ? `(${e.reason})` : ''}`);

describe("observe - deriving a task's events from its history and the committed commands", () => {
  it('every event of the task is served once, in seq order, with the cause of each new epoch', () => {
    const { feed, served, lagging } = followLive(new TaskCursor('job'));
    const history = feed.events('job');
    expect(lagging).toEqual([]); // no event waits for a later command
    expect(served.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
    expect(served).toEqual(history.map((e) => expect.objectContaining({ ...e, task: 'job' })));
    expect(kinds(served)).not.toContain('renewed');
    const grants = served.filter((e) => e.kind === 'granted');
    expect(grants.map((e) => [e.epoch, e.candidate, e.cause])).toEqual<[number, string, GrantCause][]>([
      [1, 'a', 'campaign'],
      [2, 'b', 'expiry'],
      [3, 'c', 'resignation'],
      [4, 'a', 'override'],
      [5, 'b', 'failure'],
      [6, 'c', 'resume'],
      [7, 'd', 'designation'],
      [8, 'a', 'unregistered'],
    ]);
    expect(served.filter((e) => e.kind !== 'granted').every((e) => e.cause === null)).toBe(true);
    // ordered by commit: indices never go back
    expect(served.every((e, i) => i === 0 || e.index >= served[i - 1]!.index)).toBe(true);
  });

  it('an approval starts the new epoch of a task that needs approval', () => {
    const { served } = followLive(new TaskCursor('review'));
    expect(kinds(served)).toEqual([
      'created:0',
      'granted:1',
      'checkpoint:1',
      'ended:1(approval)',
      'approved:1',
      'granted:2',
    ]);
    expect(served.at(-1)).toMatchObject({ kind: 'granted', candidate: 'a', cause: 'approval' });
  });

  it('the history is read only after commands that may change it: not for ticks before the lease can end, nor for other tasks, registrations or renewals of nobody', () => {
    const { readFor } = followLive(new TaskCursor('job'));
    const names = readFor.map((c) => `${c.command.name}:${String(c.command.args[0] ?? '')}`);
    expect(names).not.toContain('register:a');
    expect(names.filter((n) => n.endsWith(':review'))).toEqual([]);
    const ticks = readFor.filter((c) => c.command.name === 'tick');
    expect(ticks.map((c) => c.command.time)).toEqual([3400]); // the one after the lease ran out, not the one at 1400
    expect(names).toContain('unregister:d'); // d held the task
  });

  it('an observer that starts after the fact serves the same events as one that followed live', () => {
    const live = followLive(new TaskCursor('job'));
    const replayed = follow(live.feed, new TaskCursor('job'), live.feed.log);
    expect(replayed.served).toEqual(live.served);
  });

  it("resuming from any event's index serves exactly the events committed after it", () => {
    const { feed, served } = followLive(new TaskCursor('job'));
    for (const e of served) {
      const resumed = follow(feed, new TaskCursor('job', e.index), []).served;
      expect(resumed).toEqual(served.filter((x) => x.index > e.index));
    }
  });

  it('a history that no longer holds the events after fromIndex throws HistoryTruncatedError; one that keeps them serves them', () => {
    const { feed } = followLive(new TaskCursor('job'), { historyLimit: 6 });
    const kept = feed.events('job');
    const cursor = (fromIndex: number): TaskCursor => new TaskCursor('job', fromIndex);
    expect(() => follow(feed, cursor(kept[0]!.index - 1), [])).toThrow(HistoryTruncatedError);
    expect(follow(feed, cursor(kept[0]!.index), []).served).toEqual(
      kept.filter((e) => e.index > kept[0]!.index).map((e) => expect.objectContaining(e)),
    );
    // without fromIndex: what the history keeps, from its oldest event
    expect(follow(feed, new TaskCursor('job'), []).served.map((e) => e.seq)).toEqual(kept.map((e) => e.seq));
  });

  it('a cursor that falls more than historyLimit events behind throws HistoryTruncatedError instead of skipping', () => {
    const feed = new Feed({ historyLimit: 4 });
    feed.cmd('register', 'a');
    feed.cmd('createTask', 'job');
    const cursor = new TaskCursor('job');
    const first = follow(feed, cursor, []).served;
    expect(first.map((e) => e.kind)).toEqual(['created']);
    feed.cmd('campaign', 'job', 'a');
    for (let i = 0; i < 5; i++) feed.cmd('checkpoint', 'job', 1, { state: String(i) });
    const c = feed.log.at(-1)!;
    expect(cursor.see(c)).toBe(true);
    const page = feed.m.query<never>('history', 'job', cursor.historyAfter);
    expect(() => cursor.accept({ page, appliedIndex: c.index })).toThrow(HistoryTruncatedError);
  });

  it('a removed task ends the cursor, even when a task of the same id was created since', () => {
    for (const recreate of [false, true]) {
      const feed = new Feed();
      feed.cmd('createTask', 'job');
      const cursor = new TaskCursor('job');
      follow(feed, cursor, []);
      feed.cmd('removeTask', 'job', 'alice');
      if (recreate) feed.cmd('createTask', 'job');
      const last = feed.log.at(-1)!;
      expect(cursor.see(last)).toBe(true);
      const page = feed.m.query<never>('history', 'job', cursor.historyAfter);
      expect(cursor.accept({ page, appliedIndex: last.index })).toEqual([]);
      expect(cursor.removed).toBe(true);
    }
  });

  it('an answer read before the command it was asked for is not taken', () => {
    const feed = new Feed();
    feed.cmd('createTask', 'job');
    const cursor = new TaskCursor('job');
    follow(feed, cursor, []);
    const stale = { page: feed.m.query<never>('history', 'job', 0), appliedIndex: feed.m.host.appliedIndex };
    feed.cmd('register', 'a');
    feed.cmd('campaign', 'job', 'a');
    expect(cursor.see(feed.log[1]!)).toBe(false);
    expect(cursor.see(feed.log[2]!)).toBe(true);
    expect(cursor.accept(stale)).toEqual([]);
    expect(cursor.owedThrough).toBe(feed.log[2]!.index);
  });

  it("mayConcern: duplicates, framework commands and another task's commands never; unknown commands, pause and resume always", () => {
    const c = (
      name: string,
      args: unknown[],
      kind: 'applied' | 'duplicate' = 'applied',
    ): CommittedCommand => ({
      index: 1,
      command: { name, args, time: 0 },
      outcome: { kind },
    });
    const vacant = { ...ABSENT, status: 'vacant' as const };
    expect(mayConcern('job', c('campaign', ['job', 'a'], 'duplicate'), vacant, 0)).toBe(false);
    expect(mayConcern('job', c(`${FRAMEWORK_COMMAND_PREFIX}register`, ['n']), vacant, 0)).toBe(false);
    expect(mayConcern('job', c('act', ['other', 1, 'r', {}]), vacant, 0)).toBe(false);
    expect(mayConcern('job', c('createTask', ['sub', { parent: 'job', parentEpoch: 1 }]), vacant, 0)).toBe(
      true,
    );
    expect(mayConcern('job', c('pause', ['root', 'alice']), vacant, 0)).toBe(true);
    expect(mayConcern('job', c('somethingNew', []), vacant, 0)).toBe(true);
    expect(mayConcern('job', c('tick', []), vacant, 0)).toBe(true); // a vacancy may be filled after gatherMs
    expect(mayConcern('job', c('tick', []), { ...vacant, status: 'paused' }, 0)).toBe(false);
    expect(mayConcern('job', c('unregister', ['x']), { ...ABSENT, status: 'unknown' }, 0)).toBe(true);
  });
});

/** Reads n events from an iteration, then leaves it open. */
async function take(it: AsyncIterator<ObservedEvent>, n: number): Promise<ObservedEvent[]> {
  const out: ObservedEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('observeTask - an AsyncIterable over a source', () => {
  const setup = (): Feed => {
    const feed = new Feed();
    for (const c of ['a', 'b']) feed.cmd('register', c);
    feed.cmd('createTask', 'job', { leaseMs: 1000 });
    return feed;
  };

  it('serves the events as they are committed, and break stops it', async () => {
    const feed = setup();
    const seen: ObservedEvent[] = [];
    const consumer = (async () => {
      for await (const e of observeTask(feed, 'job')) {
        seen.push(e);
        if (e.kind === 'granted' && e.epoch === 2) break;
      }
    })();
    feed.cmd('campaign', 'job', 'a');
    feed.cmd('campaign', 'job', 'b');
    await new Promise((r) => setTimeout(r, 10));
    feed.cmd('resign', 'job', 1, { state: 'x', summary: 'half' });
    await consumer;
    expect(kinds(seen)).toEqual(['created:0', 'granted:1', 'checkpoint:1', 'ended:1(resigned)', 'granted:2']);
    expect(seen.at(-1)).toMatchObject({ candidate: 'b', cause: 'resignation' });
  });

  it('resumes after the index of the last event processed, without repeating it or skipping the next', async () => {
    const feed = setup();
    feed.cmd('campaign', 'job', 'a');
    feed.cmd('checkpoint', 'job', 1, { state: 'x' });
    const first = observeTask(feed, 'job');
    const before = await take(first, 2);
    await first.return();
    feed.cmd('campaign', 'job', 'b');
    feed.cmd('resign', 'job', 1);
    const again = observeTask(feed, 'job', { fromIndex: before.at(-1)!.index });
    const after = await take(again, 3);
    await again.return();
    expect([...before, ...after].map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(kinds(after)).toEqual(['checkpoint:1', 'ended:1(resigned)', 'granted:2']);
  });

  it('an aborted signal ends a waiting iteration', async () => {
    const feed = setup();
    const abort = new AbortController();
    const it = observeTask(feed, 'job', { signal: abort.signal });
    expect(await take(it, 1)).toHaveLength(1);
    const waiting = it.next();
    setTimeout(() => abort.abort(), 20);
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it('retries a failed read and a broken stream, reports each to onError, and serves every event once', async () => {
    const feed = setup();
    feed.failReads = 1;
    feed.failStreams = 1;
    feed.failStreamAfter = 1;
    const errors: unknown[] = [];
    const it = observeTask(feed, 'job', { onError: (e) => errors.push(e), retryMs: 5 });
    const events = await take(it, 1); // read again after the failure
    feed.cmd('campaign', 'job', 'a');
    events.push(...(await take(it, 1))); // the stream's first command; it breaks at the next
    feed.cmd('campaign', 'job', 'b');
    feed.cmd('resign', 'job', 1);
    events.push(...(await take(it, 2))); // read again from where it broke
    await it.return();
    expect(kinds(events)).toEqual(['created:0', 'granted:1', 'ended:1(resigned)', 'granted:2']);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'history: no replica answered',
      'committed stream: connection lost',
    ]);
  });

  it('ends when the task is removed', async () => {
    const feed = setup();
    const it = observeTask(feed, 'job');
    expect(await take(it, 1)).toHaveLength(1);
    const next = it.next();
    feed.cmd('removeTask', 'job', 'alice');
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('refuses bad options at once with ConfigError naming each', () => {
    const feed = setup();
    expect(() => observeTask(feed, 'job', { fromIndex: -1, retryMs: 0 })).toThrow(ConfigError);
    expect(() => observeTask(feed, 'job', { fromIndex: -1, retryMs: 0 })).toThrow(
      /fromIndex \(-1\).*retryMs \(0\)/s,
    );
    expect(() => observeTask(feed, 'job', { from: 3 } as never)).toThrow(/unknown key 'from'/);
    expect(() => observeTask(feed, '')).toThrow(ConfigError);
  });
});
