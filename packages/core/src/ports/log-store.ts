import type { Entry } from '../protocol/types';

/**
 * Durable storage for the Raft log of one node in one group.
 *
 * Contract:
 * - A promise that resolves means the write is durable: it survives a crash
 *   of this process and of the machine (as far as the medium promises).
 * - Indexes are contiguous: after any sequence of calls the store holds
 *   exactly the entries firstIndex()..lastIndex(), with no gap.
 * - Calls are not concurrent: the node awaits each before issuing the next.
 */
export interface LogStore {
  /**
   * Appends entries (contiguous, ascending). When entries[0].index ≤
   * lastIndex(), the stored suffix from that index on is replaced first, in
   * the same atomic write. Throws LogGapError when entries[0].index > lastIndex() + 1.
   */
  append(entries: readonly Entry[]): Promise<void>;
  /** Returns the entries with lo ≤ index < hi (fewer if the log ends first). Throws CompactedError if lo < firstIndex(). */
  entries(lo: number, hi: number): Promise<Entry[]>;
  /** Index of the first retained entry; lastIndex() + 1 when the store is empty. */
  firstIndex(): Promise<number>;
  /** Index of the last entry; firstIndex() - 1 when empty (0 for a new log). */
  lastIndex(): Promise<number>;
  /** Removes every entry with index ≥ from. */
  truncateSuffix(from: number): Promise<void>;
  /** Removes every entry with index ≤ upTo (they are covered by a snapshot). */
  compactPrefix(upTo: number): Promise<void>;
  /** Releases resources. The store is unusable afterwards. */
  close(): Promise<void>;
}
