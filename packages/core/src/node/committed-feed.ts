import { pack, unpack } from '../codec';
import {
  CommandFailedError,
  CompactedError,
  ConfigError,
  DecodeError,
  OutcomeUnavailableError,
} from '../errors';
import type { Entry } from '../protocol/types';
import type { ApplyResult } from './applier';
import { FRAMEWORK_COMMAND_PREFIX, decodeCommand, type CommandEnvelope } from './command';
import type { OutcomeMarks } from './snapshots';

/**
 * An error as the committed stream reports it: the name and message of the
 * error the command failed with, as the proposer received it. `name` is the
 * framework's class (CommandFailedError, UnknownCommandError,
 * SessionExpiredError), so a consumer can tell a handler's refusal from a
 * command that never ran; for a CommandFailedError whose handler threw an
 * Error, `errorName` is that error's name (CommandFailedError.errorName, e.g.
 * 'StaleTokenError'), which the message names too.
 */
export interface OutcomeError {
  readonly name: string;
  readonly message: string;
  /** CommandFailedError.errorName: the name of what the handler threw; absent otherwise. */
  readonly errorName?: string;
}

/**
 * What became of one committed command. It is decided from replicated state
 * only (the log and the state machine's state before the entry), so every
 * replica reports the same outcome for the same index.
 *
 * - `applied`: the handler ran and returned. `value` is what it returned,
 *   present (as an own property: test `'value' in outcome`) only while this
 *   process applied the entry within its last `streamResultWindow` entries.
 * - `failed`: the command took no effect as a command: its handler threw or
 *   returned a Promise (CommandFailedError), no handler has its name
 *   (UnknownCommandError), or its client session could not vouch for it
 *   (SessionExpiredError). `error` is that error's name and message, as the
 *   proposer received it, and for a handler that threw, the name of what it
 *   threw (`errorName`, see OutcomeError). Changes a handler made before throwing stay
 *   (handlers are not rolled back): a handler that validates before it
 *   mutates keeps a failed command free of effects.
 * - `duplicate`: a retry of a (clientId, seq) the session layer had already
 *   applied, at log index `of`; the handler did not run again and the
 *   proposer received the first result (Raft thesis §6.3).
 */
export type CommandOutcome =
  | { readonly kind: 'applied'; readonly value?: unknown }
  | { readonly kind: 'failed'; readonly error: OutcomeError }
  | { readonly kind: 'duplicate'; readonly of: number };

/** The kinds of CommandOutcome. */
export type OutcomeKind = CommandOutcome['kind'];

/**
 * Which committed commands an iteration yields: `'applied'` (the default)
 * only those whose outcome is applied, so that a projection folds each
 * command once; `'all'` every command entry, each with its outcome.
 */
export type OutcomeFilter = 'applied' | 'all';

/** The values OutcomeFilter takes, in one place. */
export const OUTCOME_FILTERS: readonly OutcomeFilter[] = ['applied', 'all'];

/** Options of RaftNode.committed() / Replica.committed(). */
export interface CommittedOptions {
  /** First log index to yield from (default 1). */
  readonly fromIndex?: number;
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
  /** Which outcomes to yield (default 'applied'). */
  readonly outcomes?: OutcomeFilter;
}

/**
 * One committed command, as the committed stream yields it.
 *
 * What appears: every committed log entry that holds a command, in log
 * order (strictly increasing index), the same sequence on every replica.
 * Raft's own entries (a new leader's no-op, membership changes) never
 * appear, nor does a payload that does not decode as a
 * command; with `outcomes: 'applied'` (the default) failed and duplicate
 * commands are left out too, so indices have gaps.
 *
 * Outcomes after a restart or compaction: a replica restarts from its newest
 * snapshot and applies the log after it again, recomputing those outcomes.
 * Entries at or before the snapshot's index that the log still retains
 * (snapshotTrailingEntries, or a retainFrom() floor such as the JetStream
 * mirror's) were not applied again, so each snapshot carries a compact record
 * of them: the outcome of every retained entry that was not plainly applied
 * (kind plus error, or the first index). Every event a consumer can read
 * therefore carries its outcome; only `value` is limited to recent entries.
 * An entry the log no longer holds fails the iteration with CompactedError;
 * a snapshot written without outcome records (by an earlier raftline) makes
 * the entries before it fail with OutcomeUnavailableError.
 */
export interface CommittedEvent {
  readonly index: number;
  readonly term: number;
  readonly command: CommandEnvelope;
  readonly outcome: CommandOutcome;
}

/** An outcome other than applied, as the feed keeps it for every retained entry. */
type Mark = Exclude<CommandOutcome, { kind: 'applied' }>;

/** Version of the stored marks: [version, from, rows]; every entry in [from, snapshot index] without a row was applied. */
const MARKS_VERSION = 1;
/**
 * A mark in a snapshot: [index, 'f', name, message], [index, 'f', name,
 * message, errorName] (OutcomeError.errorName; raftline wrote only the first
 * before it kept it) or [index, 'd', of].
 */
