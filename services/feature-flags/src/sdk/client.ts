/**
 * The client SDK: evaluates one environment's flags locally, in the
 * application's process, from a copy that follows the log.
 *
 * open() loads a snapshot of the environment from a replica (a linearizable
 * query by default), then follows the committed stream from the index after
 * it, applying each command to its copy with the store's own code
 * (EnvironmentView), so evaluate() answers what a replica's evaluate query
 * answers at the same index: the same evaluator on the same state. The
 * index it evaluates at is appliedIndex; waitFor(index) waits until the copy
 * holds a given index (a write's version: read-your-writes).
 *
 * Failures: when the stream breaks (NATS disconnects, the server restarts,
 * the stream is not there yet) the client keeps evaluating the state it
 * holds and reads the stream again from where it stopped, with backoff;
 * leader changes do not concern it (the mirror continues on the new leader).
 * When the stream cannot continue from there (its messages were removed, or
 * compacted from the log a node's own stream reads) or
 * a command cannot be applied locally (ViewOutOfDateError), it reloads a
 * snapshot. Such errors are reported on 'error' (when someone listens) and
 * never thrown into the application.
 */
import { EventEmitter } from 'node:events';
import { ConfigError, type CommandsOf } from '@raftline/core';
import type { FeatureFlags, ImportFlagdResult, ImportOptions } from '../machine';
import type {
  EnvironmentSnapshot,
  EvaluationContext,
  EvaluationDetails,
  FlagDefinition,
  FlagRecord,
  FlagType,
  SegmentDefinition,
  WriteOptions,
  WriteResult,
} from '../types';
import { FlagClientClosedError, ViewOutOfDateError, WaitTimeoutError } from './errors';
import { natsFlagSource, type FlagSource, type NatsFlagSourceOptions } from './source';
import { EnvironmentView, type CommittedChange, type FlagChange } from './view';

/** What FlagClient.open() needs. */
export interface FlagClientOptions {
  /** Where snapshots and the committed stream come from (natsFlagSource, or your own). */
  readonly source: FlagSource;
  /** The environment evaluated (dev, staging, prod, …). */
  readonly environment: string;
  /** First wait before reading the stream again after it broke (default 100 ms; doubles up to maxRetryMs). */
  readonly retryMs?: number;
  /** Longest wait between attempts (default 2000 ms). */
  readonly maxRetryMs?: number;
  /**
   * waitFor(index) reloads a snapshot when the stream has not brought the
   * index after this long (default 1000 ms): an index that is no command
   * (a session registration) never shows on the stream.
   */
  readonly refreshAfterMs?: number;
}

/** FlagClient.connect(): NATS options, the environment, and the client's own timings. */
export interface FlagClientConnectOptions extends NatsFlagSourceOptions, Omit<FlagClientOptions, 'source'> {}

/** Options of waitFor. */
export interface WaitOptions {
  /** Give up after this long (default 5000 ms) with WaitTimeoutError. */
  readonly timeoutMs?: number;
}

/** A write's options without the environment (the client's). */
export type ClientWriteOptions = WriteOptions;

const OPTION_KEYS = new Set(['source', 'environment', 'retryMs', 'maxRetryMs', 'refreshAfterMs']);

interface Waiter {
  readonly index: number;
  readonly resolve: (index: number) => void;
  readonly reject: (err: unknown) => void;
}

/** The events of a FlagClient. */
export interface FlagClientEvents {
  /** Applied commands (or a reloaded snapshot) changed these flags. */
  change: [FlagChange];
  /** The stream broke or a snapshot could not be loaded; the client retries by itself. */
  error: [Error];
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

function checkOptions(
  options: FlagClientOptions,
): Required<Omit<FlagClientOptions, 'source' | 'environment'>> {
  const problems: string[] = [];
  for (const k of Object.keys(options)) if (!OPTION_KEYS.has(k)) problems.push(`unknown key '${k}'`);
  if (typeof options.environment !== 'string' || options.environment === '')
    problems.push('environment must be a non-empty string');
  const o = { retryMs: 100, maxRetryMs: 2000, refreshAfterMs: 1000, ...options };
  for (const k of ['retryMs', 'maxRetryMs', 'refreshAfterMs'] as const)
    if (!Number.isFinite(o[k]) || o[k] < 1) problems.push(`${k} (${String(o[k])}) must be at least 1`);
  if (o.maxRetryMs < o.retryMs)
    problems.push(`maxRetryMs (${o.maxRetryMs}) must be at least retryMs (${o.retryMs})`);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `FlagClient options: ${p}`));
  return { retryMs: o.retryMs, maxRetryMs: o.maxRetryMs, refreshAfterMs: o.refreshAfterMs };
}

/**
 * Local evaluation of one environment, kept current from the log (see the
 * module comment). Events: 'change' (FlagChange) after every command that
 * changed a flag of the environment, 'error' (Error) when the stream broke
 * (only emitted while someone listens).
 */
