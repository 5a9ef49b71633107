import {
  CompactedError,
  LogGapError,
  type Entry,
  type HardState,
  type LogStore,
  type StableStore,
  type StepStore,
} from '@raftline/core';
import { MAX_BYTES_PER_INSERT, MAX_ROWS_PER_INSERT, entryTypeCode, toEntry, type EntryRecord } from './sql';
import { hardStateParams, PostgresStableStore } from './stable-store';
import { StoreBase, type StoreContext } from './store-base';
import { TailCache } from './tail-cache';
import type { QueryOptions, SqlSession } from './executor';

/** Hot statements run as prepared statements (see QueryOptions). */
const PREPARED: QueryOptions = { prepared: true };
/** INSERTs of up to this many rows are prepared (one statement per row count and connection). */
const PREPARED_MAX_ROWS = 16;

interface Bounds {
  /** Index of the first retained entry. */
  readonly first: number;
  /** Index of the last entry; first - 1 when empty. */
  readonly last: number;
}

interface BoundsRecord {
  first: string | number | null;
  last: string | number | null;
}

/**
 * LogStore over PostgreSQL or PGlite: one row per entry in log_entry, keyed
 * by (group_id, node_id, idx); where the log starts after compaction in
 * log_bounds.
 *
 * Writes: an append is one INSERT (multi-row, parameterized) when it extends
 * the log, or one transaction (DELETE of the replaced suffix + INSERTs) when it
 * overwrites or is too large for one statement, so a crash leaves either the
 * old log or the new one, never a gap. truncateSuffix and compactPrefix are
 * single statements.
 *
 * Reads: first/last index are kept in memory and the newest entries in a
 * bounded TailCache, so the reads Raft does most do not reach the database.
 * This assumes one writer per (group, node): the instance that appends is the
 * only one changing those rows. After any failure both are dropped and
 * re-read, since a lost COMMIT leaves the outcome unknown.
 *
 * StepStore (a core capability RaftNode detects): with the
 * PostgresStableStore opened alongside, persistStep writes a Raft step's
 * entries and hard state in one commit.
 *
 * Every method throws StoreUnavailableError when the database fails and
 * StoreClosedError after close().
 */
export class PostgresLogStore extends StoreBase implements LogStore, StepStore {
  private bounds: Bounds | undefined;
  private readonly tail: TailCache;

  /** @param tailCapacity entries kept in memory (0 disables the cache) */
  constructor(context: StoreContext, tailCapacity: number) {
    super(context, 'log store');
    this.tail = new TailCache(tailCapacity);
  }

  /**
   * Appends entries (contiguous, ascending), replacing the stored suffix from
   * entries[0].index in the same transaction when it overlaps. Resolves once
   * the write is committed (durable with synchronous_commit=on).
   * Throws LogGapError if entries[0].index > lastIndex() + 1 or the batch is
   * not contiguous, CompactedError if entries[0].index < firstIndex().
   */
  async append(entries: readonly Entry[]): Promise<void> {
    return this.write(entries, undefined);
  }

  /**
   * StepStore: whether stable is the PostgresStableStore opened with this
   * log store (same createPostgresStores() call), whose row persistStep writes.
   */
  pairsWith(stable: StableStore): boolean {
    return stable instanceof PostgresStableStore && this.sharesContextWith(stable);
  }

  /**
   * StepStore: appends entries as append() does and, when state is given,
   * upserts the node's hard state as PostgresStableStore.save does, in one
   * atomic write (one statement when the entries extend the log and fit one
   * INSERT, else one transaction). Resolves once committed.
   * Throws what append() and save() throw.
   */
  async persistStep(entries: readonly Entry[], state: HardState | undefined): Promise<void> {
    if (entries.length === 0 && state) {
      return this.run(`persistStep(term ${state.term})`, async () => {
        await this.db.query(this.sql.saveHardState, [...this.key, ...hardStateParams(state)], PREPARED);
      });
    }
    return this.write(entries, state);
  }

  private async write(entries: readonly Entry[], state: HardState | undefined): Promise<void> {
    const head = entries[0];
    if (!head) return this.run('append([])', async () => undefined);
    const at = head.index;
    const end = at + entries.length - 1;
    return this.run(
      `append(${at}..${end})${state ? ` with hard state (term ${state.term})` : ''}`,
      async () => {
        entries.forEach((e, i) => {
          if (e.index !== at + i) throw new LogGapError(e.index, at + i - 1);
        });
        const { first, last } = await this.loadBounds();
        if (at > last + 1) throw new LogGapError(at, last);
        if (at < first) throw new CompactedError(at, first);
        const batches = splitForInsert(entries);
        const only = batches.length === 1 ? batches[0] : undefined;
        if (at > last && only) {
          // Extends the log: one statement (with the hard state in a CTE) is already atomic.
          await this.insert(this.db, only, state);
        } else {
          await this.db.transaction(async (tx) => {
            if (at <= last) await tx.query(this.sql.deleteSuffix, [...this.key, at]);
            for (const batch of batches) await this.insert(tx, batch, undefined);
            if (state)
              await tx.query(this.sql.saveHardState, [...this.key, ...hardStateParams(state)], PREPARED);
          });
        }
        this.bounds = { first, last: end };
        this.tail.append(entries);
      },
    );
  }

