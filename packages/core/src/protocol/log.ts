import type { Entry } from './types';

/** Bytes an entry counts for when batching: its payload plus a fixed header allowance. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 16;
}

/**
 * The protocol's view of the replicated log: every retained entry in memory,
 * with marks for what is durable (`stable`), committed and handed out to apply.
 *
 * Invariants:
 *   entries[i].index === offset + 1 + i
 *   applied <= committed <= lastIndex()
 *   stable <= lastIndex()
 */
export class RaftLog {
  /** Index and term of the entry just before the first retained one (0/0 for an uncompacted log). */
  private offset = 0;
  private offsetTerm = 0;
  private entries: Entry[] = [];
  /** Highest index known to be durable in the driver's LogStore. */
  stable = 0;
  /** Highest index handed out for persistence in a Ready not yet advanced. */
  persisting = 0;
  committed = 0;
  /** Highest index handed out to apply (applied once the Ready is advanced). */
  applying = 0;
  applied = 0;

  /**
   * Starts from durable state: a snapshot (index/term of its last entry, or
   * 0/0) and the entries after it, contiguous and all durable. Entries the
   * snapshot covers are skipped.
   */
  constructor(
    entries: readonly Entry[] = [],
    committed = 0,
    applied = 0,
    snapshot: { readonly index: number; readonly term: number } = { index: 0, term: 0 },
  ) {
    this.offset = snapshot.index;
    this.offsetTerm = snapshot.term;
    const first = entries[0];
    if (snapshot.index === 0 && first && first.index > 1) {
      throw new Error(`log starts at ${first.index} but no snapshot covers what precedes it`);
    }
    for (const e of entries) {
      if (e.index <= this.offset) continue;
      if (e.index !== this.lastIndex() + 1) throw new Error(`log is not contiguous at index ${e.index}`);
      this.entries.push(e);
    }
    this.stable = this.persisting = this.lastIndex();
    this.committed = Math.max(this.offset, Math.min(committed, this.lastIndex()));
    this.applied = this.applying = Math.max(this.offset, Math.min(applied, this.committed));
  }

  /** Index and term of the last entry the snapshot covers (0/0 when none). */
  snapshotPoint(): { index: number; term: number } {
    return { index: this.offset, term: this.offsetTerm };
  }

  /**
   * Replaces the whole log with a snapshot ending at (index, term) (§7,
   * InstallSnapshot): everything is dropped, and the snapshot counts as
   * committed, applied and durable once the driver has installed it.
   */
  restore(index: number, term: number): void {
    this.offset = index;
    this.offsetTerm = term;
    this.entries = [];
    this.committed = this.applying = this.applied = index;
    this.stable = this.persisting = index;
  }

  /**
   * Drops the entries up to and including `index`, which a durable snapshot
   * covers (§7 log compaction). Invariant kept: never drops an unapplied entry.
   * @throws Error when index is beyond the applied index or the log
   */
  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.applied) throw new Error(`cannot compact to ${index}: only ${this.applied} is applied`);
    const term = this.term(index)!;
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Returns the term of entry i, or undefined when i is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.offset) return this.offsetTerm;
    if (i < this.offset || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset - 1]!.term;
  }

  entry(i: number): Entry | undefined {
    if (i <= this.offset || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset - 1];
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Appends entries that follow lastIndex() directly (leader path). */
  append(entries: readonly Entry[]): void {
    for (const e of entries) this.entries.push(e);
  }

  /**
   * Follower path (§5.3): given entries that follow (prevIndex, prevTerm),
   * which the caller has checked matches, drops any conflicting suffix and
   * appends what is new.
   * @returns the index of the last entry known to match the leader
   */
  appendAfter(prevIndex: number, entries: readonly Entry[]): number {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const mine = this.term(e.index);
      if (mine === e.term) continue;
      if (mine !== undefined) this.truncateFrom(e.index);
      this.append(entries.slice(k));
      break;
    }
    return prevIndex + entries.length;
  }

  /** Drops entries at index ≥ i. Invariant kept: never drops a committed entry. */
  private truncateFrom(i: number): void {
    if (i <= this.committed)
      throw new Error(`refusing to truncate committed entry ${i} (committed ${this.committed})`);
    this.entries.length = i - this.offset - 1;
    this.stable = Math.min(this.stable, i - 1);
    this.persisting = Math.min(this.persisting, i - 1);
  }

  /**
   * Entries in [lo, hi] capped at maxCount entries and maxBytes bytes (the
   * first entry always goes, however large).
   */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = Math.max(lo, this.firstIndex()); i <= Math.min(hi, this.lastIndex()); i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += entrySize(e);
      if (out.length > 0 && (out.length >= maxCount || bytes > maxBytes)) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Fast backtracking (§5.3): the largest index ≤ index whose term is ≤ term,
   * or the first retained position when none is.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset) {
      const t = this.term(i)!;
      if (t <= term) return i;
      i--;
    }
    return this.offset;
  }

  /** Raises the commit index; it never decreases. */
  commitTo(i: number): void {
    if (i > this.committed) {
      if (i > this.lastIndex()) throw new Error(`commit ${i} is beyond the last index ${this.lastIndex()}`);
      this.committed = i;
    }
  }

  /** Entries not yet handed out for persistence. */
  unpersisted(): Entry[] {
    return this.slice(this.persisting + 1, this.lastIndex());
  }

  /** Committed entries not yet handed out to apply, at most max of them. */
  unapplied(max: number): Entry[] {
    return this.slice(this.applying + 1, this.committed, max);
  }

  /** Marks entries up to (index, term) durable, unless that entry was replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stable) this.stable = index;
  }

  appliedTo(i: number): void {
    if (i > this.applied) this.applied = i;
  }
}