export class FlagClient extends EventEmitter<FlagClientEvents> {
  readonly environment: string;
  private view: EnvironmentView;
  private readonly source: FlagSource;
  private readonly timing: Required<Omit<FlagClientOptions, 'source' | 'environment'>>;
  private readonly abort = new AbortController();
  private readonly waiters = new Set<Waiter>();
  private refreshing: Promise<boolean> | undefined;
  private following: Promise<void> = Promise.resolve();
  private resyncNeeded = false;

  private constructor(
    options: FlagClientOptions,
    snapshot: EnvironmentSnapshot,
    timing: FlagClient['timing'],
  ) {
    super();
    this.environment = options.environment;
    this.source = options.source;
    this.timing = timing;
    this.view = new EnvironmentView(snapshot);
  }

  /**
   * Loads a snapshot of options.environment from options.source and starts
   * following the committed stream after it.
   * @returns the client, ready to evaluate
   * @throws ConfigError naming every bad option
   * @throws what source.snapshot() throws (e.g. ReadNotConfirmedError: no
   *   replica answered); nothing keeps running then
   */
  static async open(options: FlagClientOptions): Promise<FlagClient> {
    const timing = checkOptions(options);
    const snapshot = await options.source.snapshot(options.environment);
    const client = new FlagClient(options, snapshot, timing);
    client.following = client.follow();
    return client;
  }

  /**
   * Connects over NATS (natsFlagSource) and opens a client on it; close()
   * closes the typed client it made (not the connection).
   * @returns the client, ready to evaluate
   * @throws ConfigError, SubjectTokenError for bad options; what the first snapshot load throws
   */
  static async connect(options: FlagClientConnectOptions): Promise<FlagClient> {
    const { environment, retryMs, maxRetryMs, refreshAfterMs, ...nats } = options;
    const source = await natsFlagSource(nats);
    try {
      return await FlagClient.open({
        source,
        environment,
        ...(retryMs !== undefined ? { retryMs } : {}),
        ...(maxRetryMs !== undefined ? { maxRetryMs } : {}),
        ...(refreshAfterMs !== undefined ? { refreshAfterMs } : {}),
      });
    } catch (err) {
      await source.close?.();
      throw err;
    }
  }

  // ------------------------------------------------------------ evaluation

  /**
   * Evaluates flag key for context against the state at appliedIndex, with
   * the evaluator the replicas' evaluate query uses. Synchronous and never
   * throws; after close() it keeps answering from the last state held.
   * @param expectedType the type the caller reads; another answers ERROR / TYPE_MISMATCH
   * @returns the details (frozen and shared: do not mutate)
   */
  evaluate(key: string, context: EvaluationContext = {}, expectedType?: FlagType): EvaluationDetails {
    return this.view.evaluator.evaluate(key, context, expectedType);
  }

