import type { Cancel } from '../ports/clock';
import type { LogStore } from '../ports/log-store';
import type { StableStore } from '../ports/stable-store';
import { stepStoreOf, type StepStore } from '../ports/step-store';
import { NONE, type Entry, type HardState, type Ready, type SnapshotInfo } from '../protocol/types';
import type { NodeContext } from './context';

/**
 * Longest pause between two attempts at a failing storage step: once the
 * database is back, the node writes again within this (an attempt is one
 * statement, cheap to repeat while it is down).
 */
const MAX_BACKOFF_MS = 250;
/** Attempts logged one by one; after them, one in this many (every 10 s at the longest pause). */
const LOG_FIRST_ATTEMPTS = 5;
const LOG_EVERY_ATTEMPTS = 40;
/** stop() waits this long for an in-flight store write before returning anyway. */
const STOP_WAIT_MS = 5000;

/**
 * The node's durable writes: a Ready's hard state and entries (one write
 * per step where the stores allow, the commit index lazily), and the retry
 * loop every storage step (writes, snapshot installs, compaction) runs in. A failing step is retried with backoff until it succeeds or the
 * node stops, so nothing that is not durable is ever acknowledged.
 */
export class NodeStorage {
  /** The last storage error, while a step is being retried (shown in status()). */
  error: string | undefined;

  /** The log store's StepStore capability, when it is paired with the stable store. */
  private readonly step: StepStore | undefined;
  /** Hard state as last written durably (term and vote are what a restart finds). */
  private saved: HardState = { term: 0, vote: NONE, commit: 0 };
  /** The newest hard state whose commit index is not written yet (term and vote as saved). */
  private pending: HardState | undefined;
  /** Ticks the pending commit index has waited. */
  private pendingTicks = 0;
  /** A background write of the pending commit index, while one runs. */
  private background: Promise<void> | undefined;
  /** Whether persist() is writing. */
  private foreground = false;

  constructor(
    private readonly ctx: Pick<NodeContext, 'id' | 'clock' | 'logger' | 'isRunning' | 'sleep'>,
    private readonly stores: { readonly logStore: LogStore; readonly stableStore: StableStore },
  ) {
    this.step = stepStoreOf(stores.logStore, stores.stableStore);
  }

  /** Whether steps are written in one write each (the log store is a StepStore paired with the stable store). */
  get combinedWrites(): boolean {
    return this.step !== undefined;
  }

  /**
   * Reads back what a previous run made durable: the hard state, the
   * newest snapshot (recoverSnapshot, see SnapshotManager.recover), and the
   * stored log, split at the snapshot's index. A stored log that ends before
   * the snapshot's last entry, or holds it with another term, is what a
   * crash between installing a leader's snapshot and resetting the log
   * leaves: it is discarded, as the install would have (discardsLog).
   * @returns `entries`, the log after the snapshot; `covered`, stored entries the snapshot covers
   *   (they stay readable on the committed stream); `lastIndex`, the store's last index
   */
  async recover(recoverSnapshot: () => Promise<SnapshotInfo | undefined>): Promise<{
    readonly hardState: HardState | undefined;
    readonly snapshot: SnapshotInfo | undefined;
    readonly entries: Entry[];
    readonly covered: Entry[];
    readonly lastIndex: number;
  }> {
    const { logStore, stableStore } = this.stores;
    const hardState = await stableStore.load();
    if (hardState) this.saved = hardState;
    const snapshot = await recoverSnapshot();
    const stored = await logStore.firstIndex();
    const lastIndex = await logStore.lastIndex();
    const all = lastIndex >= stored ? await logStore.entries(stored, lastIndex + 1) : [];
    if (snapshot && discardsLog(snapshot, stored, all)) {
      // A snapshot installed from the leader, the process gone before the log was reset (§7: the
      // log does not hold the snapshot's last entry, so none of it is kept).
      this.ctx.logger.warn(
        { node: this.ctx.id, snapshot: snapshot.index, firstIndex: stored, lastIndex },
        'the stored log does not continue the snapshot: discarding it',
      );
      await logStore.truncateSuffix(stored);
      await logStore.compactPrefix(snapshot.index);
      return { hardState, snapshot, entries: [], covered: [], lastIndex: snapshot.index };
    }
    const first = Math.max(stored, (snapshot?.index ?? 0) + 1);
    const split = Math.max(0, first - stored);
    return { hardState, snapshot, entries: all.slice(split), covered: all.slice(0, split), lastIndex };
  }

