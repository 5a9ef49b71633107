import { createHash } from 'node:crypto';
import { Client, type Pool, type PoolClient, type QueryConfig } from 'pg';

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

/** How to run one statement. */
export interface QueryOptions {
  /**
   * Run it as a named prepared statement where the engine has them: on
   * PostgreSQL it is parsed and planned once per connection instead of on
   * every call (an executor may ignore it, see pgExecutor). Meant for the
   * few fixed texts of the write path.
   */
  readonly prepared?: boolean;
}

/** Something that runs one parameterized statement. */
export interface SqlSession {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<SqlResult<R>>;
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
  /**
   * Opens a connection of its own, outside any pool, where a node's advisory
   * lock lives while its stores are open (node-lock.ts). Absent for an engine
   * that is one session (PGlite): a node lock there is held in this process.
   */
  dedicatedSession?(): Promise<DedicatedSession>;
  /** Releases what this executor owns (a pool it created, a PGlite it opened). */
  close(): Promise<void>;
}

/** A connection of its own (see SqlExecutor.dedicatedSession). */
export interface DedicatedSession extends SqlSession {
  /**
   * Resolves with the connection's error once it is lost (the server ended
   * the session, the socket broke): every session-level lock is gone with it.
   * Never resolves when close() ended it.
   */
  readonly lost: Promise<Error>;
  /** Ends the connection, and with it the session's locks. Idempotent. */
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

/** At most this many distinct texts become named prepared statements (per executor, so per connection too). */
const MAX_PREPARED = 64;

/**
 * Names the texts run with `prepared` (QueryOptions): a name is derived from
 * the text, so one name never stands for two texts. Past MAX_PREPARED texts,
 * or when disabled, statements run unnamed.
 */
function statementNamer(enabled: boolean): (sql: string, options?: QueryOptions) => string | undefined {
  const names = new Map<string, string>();
  return (sql, options) => {
    if (!enabled || !options?.prepared) return undefined;
    let name = names.get(sql);
    if (name === undefined && names.size < MAX_PREPARED) {
      name = `raftline_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`;
      names.set(sql, name);
    }
    return name;
  };
}

/**
 * An executor over a node-postgres Pool. With `owned` the pool is ended by
 * close(). An 'error' listener is attached to the pool so that a backend
 * killed while idle does not crash the process: the pool drops that client and
 * the next statement opens a fresh connection.
 *
 * Statements run with `prepared` become named prepared statements (each
 * connection parses one the first time it runs it) unless `prepared` is
 * false here, for a connection pooler that does not keep them (PgBouncer in
 * transaction mode before 1.21).
 */
export function pgExecutor(pool: Pool, owned: boolean, prepared = true): SqlExecutor {
  if (!pool.listeners('error').includes(ignore)) pool.on('error', ignore);
  const nameOf = statementNamer(prepared);
  const config = (sql: string, params?: readonly unknown[], options?: QueryOptions): QueryConfig => {
    const name = nameOf(sql, options);
    const values = params as unknown[] | undefined;
    return name === undefined ? { text: sql, values } : { name, text: sql, values };
  };
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
    query: async <R>(sql: string, params?: readonly unknown[], options?: QueryOptions) =>
      fromPg<R>(await client.query(config(sql, params, options))),
  });
  return {
    engine: 'postgres',
    query: async <R>(sql: string, params?: readonly unknown[], options?: QueryOptions) =>
      fromPg<R>(await pool.query(config(sql, params, options))),
    dedicatedSession: () => dedicatedClient(pool),
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
 * Opens a client with the pool's connection settings, outside the pool, so a
 * lock held on it never takes one of the pool's connections. pg-pool keeps the
 * password as a non-enumerable property: it is copied explicitly.
 */
async function dedicatedClient(pool: Pool): Promise<DedicatedSession> {
  const client = new Client({ ...pool.options, password: pool.options.password, keepAlive: true });
  let closing = false;
  let markLost: (err: Error) => void = ignore;
  const lost = new Promise<Error>((resolve) => (markLost = resolve));
  const onLost = (err: Error): void => {
    if (!closing) markLost(err);
  };
  client.on('error', onLost);
  client.on('end', () => onLost(new Error('the connection ended')));
  try {
    await client.connect();
  } catch (err) {
    closing = true;
    await client.end().catch(ignore);
    throw err;
  }
  return {
    lost,
    query: async <R>(sql: string, params?: readonly unknown[]) =>
      fromPg<R>(await client.query(sql, params as unknown[] | undefined)),
    close: async () => {
      if (closing) return;
      closing = true;
      await client.end().catch(ignore);
    },
  };
}

/** The database of each single-session executor: executors over one PGlite share one. */
const databases = new WeakMap<SqlExecutor, object>();

/**
 * What identifies the database an executor runs on within this process:
 * executors over one PGlite instance return the same object; any other
 * executor returns itself.
 */
export function databaseOf(executor: SqlExecutor): object {
  return databases.get(executor) ?? executor;
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
  const executor: SqlExecutor = {
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
  databases.set(executor, mutex);
  return executor;
}

/**
 * What pgliteExecutor uses of a PGlite instance (@electric-sql/pglite's
 * PGlite satisfies it). Structural, so this package's declarations do not
 * load PGlite's, which need Emscripten's types that PGlite does not install.
 */
export interface PGliteDatabase {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  close(): Promise<void>;
}

/** One mutex per PGlite instance, shared by every executor over it. */
const pgliteLocks = new WeakMap<PGliteDatabase, Mutex>();

/**
 * An executor over a PGlite database the caller opened, in this thread (the
 * embedded mode of createPostgresStores runs PGlite in a worker instead, see
 * embedded.ts). Executors over the same instance share one mutex. With
 * `owned` the database is closed by close().
 */
export function pgliteExecutor(db: PGliteDatabase, owned: boolean): SqlExecutor {
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
