import {
  SnapshotNotFoundError,
  type SnapshotMeta,
  type SnapshotStore,
  type SnapshotWriter,
} from '@raftline/core';
import { StoreBase, type StoreContext } from './store-base';

/** Chunks fetched per query while reading. */
const READ_PAGE = 8;

interface SnapshotRecord {
  id: string | number;
  snapshot_index: string | number;
  term: string | number;
  size: string | number;
  voters: string[];
  chunk_count: number;
}

/**
 * SnapshotStore over PostgreSQL or PGlite. Each create() inserts an
 * uncommitted row in `snapshot` with its own id; write() stores numbered
 * chunks in `snapshot_chunk`; commit() flips the row to committed and deletes
 * the node's other committed snapshots in one transaction, so a reader sees
 * the old snapshot or the new one, never a mix. Rows of writes a crash left
 * open are removed when the store opens (sweepAbandoned).
 *
 * Methods throw StoreUnavailableError when the database fails and
 * StoreClosedError after close().
 */
export class PostgresSnapshotStore extends StoreBase implements SnapshotStore {
  constructor(context: StoreContext) {
    super(context, 'snapshot store');
  }

  /** Removes this node's uncommitted snapshots; call when no writer of this node is running (at open). */
  async sweepAbandoned(): Promise<void> {
    await this.run('sweep', () => this.db.query(this.sql.dropAbandonedSnapshots, this.key));
  }

  /**
   * Starts a snapshot write. The writer's write() stores one chunk; commit()
   * makes the snapshot durable and the latest; abort() discards it. After
   * commit or abort, further calls do nothing. A failed write() poisons the
   * writer: commit() then throws StoreUnavailableError and the caller should
   * abort and start over.
   */
  async create(meta: SnapshotMeta): Promise<SnapshotWriter> {
    const label = `snapshot ${meta.index}`;
    const id = await this.run(`create(${label})`, async () => {
      const params = [...this.key, meta.index, meta.term, meta.size, [...meta.voters]];
      const res = await this.db.query<{ id: string | number }>(this.sql.createSnapshot, params);
      const row = res.rows[0];
      if (!row) throw new Error('INSERT … RETURNING id returned no row');
      return String(row.id);
    });
    let chunks = 0;
    let open = true;
    let failure: unknown;
    return {
      write: async (chunk) => {
        if (!open) return;
        const no = chunks++;
        await this.run(`write(${label}, chunk ${no})`, async () => {
          try {
            await this.db.query(this.sql.writeChunk, [id, no, chunk]);
          } catch (err) {
            failure = err;
            throw err;
          }
        });
      },
      commit: async () => {
        if (!open) return;
        // Idempotent: a commit retried after a lost COMMIT reply succeeds again.
        await this.run(`commit(${label})`, async () => {
          if (failure !== undefined) throw failure;
          await this.db.transaction(async (tx) => {
            const res = await tx.query(this.sql.commitSnapshot, [...this.key, id, chunks]);
            if (res.rowCount !== 1) throw new Error(`${label} (id ${id}) is gone: another opener swept it`);
            await tx.query(this.sql.dropOtherCommitted, [...this.key, id]);
          });
          open = false;
        });
      },
      abort: async () => {
        if (!open) return;
        open = false;
        await this.run(`abort(${label})`, () => this.db.query(this.sql.dropOpenSnapshot, [...this.key, id]));
      },
    };
  }

  /** Returns the committed snapshot's metadata, or undefined when there is none. */
  async latest(): Promise<SnapshotMeta | undefined> {
    return this.run('latest()', async () => (await this.loadLatest())?.meta);
  }

  /**
   * Reads the committed snapshot chunk by chunk, a few chunks per query.
   * Throws SnapshotNotFoundError if there is none, and StoreUnavailableError
   * if it is replaced while being read (start again).
   */
  async *read(): AsyncIterable<Uint8Array> {
    const snap = await this.run('read()', () => this.loadLatest());
    if (!snap) throw new SnapshotNotFoundError();
    for (let from = 0; from < snap.chunks; from += READ_PAGE) {
      const to = Math.min(snap.chunks, from + READ_PAGE);
      const rows = await this.run(`read(chunks ${from}..${to - 1})`, async () => {
        const res = await this.db.query<{ data: Uint8Array }>(this.sql.readChunks, [snap.id, from, to]);
        if (res.rows.length !== to - from) throw new Error('the snapshot was replaced while it was read');
        return res.rows;
      });
      for (const { data } of rows) yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
  }

  /** The node's committed snapshot, with what read() needs to fetch its chunks. */
  private async loadLatest(): Promise<{ id: string; chunks: number; meta: SnapshotMeta } | undefined> {
    const res = await this.db.query<SnapshotRecord>(this.sql.latestSnapshot, this.key);
    const row = res.rows[0];
    if (!row) return undefined;
    const meta: SnapshotMeta = {
      index: Number(row.snapshot_index),
      term: Number(row.term),
      size: Number(row.size),
      voters: row.voters,
    };
    return { id: String(row.id), chunks: row.chunk_count, meta };
  }
}
