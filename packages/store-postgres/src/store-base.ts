import { RaftlineError } from '@raftline/core';
import { StoreClosedError, StoreUnavailableError } from './errors';
import type { SqlExecutor } from './executor';
import type { NodeLock } from './node-lock';
import type { Statements } from './sql';

/** Who a store's rows belong to: several nodes (and groups) may share one database. */
export interface StoreOwner {
  readonly groupId: string;
  readonly nodeId: string;
}

/** What every store of one createPostgresStores() call shares. */
export interface StoreContext {
  readonly db: SqlExecutor;
  readonly sql: Statements;
  readonly owner: StoreOwner;
  /** The lock on the owner's rows, held while the stores are open. */
  readonly lock: NodeLock;
  /** Called once by each store's close(); the last one releases the executor. */
  readonly release: () => Promise<void>;
}

/** Database access, failure wrapping and close() for the three stores. */
export abstract class StoreBase {
  protected readonly db: SqlExecutor;
  protected readonly sql: Statements;
  /** The first two parameters of every statement: `[group_id, node_id]`. */
  protected readonly key: readonly [string, string];
  private readonly lock: NodeLock;
  private closed = false;

  constructor(
    private readonly context: StoreContext,
    private readonly label: string,
  ) {
    this.db = context.db;
    this.sql = context.sql;
    this.key = [context.owner.groupId, context.owner.nodeId];
    this.lock = context.lock;
  }

  /**
   * Runs one store operation while the node lock is held (node-lock.ts).
   * raftline's own errors (LogGapError, CompactedError, …) pass through; any
   * other failure calls onFailure (to forget cached state) and becomes a
   * StoreUnavailableError naming the operation. An operation that overlapped
   * a loss of the lock connection is not acknowledged: it rejects with
   * StoreUnavailableError (outcome unknown) or NodeLockLostError.
   * Throws StoreClosedError after close().
   */
  protected async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError(this.label);
    const named = `${this.label} ${operation}`;
    const token = await this.lock.check(named);
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      if (err instanceof RaftlineError) throw err;
      this.onFailure();
      this.lock.suspect();
      throw new StoreUnavailableError(named, { cause: err });
    }
    try {
      this.lock.confirm(token, named);
    } catch (err) {
      this.onFailure();
      throw err;
    }
    return value;
  }

  /** Whether other was opened by the same createPostgresStores() call (same database, same node). */
  protected sharesContextWith(other: StoreBase): boolean {
    return other.context === this.context;
  }

  /** Forgets whatever may no longer match the database. */
  protected onFailure(): void {}

  /** Releases this store's share of the connection; further calls throw StoreClosedError. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.context.release();
  }
}
