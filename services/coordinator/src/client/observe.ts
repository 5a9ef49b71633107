/**
 * observeTask(): one task's coordinator changes, checkpoints and human
 * operations as an ordered, resumable AsyncIterable, pushed by the group's
 * committed stream.
 *
 * The events are the task's history, recorded by the machine itself on
 * every replica (TaskEvent: each with the log index of the command that
 * caused it). The committed stream says when to read it: for each
 * committed command that may have added events to the task (TaskCursor's
 * mayConcern), observe reads history() after the last event it served, at
 * a consistency that includes that command, and serves what is new, in seq
 * order. So every event is served once, in commit order, none skipped;
 * where that cannot be promised (the bounded history dropped events not yet
 * served) the iteration throws HistoryTruncatedError rather than go on.
 *
 * Resuming: each event carries `index`; `observeTask(source, task, {
 * fromIndex })` serves exactly the events committed after that index. The
 * events of one command share its index and are read together, so a
 * resumption never splits them.
 */
import { ConfigError, unknownKeyProblems, type KnownKeys } from '@raftline/core';
import type { ObservedEvent } from '../types';
import { HistoryTruncatedError, TaskCursor, type CommittedCommand, type HistoryAnswer } from './task-cursor';

/**
 * Where observe reads from: the group's history() query and its committed
 * stream. CoordinatorClient.observe() uses the typed client and
 * readCommitted over NATS; an in-process replica (replica.query,
 * replica.committed) or a test may give its own.
 */
export interface TaskEventSource {
  /**
   * history(task, after) read no earlier than the call: on a state that
   * holds every command committed before it (a linearizable read does).
   * @returns the page (null: no such task) and the log index it was read at
   */
  history(task: string, after: number): Promise<HistoryAnswer>;
  /**
   * The group's committed commands from fromIndex on, in log order, every
   * outcome, waiting for new ones until signal aborts (then it ends). It may
   * throw (a lost connection, a stream not there yet): observe reads it
   * again from where it stopped.
   */
  committed(fromIndex: number, signal: AbortSignal): AsyncIterable<CommittedCommand>;
}

/** Where observe starts, how it stops, and how it retries. */
export interface ObserveOptions {
  /**
   * Serve only the events committed after this log index: pass the `index`
   * of the last event processed to resume after it. Default: every event
   * the task's history still holds (its last historyLimit).
   */
  readonly fromIndex?: number;
  /** Ends the iteration when aborted (as break or return() does). */
  readonly signal?: AbortSignal;
  /**
   * Told of each failure observe retries by itself (a query that timed out,
   * the stream lost or not there yet); without it they are silent.
   */
  readonly onError?: (error: unknown) => void;
  /** First wait before retrying after a failure (default 100 ms; doubles up to maxRetryMs). */
  readonly retryMs?: number;
  /** Longest wait between retries (default 2000 ms). */
  readonly maxRetryMs?: number;
}

const OBSERVE_OPTION_KEYS: KnownKeys<ObserveOptions> = {
  fromIndex: true,
  signal: true,
  onError: true,
  retryMs: true,
  maxRetryMs: true,
};

type Checked = ObserveOptions & { readonly retryMs: number; readonly maxRetryMs: number };

function checkOptions(options: ObserveOptions): Checked {
  const problems = unknownKeyProblems(options, OBSERVE_OPTION_KEYS, 'observe options');
  const o = { retryMs: 100, maxRetryMs: 2000, ...options };
  const { fromIndex } = o;
  if (fromIndex !== undefined && !(Number.isSafeInteger(fromIndex) && fromIndex >= 0))
    problems.push(`fromIndex (${String(fromIndex)}) must be a non-negative integer`);
  for (const k of ['retryMs', 'maxRetryMs'] as const)
    if (!(Number.isFinite(o[k]) && o[k] >= 1)) problems.push(`${k} (${String(o[k])}) must be at least 1`);
  if (problems.length === 0 && o.maxRetryMs < o.retryMs)
    problems.push(`maxRetryMs (${o.maxRetryMs}) must be at least retryMs (${o.retryMs})`);
  if (problems.length > 0) throw new ConfigError(problems);
  return o;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

/**
 * The events of `task` (see the module comment), as they are committed,
 * until the iteration is stopped (break, return(), options.signal) or the
 * task is removed (a removed task keeps no history: the tenure removeTask
 * ends is not served, and the iteration ends). A task that does not exist
 * yet serves its events once it is created.
 * @returns an AsyncIterable of ObservedEvents, ordered by seq (and so by index)
 * @throws ConfigError at once for a bad option
 * @throws HistoryTruncatedError (from the iteration) when the history no
 *   longer holds events after fromIndex, or dropped some before they were
 *   served (more than historyLimit events between two reads: a consumer far
 *   behind); nothing is skipped silently
 */
export function observeTask(
  source: TaskEventSource,
  task: string,
  options: ObserveOptions = {},
): AsyncGenerator<ObservedEvent, void, undefined> {
  const o = checkOptions(options);
  if (typeof task !== 'string' || task === '') throw new ConfigError(['task must be a non-empty string']);
  return run(source, new TaskCursor(task, o.fromIndex), o);
}

async function* run(
  source: TaskEventSource,
  cursor: TaskCursor,
  o: Checked,
): AsyncGenerator<ObservedEvent, void, undefined> {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop);
  const { signal } = abort;
  let delay = o.retryMs;

  /** Reads the history until an answer through the index owed is taken; serves what it brings. */
  async function* settle(): AsyncGenerator<ObservedEvent, void, undefined> {
    while (cursor.owedThrough !== null && !signal.aborted) {
      const events = cursor.accept(await source.history(cursor.task, cursor.historyAfter));
      if (signal.aborted) return;
      yield* events;
      // An answer read before the index owed (a source that reads stale) is asked again.
      if (cursor.owedThrough !== null) await sleep(o.retryMs, signal);
    }
  }

  try {
    while (!signal.aborted && !cursor.removed) {
      try {
        yield* settle();
        if (cursor.removed || signal.aborted) return;
        for await (const c of source.committed(cursor.nextIndex, signal)) {
          if (!cursor.see(c)) continue;
          yield* settle();
          if (cursor.removed || signal.aborted) return;
          delay = o.retryMs;
        }
        if (signal.aborted) return;
        await sleep(delay, signal); // the stream ended by itself: read it again
      } catch (err) {
        if (err instanceof HistoryTruncatedError) throw err;
        if (signal.aborted) return;
        o.onError?.(err);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, o.maxRetryMs);
      }
    }
  } finally {
    o.signal?.removeEventListener('abort', stop);
    stop();
  }
}
