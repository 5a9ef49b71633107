import { ConfigError, DecodeError, type Entry, type EntryType } from '@raftline/core';

/**
 * Every statement the stores run, written once for PostgreSQL and PGlite.
 * Parameters $1 and $2 are always (group_id, node_id).
 */

/**
 * Entry types by their stored code (log_entry.type); the position is the
 * code, so a new type is appended, never inserted. Every type of core's
 * ENTRY_TYPES must be here: membership changes are 'config' entries.
 */
export const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

/** Encodes an entry type for log_entry.type. */
export function entryTypeCode(type: EntryType): number {
  const code = ENTRY_TYPES.indexOf(type);
  if (code < 0) throw new DecodeError(`unknown entry type ${String(type)}`);
  return code;
}

/** Decodes log_entry.type. Throws DecodeError for a code this version does not know. */
export function entryTypeOf(code: number): EntryType {
  const type = ENTRY_TYPES[code];
  if (type === undefined) throw new DecodeError(`unknown entry type code ${code}`);
  return type;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns the schema name quoted for SQL. Throws ConfigError unless it is a plain lower-case identifier. */
export function quoteSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new ConfigError([`schema (${JSON.stringify(schema)}) must match ${IDENTIFIER.source}`]);
  }
  return `"${schema}"`;
}

/** Parameters per inserted log row (idx, term, type, payload); group and node are shared. */
export const PARAMS_PER_ROW = 4;
/** Rows per INSERT: far below PostgreSQL's 65,535 bind parameters. */
export const MAX_ROWS_PER_INSERT = 8192;
/** Payload bytes per INSERT, so that one statement stays a reasonable message. */
export const MAX_BYTES_PER_INSERT = 16 * 1024 * 1024;

/** Statement texts for one schema. */
export class Statements {
  readonly logEntry: string;
  readonly logBounds: string;
  readonly hardState: string;
  readonly snapshot: string;
  readonly snapshotChunk: string;
  readonly nodeLock: string;
  /** INSERT texts by row count; Raft's batch sizes repeat, so a few cover most appends. */
  private readonly inserts = new Map<number, string>();
  /** insertEntriesAndHardState texts by row count. */
  private readonly stepInserts = new Map<number, string>();

  constructor(readonly schema: string) {
    const s = quoteSchema(schema);
    this.logEntry = `${s}.log_entry`;
    this.logBounds = `${s}.log_bounds`;
    this.hardState = `${s}.hard_state`;
    this.snapshot = `${s}.snapshot`;
    this.snapshotChunk = `${s}.snapshot_chunk`;
    this.nodeLock = `${s}.node_lock`;
  }

  /** first (null: never compacted) and last (null: no entries). */
  get loadBounds(): string {
    return (
      `SELECT (SELECT first_index FROM ${this.logBounds} WHERE group_id = $1 AND node_id = $2) AS first, ` +
      `(SELECT max(idx) FROM ${this.logEntry} WHERE group_id = $1 AND node_id = $2) AS last`
    );
  }

  /** A multi-row INSERT of `rows` entries: $3.. hold idx, term, type, payload per row. */
  insertEntries(rows: number): string {
    const cached = this.inserts.get(rows);
    if (cached !== undefined) return cached;
    const values: string[] = new Array<string>(rows);
    for (let r = 0, p = 3; r < rows; r++, p += PARAMS_PER_ROW) {
      values[r] = `($1,$2,$${p},$${p + 1},$${p + 2},$${p + 3})`;
    }
    const sql = `INSERT INTO ${this.logEntry} (group_id, node_id, idx, term, type, payload) VALUES ${values.join(',')}`;
    if (this.inserts.size >= 64) this.inserts.clear();
    this.inserts.set(rows, sql);
    return sql;
  }

  /**
   * One statement that inserts `rows` entries (as insertEntries) and upserts
   * the hard state (as saveHardState, its term, vote and commit in the three
   * parameters after the rows'): atomic, one commit.
   */
  insertEntriesAndHardState(rows: number): string {
    const cached = this.stepInserts.get(rows);
    if (cached !== undefined) return cached;
    const p = 3 + rows * PARAMS_PER_ROW;
    const sql =
      `WITH appended AS (${this.insertEntries(rows)}) ` +
      `INSERT INTO ${this.hardState} (group_id, node_id, term, vote, commit_index) VALUES ($1, $2, $${p}, $${p + 1}, $${p + 2}) ` +
      `ON CONFLICT (group_id, node_id) DO UPDATE SET term = EXCLUDED.term, vote = EXCLUDED.vote, ` +
      `commit_index = EXCLUDED.commit_index`;
    if (this.stepInserts.size >= 64) this.stepInserts.clear();
    this.stepInserts.set(rows, sql);
    return sql;
  }

  /** Deletes entries with idx ≥ $3. */
  get deleteSuffix(): string {
    return `DELETE FROM ${this.logEntry} WHERE group_id = $1 AND node_id = $2 AND idx >= $3`;
  }

