import { RaftlineError } from '@raftline/core';

/**
 * A store operation could not be completed: PostgreSQL (or PGlite) was
 * unreachable, the connection was lost, or a statement failed. `cause` holds
 * the driver's error. Nothing partial was written (every write is one
 * statement or one transaction), but when the connection was lost during
 * COMMIT the write may or may not have been applied: the store re-reads its
 * bounds before the next call, and the caller may simply retry (an append
 * retried at the same index replaces what is there).
 */
export class StoreUnavailableError extends RaftlineError {
  constructor(
    /** The store operation that failed, e.g. `append(17..32)`. */
    readonly operation: string,
    options: { cause: unknown },
  ) {
    super(`${operation} failed: ${describe(options.cause)}`, options);
  }
}

/** The store was closed; it cannot be used again. */
export class StoreClosedError extends RaftlineError {
  constructor(readonly store: string) {
    super(`${store} is closed`);
  }
}

/** Who holds a node's lock, as its holder recorded it (absent when the row could not be read). */
export interface LockHolder {
  /** `pid <pid> on <host>` of the process that holds it. */
  readonly holder: string;
  /** When it took the lock. */
  readonly since: Date;
}

/**
 * Another process (or another createPostgresStores() call of this one) has
 * the stores of this node open: two writers of one (group, node) would be two
 * Raft voters with one identity. Thrown by createPostgresStores; nothing was
 * written. Stop the other one, or give this node another id.
 */
export class NodeAlreadyRunningError extends RaftlineError {
  constructor(
    readonly groupId: string,
    readonly nodeId: string,
    /** The PostgreSQL schema (or PGlite database) whose rows are held. */
    readonly schema: string,
    readonly heldBy?: LockHolder,
  ) {
    super(
      `node ${nodeId} of group ${groupId} is already running on schema ${schema}` +
        (heldBy ? ` (${heldBy.holder}, since ${heldBy.since.toISOString()})` : ''),
    );
  }
}

/**
 * The stores lost their node lock and cannot prove that no other process
 * wrote this node's rows meanwhile: another holder took the lock while this
 * one's lock connection was gone. Every later call fails with this error
 * (writes are no longer acknowledged); close the stores and restart the node
 * so that it reads its state again, once the other process is stopped.
 */
export class NodeLockLostError extends RaftlineError {
  constructor(
    readonly groupId: string,
    readonly nodeId: string,
    readonly reason: string,
  ) {
    super(`node ${nodeId} of group ${groupId} lost its store lock: ${reason}; restart it`);
  }
}

/**
 * The embedded data directory is open in another process (or already in this
 * one): PGlite would let both write it and corrupt it. `pid` is the holder's
 * process id as recorded in `lockFile`; delete that file only if you know that
 * process is gone.
 */
export class DataDirInUseError extends RaftlineError {
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    readonly pid: number | undefined,
    readonly host: string | undefined,
  ) {
    super(
      `the embedded data directory ${dataDir} is in use` +
        (pid !== undefined ? ` by pid ${pid}${host ? ` on ${host}` : ''}` : '') +
        ` (lock file ${lockFile})`,
    );
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}