type MarkRow = [number, 'f', string, string] | [number, 'f', string, string, string] | [number, 'd', number];

/** The framework's own commands (session registration) are not the user's: the stream never yields them. */
const isFramework = (command: CommandEnvelope): boolean => command.name.startsWith(FRAMEWORK_COMMAND_PREFIX);

const READ_BATCH = 256;

/** The mark of a result, undefined for a plain application. */
function markOf(result: ApplyResult): Mark | undefined {
  if (result.duplicateOf !== undefined) return { kind: 'duplicate', of: result.duplicateOf };
  if (!result.ok) return { kind: 'failed', error: outcomeError(result.error) };
  return undefined;
}

/** The outcome error of a failed result (see OutcomeError). */
function outcomeError(error: Error): OutcomeError {
  const { name, message } = error;
  const errorName = error instanceof CommandFailedError ? error.errorName : undefined;
  return errorName === undefined ? { name, message } : { name, message, errorName };
}

/**
 * Serves the committed stream: iterators pull entries in log order from the
 * node's retained log, so a slow consumer holds at most one batch in memory
 * and never delays the node.
 *
 * Invariant: `marks` holds the outcome of every entry in [max(knownFrom,
 * first readable index), applied] whose outcome is not applied, in index
 * order; entries there without a mark were applied. Commands and outcomes (values
 * included) of the last `window` entries are cached besides.
 */