  /**
   * Deletes entries with idx ≤ $3 and moves first_index to $3 + 1 (never
   * backwards), in one statement: a data-modifying CTE runs even unreferenced.
   */
  get compactPrefix(): string {
    return (
      `WITH gone AS (DELETE FROM ${this.logEntry} WHERE group_id = $1 AND node_id = $2 AND idx <= $3) ` +
      `INSERT INTO ${this.logBounds} AS b (group_id, node_id, first_index) VALUES ($1, $2, $3::bigint + 1) ` +
      `ON CONFLICT (group_id, node_id) DO UPDATE SET first_index = GREATEST(b.first_index, EXCLUDED.first_index)`
    );
  }

  /** Entries with $3 ≤ idx < $4, ascending. */
  get readRange(): string {
    return (
      `SELECT idx, term, type, payload FROM ${this.logEntry} ` +
      `WHERE group_id = $1 AND node_id = $2 AND idx >= $3 AND idx < $4 ORDER BY idx`
    );
  }

  /** The term of entry $3. */
  get readTerm(): string {
    return `SELECT term FROM ${this.logEntry} WHERE group_id = $1 AND node_id = $2 AND idx = $3`;
  }

  get loadHardState(): string {
    return `SELECT term, vote, commit_index FROM ${this.hardState} WHERE group_id = $1 AND node_id = $2`;
  }

  /** Upserts (term $3, vote $4, commit $5). */
  get saveHardState(): string {
    return (
      `INSERT INTO ${this.hardState} (group_id, node_id, term, vote, commit_index) VALUES ($1, $2, $3, $4, $5) ` +
      `ON CONFLICT (group_id, node_id) DO UPDATE SET term = EXCLUDED.term, vote = EXCLUDED.vote, ` +
      `commit_index = EXCLUDED.commit_index`
    );
  }

  /** Starts a snapshot write (index $3, term $4, size $5, voters $6); returns its id. */
  get createSnapshot(): string {
    return (
      `INSERT INTO ${this.snapshot} (group_id, node_id, snapshot_index, term, size, voters) ` +
      `VALUES ($1, $2, $3, $4, $5, $6::text[]) RETURNING id`
    );
  }

  /** Chunk $2 of snapshot $1. */
  get writeChunk(): string {
    return `INSERT INTO ${this.snapshotChunk} (snapshot_id, chunk_no, data) VALUES ($1, $2, $3)`;
  }

  /** Marks snapshot $3 committed with $4 chunks; matches no row if it was swept meanwhile. */
  get commitSnapshot(): string {
    return `UPDATE ${this.snapshot} SET committed = true, chunk_count = $4 WHERE group_id = $1 AND node_id = $2 AND id = $3`;
  }

  /** Removes this node's committed snapshots other than $3 (their chunks cascade). */
  get dropOtherCommitted(): string {
    return `DELETE FROM ${this.snapshot} WHERE group_id = $1 AND node_id = $2 AND committed AND id <> $3`;
  }

  /** Removes snapshot $3 if it is still uncommitted (abort). */
  get dropOpenSnapshot(): string {
    return `DELETE FROM ${this.snapshot} WHERE group_id = $1 AND node_id = $2 AND id = $3 AND NOT committed`;
  }

  /** Removes every uncommitted snapshot of this node (left by a crash; run at open). */
  get dropAbandonedSnapshots(): string {
    return `DELETE FROM ${this.snapshot} WHERE group_id = $1 AND node_id = $2 AND NOT committed`;
  }

  /** The committed snapshot of this node (the newest, should an older one linger). */
  get latestSnapshot(): string {
    return (
      `SELECT id, snapshot_index, term, size, voters, chunk_count FROM ${this.snapshot} ` +
      `WHERE group_id = $1 AND node_id = $2 AND committed ORDER BY id DESC LIMIT 1`
    );
  }

  /**
   * Records a new holder ($3) of the node's lock and returns its epoch: one
   * more than the last holder's. Run only while holding the advisory lock.
   */
  get claimNodeLock(): string {
    return (
      `INSERT INTO ${this.nodeLock} AS l (group_id, node_id, epoch, holder, acquired_at) ` +
      `VALUES ($1, $2, 1, $3, now()) ON CONFLICT (group_id, node_id) DO UPDATE ` +
      `SET epoch = l.epoch + 1, holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at RETURNING epoch`
    );
  }

  /** The node's last lock holder: epoch, holder, acquired_at. */
  get readNodeLock(): string {
    return `SELECT epoch, holder, acquired_at FROM ${this.nodeLock} WHERE group_id = $1 AND node_id = $2`;
  }

  /** Chunks $2 ≤ chunk_no < $3 of snapshot $1, in order. */
  get readChunks(): string {
    return (
      `SELECT chunk_no, data FROM ${this.snapshotChunk} ` +
      `WHERE snapshot_id = $1 AND chunk_no >= $2 AND chunk_no < $3 ORDER BY chunk_no`
    );
  }
}

/** Row shape of readRange. */
export interface EntryRecord {
  idx: string | number | bigint;
  term: string | number | bigint;
  type: number;
  payload: Uint8Array;
}

/** Decodes a row of readRange into an Entry (the payload as a plain Uint8Array view). */
export function toEntry(row: EntryRecord): Entry {
  const p = row.payload;
  return {
    index: Number(row.idx),
    term: Number(row.term),
    type: entryTypeOf(row.type),
    data: new Uint8Array(p.buffer, p.byteOffset, p.byteLength),
  };
}
