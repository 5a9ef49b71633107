import type { Entry } from '@raftline/core';

/**
 * The most recent entries of the log, in memory, so that the reads Raft does
 * most (entries just appended, to send to followers; their terms) never reach
 * the database.
 *
 * Invariant: the cached entries are contiguous and, when any are cached, the
 * last one is the log's last entry. At most `capacity` entries are kept.
 */
export class TailCache {
  private entries: Entry[] = [];

  constructor(readonly capacity: number) {}

  /** Index of the first cached entry, or undefined when nothing is cached. */
  get start(): number | undefined {
    return this.entries[0]?.index;
  }

  /** Records entries just made durable at entries[0].index…, replacing any cached suffix from there. */
  append(batch: readonly Entry[]): void {
    const first = batch[0];
    if (!first || this.capacity <= 0) return;
    const start = this.start;
    if (start === undefined || first.index < start || first.index > start + this.entries.length) {
      // Not adjacent to what is cached: start over from this batch.
      this.entries = [];
    } else {
      this.entries.length = first.index - start;
    }
    const keep = batch.length > this.capacity ? batch.slice(batch.length - this.capacity) : batch;
    for (const e of keep) this.entries.push(e);
    const excess = this.entries.length - this.capacity;
    if (excess > 0) this.entries.splice(0, excess);
  }

  /** Returns entries lo ≤ index < hi if the cache holds all of them (hi ≤ last + 1), else undefined. */
  range(lo: number, hi: number): Entry[] | undefined {
    const start = this.start;
    if (start === undefined || lo < start) return undefined;
    const from = lo - start;
    const to = hi - start;
    if (to > this.entries.length) return undefined;
    return this.entries.slice(from, Math.max(from, to));
  }

  /** Returns the term of entry `index` if cached. */
  term(index: number): number | undefined {
    const start = this.start;
    if (start === undefined || index < start) return undefined;
    return this.entries[index - start]?.term;
  }

  /** Forgets entries with index ≥ from. */
  truncateFrom(from: number): void {
    const start = this.start;
    if (start === undefined) return;
    this.entries.length = Math.max(0, Math.min(this.entries.length, from - start));
  }

  /** Forgets entries with index ≤ upTo. */
  dropThrough(upTo: number): void {
    const start = this.start;
    if (start === undefined || upTo < start) return;
    this.entries.splice(0, upTo - start + 1);
  }

  /** Forgets everything (after a failure leaves the log's state unknown). */
  clear(): void {
    this.entries = [];
  }
}