  /**
   * Returns the entries with lo ≤ index < hi (fewer if the log ends first).
   * Throws CompactedError if lo < firstIndex().
   */
  async entries(lo: number, hi: number): Promise<Entry[]> {
    return this.run(`entries(${lo}, ${hi})`, async () => {
      const { first, last } = await this.loadBounds();
      if (lo < first) throw new CompactedError(lo, first);
      const end = Math.min(hi, last + 1);
      if (end <= lo) return [];
      const cached = this.tail.range(lo, end);
      if (cached) return cached;
      const res = await this.db.query<EntryRecord>(this.sql.readRange, [...this.key, lo, end]);
      const out = res.rows.map(toEntry);
      if (out.length !== end - lo || out[0]?.index !== lo) {
        throw new Error(`expected entries ${lo}..${end - 1}, found ${out.length} rows: the log has a hole`);
      }
      // A read that reaches the end of the log seeds an empty cache (e.g. after a restart).
      if (end === last + 1 && this.tail.start === undefined) this.tail.append(out);
      return out;
    });
  }

  /**
   * Returns the term of entry `index`, or undefined when index > lastIndex().
   * Served from the tail cache when it can be. Throws CompactedError if
   * index < firstIndex() (the caller keeps the snapshot's term).
   */
  async term(index: number): Promise<number | undefined> {
    return this.run(`term(${index})`, async () => {
      const { first, last } = await this.loadBounds();
      if (index < first) throw new CompactedError(index, first);
      if (index > last) return undefined;
      const cached = this.tail.term(index);
      if (cached !== undefined) return cached;
      const res = await this.db.query<{ term: string | number }>(this.sql.readTerm, [...this.key, index]);
      const row = res.rows[0];
      if (!row) throw new Error(`entry ${index} is missing: the log has a hole`);
      return Number(row.term);
    });
  }

  /** Returns the index of the first retained entry; lastIndex() + 1 when empty. */
  async firstIndex(): Promise<number> {
    return this.run('firstIndex()', async () => (await this.loadBounds()).first);
  }

  /** Returns the index of the last entry; firstIndex() - 1 when empty (0 for a new log). */
  async lastIndex(): Promise<number> {
    return this.run('lastIndex()', async () => (await this.loadBounds()).last);
  }

  /** Removes every entry with index ≥ from, in one statement. */
  async truncateSuffix(from: number): Promise<void> {
    return this.run(`truncateSuffix(${from})`, async () => {
      const { first, last } = await this.loadBounds();
      const at = Math.max(from, first);
      if (at > last) return;
      await this.db.query(this.sql.deleteSuffix, [...this.key, at]);
      this.bounds = { first, last: at - 1 };
      this.tail.truncateFrom(at);
    });
  }

  /**
   * Removes every entry with index ≤ upTo and records that the log now starts
   * at upTo + 1, in one statement. Compacting past the last entry leaves an
   * empty log whose next append must be at upTo + 1.
   */
  async compactPrefix(upTo: number): Promise<void> {
    return this.run(`compactPrefix(${upTo})`, async () => {
      const { first, last } = await this.loadBounds();
      if (upTo < first) return;
      await this.db.query(this.sql.compactPrefix, [...this.key, upTo]);
      this.bounds = { first: upTo + 1, last: Math.max(last, upTo) };
      this.tail.dropThrough(upTo);
    });
  }

  protected override onFailure(): void {
    this.bounds = undefined;
    this.tail.clear();
  }

  private async loadBounds(): Promise<Bounds> {
    if (this.bounds) return this.bounds;
    const res = await this.db.query<BoundsRecord>(this.sql.loadBounds, this.key);
    const row = res.rows[0];
    const first = row?.first == null ? 1 : Number(row.first);
    const last = row?.last == null ? first - 1 : Math.max(Number(row.last), first - 1);
    this.bounds = { first, last };
    return this.bounds;
  }

  /** One INSERT of batch; with state, the same statement upserts the hard state too. */
  private async insert(
    session: SqlSession,
    batch: readonly Entry[],
    state: HardState | undefined,
  ): Promise<void> {
    const params: unknown[] = [...this.key];
    for (const e of batch) params.push(e.index, e.term, entryTypeCode(e.type), e.data);
    // The small batches of low-latency steps are prepared; a large batch's parse is amortized over its rows.
    const options = batch.length <= PREPARED_MAX_ROWS ? PREPARED : undefined;
    if (!state) return void (await session.query(this.sql.insertEntries(batch.length), params, options));
    params.push(...hardStateParams(state));
    await session.query(this.sql.insertEntriesAndHardState(batch.length), params, options);
  }
}

/** Splits entries into INSERT-sized batches (by row count and by payload bytes; at least one row each). */
export function splitForInsert(entries: readonly Entry[]): Entry[][] {
  const batches: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = e.data.byteLength;
    if (
      current.length > 0 &&
      (current.length >= MAX_ROWS_PER_INSERT || bytes + size > MAX_BYTES_PER_INSERT)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