  /** The log index of the state evaluate() answers from: the last command applied (or the snapshot's). */
  get appliedIndex(): number {
    return this.view.appliedIndex;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** @returns flag key's record as held at appliedIndex, or undefined */
  getFlag(key: string): FlagRecord | undefined {
    return this.view.getFlag(key);
  }

  /** @returns every flag held at appliedIndex, by key */
  listFlags(): FlagRecord[] {
    return this.view.listFlags();
  }

  /** @returns the state held, shaped as the environmentSnapshot query answers */
  snapshot(): EnvironmentSnapshot {
    return this.view.snapshot();
  }

  /**
   * Waits until the client holds index (a write's version, a snapshot's
   * appliedIndex): read-your-writes. Resolves at once when it does already.
   * @returns the appliedIndex then (≥ index)
   * @throws WaitTimeoutError after options.timeoutMs; FlagClientClosedError when closed meanwhile
   */
  waitFor(index: number, options: WaitOptions = {}): Promise<number> {
    if (this.appliedIndex >= index) return Promise.resolve(this.appliedIndex);
    if (this.closed) return Promise.reject(new FlagClientClosedError(this.environment));
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<number>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        clearInterval(refresher);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        index,
        resolve: (i) => (settle(), resolve(i)),
        reject: (e) => (settle(), reject(e)),
      };
      const timer = setTimeout(
        () => waiter.reject(new WaitTimeoutError(index, this.appliedIndex, timeoutMs)),
        timeoutMs,
      );
      const refresher = setInterval(
        () => void this.refresh().catch(() => undefined),
        this.timing.refreshAfterMs,
      );
      this.waiters.add(waiter);
    });
  }

  /**
   * Loads a snapshot now and takes it when it is newer than the state held.
   * One load at a time: concurrent calls share it.
   * @returns whether the state moved to the snapshot
   * @throws what source.snapshot() throws; FlagClientClosedError when closed
   */
  refresh(): Promise<boolean> {
    if (this.closed) return Promise.reject(new FlagClientClosedError(this.environment));
    this.refreshing ??= this.reload().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  // ---------------------------------------------------------------- writes

  /**
   * setFlag through the source's commands (the typed client): creates or
   * replaces flag key of this environment; with expectedVersion, a
   * compare-and-set. The local copy shows it once waitFor(result.version).
   * @returns the new version and the one replaced
   * @throws CommandRejectedError (InvalidDefinitionError …), CommandFailedError
   *   (VersionConflictError …; read flagErrorName(err)), the typed client's
   *   errors (OutcomeUnknownError …), FlagClientClosedError, ConfigError when
   *   the source has no commands
   */
  setFlag(key: string, definition: FlagDefinition, options: ClientWriteOptions): Promise<WriteResult> {
    return this.commands().setFlag(this.environment, key, definition, options);
  }

  /** The kill switch (see setFlag for what it returns and throws). */
  setEnabled(key: string, enabled: boolean, options: ClientWriteOptions): Promise<WriteResult> {
    return this.commands().setEnabled(this.environment, key, enabled, options);
  }

  /** Deletes flag key (see setFlag for what it returns and throws). */
  deleteFlag(key: string, options: ClientWriteOptions): Promise<WriteResult> {
    return this.commands().deleteFlag(this.environment, key, options);
  }

  /** Creates or replaces segment name (see setFlag for what it returns and throws). */
  setSegment(name: string, definition: SegmentDefinition, options: ClientWriteOptions): Promise<WriteResult> {
    return this.commands().setSegment(this.environment, name, definition, options);
  }

  /** Deletes segment name (see setFlag; also SegmentInUseError). */
  deleteSegment(name: string, options: ClientWriteOptions): Promise<WriteResult> {
    return this.commands().deleteSegment(this.environment, name, options);
  }

  /** Imports a flagd document into this environment (see FeatureFlags.importFlagd). */
  importFlagd(document: unknown, options: ImportOptions): Promise<ImportFlagdResult> {
    return this.commands().importFlagd(this.environment, document, options);
  }

  /**
   * Stops following the stream, rejects pending waits with
   * FlagClientClosedError and closes the source. evaluate() keeps answering
   * from the last state. Idempotent.
   * @returns once the stream reader has stopped
   */
  async close(): Promise<void> {
    if (this.closed) return this.following;
    this.abort.abort();
    for (const w of [...this.waiters]) w.reject(new FlagClientClosedError(this.environment));
    await this.following;
    await this.source.close?.();
  }

  // ------------------------------------------------------------- internals

  private commands(): CommandsOf<FeatureFlags> {
    if (this.closed) throw new FlagClientClosedError(this.environment);
    if (!this.source.commands) throw new ConfigError(['FlagClient: its source has no commands (read-only)']);
    return this.source.commands;
  }

  /** Reads the stream, from the index after the state held, until closed; see the module comment. */
  private async follow(): Promise<void> {
    const signal = this.abort.signal;
    let delay = this.timing.retryMs;
    while (!signal.aborted) {
      try {
        if (this.resyncNeeded) await this.reload();
        for await (const c of this.source.committed(this.appliedIndex + 1, signal)) {
          if (signal.aborted) break;
          this.take(c);
          delay = this.timing.retryMs;
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof ViewOutOfDateError || isStreamGap(err)) this.resyncNeeded = true;
        this.report(err);
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, this.timing.maxRetryMs);
    }
  }

  /** Applies one committed command; @throws ViewOutOfDateError (the view is unchanged) */
  private take(c: CommittedChange): void {
    const change = this.view.apply(c);
    this.settleWaiters();
    if (change) this.emit('change', change);
  }

  private async reload(): Promise<boolean> {
    const snapshot = await this.source.snapshot(this.environment);
    this.resyncNeeded = false;
    if (this.closed || snapshot.appliedIndex <= this.appliedIndex) return false;
    const next = new EnvironmentView(snapshot);
    const change = this.view.changeTo(next);
    this.view = next;
    this.settleWaiters();
    if (change.flags.length > 0 || change.segments.length > 0) this.emit('change', change);
    return true;
  }

  private settleWaiters(): void {
    for (const w of this.waiters) if (w.index <= this.appliedIndex) w.resolve(this.appliedIndex);
  }

  private report(err: unknown): void {
    if (this.listenerCount('error') > 0)
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Whether err says the stream cannot be read from the index asked: the
 * mirror's messages there were removed (CommittedStreamError), or a node's
 * own stream no longer holds the entries (CompactedError, OutcomeUnavailableError).
 */
function isStreamGap(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'CompactedError' || err.name === 'OutcomeUnavailableError') return true;
  return err.name === 'CommittedStreamError' && /removed/.test(err.message);
}
