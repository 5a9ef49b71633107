/** What identifies a snapshot: the last log entry it covers. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** Total size in bytes. */
  readonly size: number;
  /** Voting members as of index. */
  readonly voters: readonly string[];
}

/** Writes one snapshot in chunks; nothing is visible until commit() resolves. */
export interface SnapshotWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the snapshot durable and the latest; older ones may be removed. */
  commit(): Promise<void>;
  /** Discards what was written. */
  abort(): Promise<void>;
}

/**
 * Durable storage for state-machine snapshots, written and read in chunks so
 * that no snapshot needs to fit one message or one buffer.
 */
export interface SnapshotStore {
  create(meta: SnapshotMeta): Promise<SnapshotWriter>;
  /** Returns the newest committed snapshot's metadata, or undefined. */
  latest(): Promise<SnapshotMeta | undefined>;
  /** Reads the newest committed snapshot, chunk by chunk. Throws SnapshotNotFoundError if there is none. */
  read(): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}