export class CommittedFeed {
  private readonly recent = new Map<number, { command: CommandEnvelope; outcome: CommandOutcome }>();
  private marks = new Map<number, Mark>();
  /** Outcomes are known from this index on. */
  private knownFrom = 1;
  /**
   * Entries a restored snapshot covers that the log store still held at
   * start (the in-memory log starts after the snapshot): readable while the
   * in-memory log still starts at `coveredUntil`, i.e. until the next compaction.
   */
  private covered: readonly Entry[] = [];
  private coveredUntil = 0;
  private applied = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly window: number,
    private readonly readLog: (lo: number, hi: number) => Entry[],
    /** The in-memory log's first index. */
    private readonly firstIndex: () => number,
  ) {}

  /** Records that entry e was applied (with its decoded command and result), waking iterators. */
  push(e: Entry, command: CommandEnvelope | undefined, result: ApplyResult | undefined): void {
    this.applied = e.index;
    if (command && result) {
      const mark = markOf(result);
      if (mark) this.marks.set(e.index, mark);
      const outcome: CommandOutcome = mark ?? {
        kind: 'applied',
        value: result.ok ? result.value : undefined,
      };
      this.recent.set(e.index, { command, outcome });
    }
    this.recent.delete(e.index - this.window);
    this.dropCompactedMarks();
    this.wake();
  }

  /**
   * The state jumped to a snapshot at `index` (restored just before, with
   * its outcome marks): entries up to it are applied. `covered` are the
   * entries up to `index` the log store still holds (at start), which stay
   * readable until the next compaction; other entries up to it fail
   * iterators with CompactedError.
   */
  skipTo(index: number, covered: readonly Entry[] = []): void {
    if (index <= this.applied) return;
    this.applied = index;
    this.knownFrom = Math.min(this.knownFrom, index + 1);
    this.covered = covered.filter((e) => e.index <= index);
    this.coveredUntil = index + 1;
    this.recent.clear();
    this.wake();
  }

  /** Ends every iterator once it has caught up. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * Yields committed commands with index ≥ fromIndex, waiting for new ones,
   * filtered by options.outcomes (see CommittedEvent for what appears).
   * @throws ConfigError at once for an unknown options.outcomes
   * @throws CompactedError (from the iterator) when an entry to yield is no longer retained
   * @throws OutcomeUnavailableError (from the iterator) when an entry's outcome is not known here
   */
  iterate(options: CommittedOptions = {}): AsyncGenerator<CommittedEvent> {
    const outcomes = options.outcomes ?? 'applied';
    if (!OUTCOME_FILTERS.includes(outcomes)) {
      throw new ConfigError([`outcomes (${String(outcomes)}) must be one of ${OUTCOME_FILTERS.join(', ')}`]);
    }
    return this.run(Math.max(1, options.fromIndex ?? 1), outcomes === 'all', options.signal);
  }

  /**
   * The outcome marks each snapshot stores (as metadata, beside the
   * machine's state): those of the entries the log retains up to it, so that
   * after a restart retained entries at or before the snapshot's index keep
   * the outcome they had.
   */
  snapshotMarks(): OutcomeMarks {
    return {
      capture: () => this.captureMarks(),
      prepare: (bytes) => this.prepareMarks(bytes),
    };
  }

  private async *run(
    from: number,
    all: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<CommittedEvent> {
    const onAbort = (): void => this.wake();
    signal?.addEventListener('abort', onAbort);
    try {
      let next = from;
      while (true) {
        if (signal?.aborted) return;
        if (next > this.applied) {
          if (this.closed) return;
          await new Promise<void>((resolve) => this.waiters.push(resolve));
          continue;
        }
        const batch = this.read(next, Math.min(this.applied, next + READ_BATCH - 1));
        if (batch.length === 0 || batch[0]!.index !== next)
          throw new CompactedError(next, this.firstReadable());
        for (const e of batch) {
          next = e.index + 1;
          const event = this.event(e);
          if (event && (all || event.outcome.kind === 'applied')) yield event;
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private event(e: Entry): CommittedEvent | undefined {
    if (e.type !== 'normal') return undefined;
    const { index, term } = e;
    const cached = this.recent.get(index);
    if (cached) {
      return isFramework(cached.command)
        ? undefined
        : { index, term, command: cached.command, outcome: cached.outcome };
    }
    let command: CommandEnvelope;
    try {
      command = decodeCommand(e.data);
    } catch (err) {
      if (err instanceof DecodeError) return undefined; // it failed to apply too; nothing to stream
      throw err;
    }
    if (isFramework(command)) return undefined;
    const mark = this.marks.get(index);
    if (mark) return { index, term, command, outcome: mark };
    if (index < this.knownFrom) throw new OutcomeUnavailableError(index, this.knownFrom);
    return { index, term, command, outcome: { kind: 'applied' } };
  }

  /** Entries lo..hi (fewer where they are not retained), from the covered entries or the log. */
  private read(lo: number, hi: number): Entry[] {
    const covered = this.coveredEntries();
    const start = covered[0]?.index;
    if (start !== undefined && lo >= start && lo < this.coveredUntil) {
      return covered.slice(lo - start, Math.min(hi, this.coveredUntil - 1) - start + 1);
    }
    return this.readLog(lo, hi);
  }

  /** The covered entries, while the log store still holds them (it does until the log is compacted again). */
  private coveredEntries(): readonly Entry[] {
    if (this.covered.length > 0 && this.firstIndex() !== this.coveredUntil) this.covered = [];
    return this.covered;
  }

  /** The first index an iterator can read. */
  private firstReadable(): number {
    return this.coveredEntries()[0]?.index ?? this.firstIndex();
  }

  /** Drops marks of entries the log no longer holds (marks are in index order). */
  private dropCompactedMarks(): void {
    const first = this.firstReadable();
    for (const index of this.marks.keys()) {
      if (index >= first) break;
      this.marks.delete(index);
    }
  }

  private captureMarks(): Uint8Array {
    const known = Number.isFinite(this.knownFrom) ? this.knownFrom : this.applied + 1;
    const from = Math.max(known, this.firstReadable());
    const rows: MarkRow[] = [];
    for (const [index, m] of this.marks) {
      if (index < from) continue;
      rows.push(m.kind === 'failed' ? failedRow(index, m.error) : [index, 'd', m.of]);
    }
    return pack([MARKS_VERSION, from, rows]);
  }

  /**
   * Checks the marks of a snapshot about to be restored; the returned
   * function installs them. Without marks (a snapshot an earlier raftline
   * wrote) outcomes stay unknown up to its index (skipTo sets knownFrom).
   * @throws DecodeError when the marks are malformed (nothing changes)
   */
  private prepareMarks(bytes: Uint8Array | undefined): () => void {
    if (!bytes) {
      return () => {
        this.marks = new Map();
        this.knownFrom = Number.POSITIVE_INFINITY;
      };
    }
    const v = unpackOrUndefined(bytes);
    if (!Array.isArray(v)) throw new DecodeError('snapshot outcome marks are malformed');
    const [version, from, rows] = v as unknown[];
    if (version !== MARKS_VERSION)
      throw new DecodeError(`unsupported outcome-marks version ${String(version)}`);
    if (!Number.isSafeInteger(from) || !Array.isArray(rows)) {
      throw new DecodeError('snapshot outcome marks are malformed');
    }
    const marks = new Map<number, Mark>();
    for (const row of rows as unknown[]) marks.set(...markFromRow(row));
    return () => {
      this.marks = marks;
      this.knownFrom = from as number;
    };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function failedRow(index: number, e: OutcomeError): MarkRow {
  return e.errorName === undefined
    ? [index, 'f', e.name, e.message]
    : [index, 'f', e.name, e.message, e.errorName];
}

/** @throws DecodeError when row is not a MarkRow */
function markFromRow(row: unknown): [number, Mark] {
  if (Array.isArray(row) && Number.isSafeInteger(row[0])) {
    const [index, tag, a, b, c] = row as unknown[];
    if (tag === 'f' && typeof a === 'string' && typeof b === 'string' && row.length <= 5) {
      if (row.length === 4) return [index as number, { kind: 'failed', error: { name: a, message: b } }];
      if (typeof c === 'string') {
        return [index as number, { kind: 'failed', error: { name: a, message: b, errorName: c } }];
      }
    }
    if (tag === 'd' && Number.isSafeInteger(a))
      return [index as number, { kind: 'duplicate', of: a as number }];
  }
  throw new DecodeError('snapshot outcome mark is malformed');
}

function unpackOrUndefined(data: Uint8Array): unknown {
  try {
    return unpack(data);
  } catch {
    return undefined;
  }
}
