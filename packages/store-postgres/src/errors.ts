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

function describe(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}
