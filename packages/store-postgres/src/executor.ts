import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

/**
 * The one seam between the stores and a database engine. Every statement the
 * stores run is plain PostgreSQL with `$n` parameters, written once (sql.ts)
 * and executed through this interface over either a pg Pool or PGlite.
 */

/** Rows of a statement, with column values as the engine's driver decoded them. */
export interface SqlResult<R> {
  readonly rows: R[];
  /** Rows inserted, updated or deleted; 0 for other statements. */
  readonly rowCount: number;
}

/** Something that runs one parameterized statement. */
export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
}

/** A database the stores can use: statements, transactions and a dedicated session. */
export interface SqlExecutor extends SqlSession {
  /** Which engine runs the SQL (for messages and tests). */
  readonly engine: 'postgres' | 'pglite';
  /**
   * Runs fn inside BEGIN … COMMIT on one connection. Resolves after COMMIT;
   * rolls back and rejects with fn's (or the engine's) error otherwise.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs fn on one connection that nothing else uses meanwhile; fn manages
   * its own transactions (used for migrations under an advisory lock).
   */
  exclusive<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Releases what this executor owns (a pool it created, a PGlite it opened). */
  close(): Promise<void>;
}

/** Runs one callback at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  /** Returns fn's result once every earlier run has settled and fn has. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const ignore = (): void => {};

function fromPg<R>(res: { rows: unknown[]; rowCount: number | null }): SqlResult<R> {
  return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
}

/**
 * An executor over a node-postgres Pool. With `owned` the pool is ended by
 * close(). An 'error' listener is attached to the pool so that a backend
 * killed while idle does not crash the process: the pool drops that client and
 * the next statement opens a fresh connection.
 */
export function pgExecutor(pool: Pool, owned: boolean): SqlExecutor {
  if (!pool.listeners('error').includes(ignore)) pool.on('error', ignore);
  const withClient = async <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    // A connection lost while checked out emits 'error' on the client itself.
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.removeListener('error', ignore);
      // Releasing with an error destroys the connection instead of pooling a
      // session whose state (open transaction, lost socket) is unknown.
      client.release(broken);
    }
  };
  const session = (client: PoolClient): SqlSession => ({
    query: async <R>(sql: string, params?: readonly unknown[]) =>
      fromPg<R>(await client.query(sql, params as unknown[] | undefined)),
  });
  return {
    engine: 'postgres',
    query: async <R>(sql: string, params?: readonly unknown[]) =>
      fromPg<R>(await pool.query(sql, params as unknown[] | undefined)),
    transaction: (fn) =>
      withClient(async (client) => {
        await client.query('BEGIN');
        try {
          const value = await fn(session(client));
          await client.query('COMMIT');
          return value;
        } catch (err) {
          await client.query('ROLLBACK').catch(ignore);
          throw err;
        }
      }),
    exclusive: (fn) => withClient((client) => fn(session(client))),
    // The error listener stays: other executors may share the pool.
    close: async () => {
      if (owned) await pool.end();
    },
  };
}

/**
 * An executor over an engine that is one session (PGlite, directly or in a
 * worker): the mutex makes a transaction or an exclusive session run alone,
 * and transactions are plain BEGIN / COMMIT / ROLLBACK statements.
 */
export function singleSessionExecutor(
  session: SqlSession,
  mutex: Mutex,
  close: () => Promise<void>,
): SqlExecutor {
  return {
    engine: 'pglite',
    query: (sql, params) => mutex.run(() => session.query(sql, params)),
    transaction: (fn) =>
      mutex.run(async () => {
        await session.query('BEGIN');
        try {
          const value = await fn(session);
          await session.query('COMMIT');
          return value;
        } catch (err) {
          await session.query('ROLLBACK').catch(ignore);
          throw err;
        }
      }),
    exclusive: (fn) => mutex.run(() => fn(session)),
    close: () => mutex.run(close),
  };
}

/** One mutex per PGlite instance, shared by every executor over it. */
const pgliteLocks = new WeakMap<PGlite, Mutex>();

/**
 * An executor over a PGlite database the caller opened, in this thread (the
 * embedded mode of createPostgresStores runs PGlite in a worker instead, see
 * embedded.ts). Executors over the same instance share one mutex. With
 * `owned` the database is closed by close().
 */
export function pgliteExecutor(db: PGlite, owned: boolean): SqlExecutor {
  let mutex = pgliteLocks.get(db);
  if (!mutex) {
    mutex = new Mutex();
    pgliteLocks.set(db, mutex);
  }
  const session: SqlSession = {
    query: async <R>(sql: string, params?: readonly unknown[]) => {
      const res = await db.query<R>(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? 0 };
    },
  };
  return singleSessionExecutor(session, mutex, async () => {
    if (owned) await db.close();
  });
}
