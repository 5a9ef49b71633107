import type { Cancel } from '../ports/clock';
import type { LogStore } from '../ports/log-store';
import type { StableStore } from '../ports/stable-store';
import type { Entry, HardState, Ready, SnapshotInfo } from '../protocol/types';
import type { NodeContext } from './context';

/** Longest pause between two attempts at a failing storage step. */
const MAX_BACKOFF_MS = 1000;
/** stop() waits this long for an in-flight store write before returning anyway. */
const STOP_WAIT_MS = 5000;

/**
 * The node's durable writes: a Ready's hard state and entries, and the
 * retry loop every storage step (writes, snapshot installs, compaction)
 * runs in. A failing step is retried with backoff until it succeeds or the
 * node stops, so nothing that is not durable is ever acknowledged.
 */
export class NodeStorage {
  /** The last storage error, while a step is being retried (shown in status()). */
  error: string | undefined;

  constructor(
    private readonly ctx: Pick<NodeContext, 'id' | 'clock' | 'logger' | 'isRunning' | 'sleep'>,
    private readonly stores: { readonly logStore: LogStore; readonly stableStore: StableStore },
  ) {}

  /**
   * Reads back what a previous run made durable: the hard state, the
   * newest snapshot (recoverSnapshot, see SnapshotManager.recover), and the
   * stored log, split at the snapshot's index.
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
    const snapshot = await recoverSnapshot();
    const stored = await logStore.firstIndex();
    const first = Math.max(stored, (snapshot?.index ?? 0) + 1);
    const lastIndex = await logStore.lastIndex();
    const all = lastIndex >= stored ? await logStore.entries(stored, lastIndex + 1) : [];
    const split = Math.max(0, first - stored);
    return { hardState, snapshot, entries: all.slice(split), covered: all.slice(0, split), lastIndex };
  }

  /** Makes the Ready's hard state and entries durable, both writes at once (thesis §10.2.1). */
  async persist(rd: Ready): Promise<void> {
    if (rd.entries.length === 0 && !rd.hardState) return;
    const { logStore, stableStore } = this.stores;
    await Promise.all([
      rd.entries.length > 0 ? logStore.append(rd.entries) : undefined,
      rd.hardState ? stableStore.save(rd.hardState) : undefined,
    ]);
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
