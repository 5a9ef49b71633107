import { RaftlineError } from '@raftline/core';
import { StoreClosedError, StoreUnavailableError } from './errors';
import type { SqlExecutor } from './executor';
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
  /** Called once by each store's close(); the last one releases the executor. */
  readonly release: () => Promise<void>;
}

/** Database access, failure wrapping and close() for the three stores. */
export abstract class StoreBase {
  protected readonly db: SqlExecutor;
  protected readonly sql: Statements;
  /** [group_id, node_id]: the first two parameters of every statement. */
  protected readonly key: readonly [string, string];
  private closed = false;

  constructor(
    private readonly context: StoreContext,
    private readonly label: string,
  ) {
    this.db = context.db;
    this.sql = context.sql;
    this.key = [context.owner.groupId, context.owner.nodeId];
  }

  /**
   * Runs one store operation. raftline's own errors (LogGapError,
   * CompactedError, …) pass through; any other failure calls onFailure (to
   * forget cached state) and becomes a StoreUnavailableError naming the
   * operation. Throws StoreClosedError after close().
   */
  protected async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError(this.label);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RaftlineError) throw err;
      this.onFailure();
      throw new StoreUnavailableError(`${this.label} ${operation}`, { cause: err });
    }
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
