import { ConfigError, unknownKeyProblems, type KnownKeys } from '@raftline/core';
import { Pool } from 'pg';
import { embeddedExecutor } from './data-dir-lock';
import { DataDirInUseError, StoreUnavailableError } from './errors';
import { pgExecutor, type SqlExecutor } from './executor';

/**
 * One database for the stores of every node a process runs (several Raft
 * groups in one process share one pool): exactly one of `url` or `embedded`,
 * with the pool settings createPostgresStores uses for its own.
 */
export interface StoreDatabaseOptions {
  /** A PostgreSQL connection string. */
  readonly url?: string;
  /** Embedded PostgreSQL (PGlite); dataDir omitted = in memory only. */
  readonly embedded?: { readonly dataDir?: string };
  /** With `url`: pool size (default 4), application_name (default 'raftline-store'), connect timeout (default 5000 ms). */
  readonly poolSize?: number;
  readonly applicationName?: string;
  readonly connectTimeoutMs?: number;
  /** With `url`: the sessions' synchronous_commit (default 'on'; see PostgresStoresOptions). */
  readonly synchronousCommit?: 'on' | 'off';
  /** With `url`: run the write path's statements as named prepared statements (default true; see PostgresStoresOptions). */
  readonly preparedStatements?: boolean;
}

const DATABASE_OPTION_KEYS: KnownKeys<StoreDatabaseOptions> = {
  url: true,
  embedded: true,
  poolSize: true,
  applicationName: true,
  connectTimeoutMs: true,
  synchronousCommit: true,
  preparedStatements: true,
};

/**
 * A pg Pool with the stores' settings: keep-alive, and synchronous_commit
 * set on every session (on by default, which makes a resolved write durable).
 */
export function storePool(options: Omit<StoreDatabaseOptions, 'embedded'>): Pool {
  return new Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    application_name: options.applicationName ?? 'raftline-store',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    keepAlive: true,
    options: `-c synchronous_commit=${options.synchronousCommit ?? 'on'}`,
  });
}

/**
 * Opens a database to pass as createPostgresStores' `executor` to the
 * stores of several nodes (each still takes its own node lock; a PostgreSQL
 * lock lives on a connection outside the pool). The caller owns it: close()
 * it after the stores that use it.
 * @returns the executor, once the database can be reached
 * @throws ConfigError for invalid options (every field named)
 * @throws DataDirInUseError when the embedded data directory is open in another process
 * @throws StoreUnavailableError when the database cannot be reached or opened
 */
export async function openStoreDatabase(options: StoreDatabaseOptions): Promise<SqlExecutor> {
  const problems = unknownKeyProblems(options, DATABASE_OPTION_KEYS, 'openStoreDatabase options');
  if ((options.url === undefined) === (options.embedded === undefined)) {
    problems.push('exactly one of url, embedded must be set');
  }
  const { poolSize, connectTimeoutMs } = options;
  if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize >= 1)) {
    problems.push(`poolSize (${poolSize}) must be an integer ≥ 1`);
  }
  if (connectTimeoutMs !== undefined && !(connectTimeoutMs > 0)) {
    problems.push(`connectTimeoutMs (${connectTimeoutMs}) must be > 0`);
  }
  const { preparedStatements } = options;
  if (preparedStatements !== undefined && typeof preparedStatements !== 'boolean') {
    problems.push(`preparedStatements (${String(preparedStatements)}) must be true or false`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (options.embedded) {
    const { dataDir } = options.embedded;
    try {
      return await embeddedExecutor(dataDir);
    } catch (err) {
      if (err instanceof DataDirInUseError) throw err;
      throw new StoreUnavailableError(`opening PGlite at ${dataDir ?? 'memory'}`, { cause: err });
    }
  }
  const db = pgExecutor(storePool(options), true, options.preparedStatements ?? true);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new StoreUnavailableError('connecting to PostgreSQL', { cause: err });
  }
  return db;
}