  /**
   * Makes what the Ready needs durable, in one write when the stores allow
   * (see StableStore for what is durable when):
   * - entries, with a StepStore: one persistStep carrying the latest hard
   *   state when it changed (the commit index rides along for free);
   * - entries, otherwise: LogStore.append, in parallel with a save() when
   *   term or vote changed (thesis §10.2.1);
   * - a term or vote change alone: save();
   * - a change of the commit index alone: nothing to wait for; it is kept
   *   pending until a later write carries it or flushCommit() writes it.
   * Throws the stores' errors (the caller retries, see retrying()).
   */
  async persist(rd: Ready): Promise<void> {
    const hs = rd.hardState;
    const vital = hs !== undefined && (hs.term !== this.saved.term || hs.vote !== this.saved.vote);
    if (hs && !vital) this.pending = hs;
    if (rd.entries.length === 0 && !vital) return;
    const carried = vital ? hs : this.background ? undefined : this.pending;
    // Hard-state writes never overlap: a vital one waits for a background flush.
    if (vital) await this.background;
    const { logStore, stableStore } = this.stores;
    this.foreground = true;
    try {
      if (this.step && rd.entries.length > 0) await this.step.persistStep(rd.entries, carried);
      else {
        await Promise.all([
          rd.entries.length > 0 ? logStore.append(rd.entries) : undefined,
          vital ? stableStore.save(hs) : undefined,
        ]);
      }
    } finally {
      this.foreground = false;
    }
    if (vital || (this.step && carried)) this.markSaved(carried!);
  }

  /**
   * Called once a tick: writes a pending commit index in the background
   * (never awaited by the Ready loop) once it has waited two ticks for a
   * write to carry it, unless a write is in flight. A failure is logged and
   * the commit stays pending.
   */
  onTick(): void {
    if (!this.pending || this.background || this.foreground) return;
    if (++this.pendingTicks < 2) return;
    this.background = this.flushCommit().finally(() => (this.background = undefined));
  }

  /**
   * Writes the pending commit index now, if there is one (stop() calls it so
   * a restart after a clean stop applies everything at once). Never throws:
   * a failure is logged and the commit stays pending.
   */
  async flushCommit(): Promise<void> {
    const state = this.pending;
    if (!state) return;
    try {
      await this.stores.stableStore.save(state);
      this.markSaved(state);
    } catch (err) {
      this.ctx.logger.warn({ node: this.ctx.id, err }, 'saving the commit index failed; will retry');
    }
  }

  /** Waits for a background commit write in flight, if any. */
  async settled(): Promise<void> {
    await this.background;
  }

  private markSaved(state: HardState): void {
    this.saved = state;
    if (this.pending && this.pending.commit <= state.commit) {
      this.pending = undefined;
      this.pendingTicks = 0;
    }
  }

  /**
   * Runs a storage step, retrying with backoff until it succeeds (the error
   * shows in status() meanwhile).
   * @returns true once it succeeded; false if the node stopped first
   */
  async retrying(what: string, step: () => Promise<void>): Promise<boolean> {
    const { id, logger, isRunning } = this.ctx;
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        if (this.error) logger.info({ node: id }, 'storage recovered');
        this.error = undefined;
        return true;
      } catch (err) {
        this.error = `${what}: ${err instanceof Error ? err.message : String(err)}`;
        if (attempt < LOG_FIRST_ATTEMPTS || attempt % LOG_EVERY_ATTEMPTS === 0)
          logger.error({ node: id, err, attempt }, `${what} failed; retrying`);
        if (!isRunning()) return false;
        await this.ctx.sleep(Math.min(MAX_BACKOFF_MS, 10 * 2 ** attempt));
        if (!isRunning()) return false;
      }
    }
  }

  /**
   * Waits for the Ready loop's step in flight (`work`) to settle, at most
   * STOP_WAIT_MS: a store write that never completes must not hold stop().
   * @returns whether it settled in time
   */
  async awaitInFlight(work: Promise<void> | undefined): Promise<boolean> {
    let cancelWait: Cancel = () => {};
    const settled = await Promise.race([
      work?.then(() => true) ?? Promise.resolve(true),
      new Promise<boolean>(
        (resolve) => (cancelWait = this.ctx.clock.setTimeout(() => resolve(false), STOP_WAIT_MS)),
      ),
    ]);
    cancelWait();
    return settled;
  }
}

/**
 * Whether the stored log (from index `stored`, entries `all`) must be
 * dropped for `snapshot` (§7): it ends before the snapshot's last entry, or
 * holds that entry with another term (what follows it is another history).
 * A log that starts right after the snapshot, or holds its last entry with
 * its term, is kept; one that starts further on (a hole: the snapshot store
 * lost a newer snapshot) is kept too, and refused when the log is rebuilt.
 */
function discardsLog(
  snapshot: { readonly index: number; readonly term: number },
  stored: number,
  all: readonly Entry[],
): boolean {
  if (stored > snapshot.index) return false;
  const at = all[snapshot.index - stored];
  return at === undefined || at.term !== snapshot.term;
}
