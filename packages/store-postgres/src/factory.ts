import { ConfigError, silentLogger, unknownKeyProblems, type KnownKeys, type Logger } from '@raftline/core';
import type { Pool } from 'pg';
import { storePool } from './database';
import { embeddedExecutor } from './data-dir-lock';
import { DataDirInUseError, NodeAlreadyRunningError, StoreUnavailableError } from './errors';
import { pgExecutor, type SqlExecutor } from './executor';
import { PostgresLogStore } from './log-store';
import { NodeLock } from './node-lock';
import { migrate } from './schema/migrate';
import { PostgresSnapshotStore } from './snapshot-store';
import { Statements } from './sql';
import { PostgresStableStore } from './stable-store';
import type { StoreContext } from './store-base';

/**
 * Where the stores keep their rows: exactly one of `url`, `pool`, `embedded`
 * or `executor`, plus the owner of the rows (`groupId`, `nodeId`).
 */
export interface PostgresStoresOptions {
  /** Raft group the node belongs to. */
  readonly groupId: string;
  /** The node whose log this is; several nodes may share one database. */
  readonly nodeId: string;
  /** A PostgreSQL connection string; the stores open (and close) their own pool. */
  readonly url?: string;
  /** A pool the caller owns (it is not ended by close()); its sessions' synchronous_commit applies. */
  readonly pool?: Pool;
  /** Embedded PostgreSQL (PGlite, in a worker thread of this process); dataDir omitted = in memory only. */
  readonly embedded?: { readonly dataDir?: string };
  /**
   * An executor the caller owns (openStoreDatabase, pgExecutor, pgliteExecutor,
   * embeddedExecutor), e.g. one database shared by several nodes of one process. Not closed by close().
   */
  readonly executor?: SqlExecutor;
  /** Schema holding the tables (created if missing). Default 'raftline'. */
  readonly schema?: string;
  /** Newest entries kept in memory per log. Default 4096; 0 disables the cache. */
  readonly tailCapacity?: number;
  /** With `url`: pool size (default 4), application_name (default 'raftline-store'), connect timeout (default 5000 ms). */
  readonly poolSize?: number;
  readonly applicationName?: string;
  readonly connectTimeoutMs?: number;
  /**
   * With `url`: the sessions' synchronous_commit. Default 'on', which makes a
   * resolved write durable. 'off' trades that away (see README) and is there
   * for benchmarks and for users who accept losing the last writes in a crash.
   */
  readonly synchronousCommit?: 'on' | 'off';
  /**
   * With `url` or `pool`: run the write path's statements as named prepared
   * statements, parsed and planned once per connection (default true). Set
   * false behind a connection pooler that does not keep prepared statements
   * across transactions (PgBouncer in transaction mode before 1.21).
   */
  readonly preparedStatements?: boolean;
  /** Receives a warning when the database will not make commits durable. */
  readonly logger?: Logger;
}

/** The three stores of one node and a close() for all of them. */
export interface PostgresStores {
  readonly logStore: PostgresLogStore;
  readonly stableStore: PostgresStableStore;
  readonly snapshotStore: PostgresSnapshotStore;
  /** Which engine runs the SQL. */
  readonly engine: 'postgres' | 'pglite';
  /** Closes the three stores and whatever connection the factory opened. Idempotent. */
  close(): Promise<void>;
}

const STORE_OPTION_KEYS: KnownKeys<PostgresStoresOptions> = {
  groupId: true,
  nodeId: true,
  url: true,
  pool: true,
  embedded: true,
  executor: true,
  schema: true,
  tailCapacity: true,
  poolSize: true,
  applicationName: true,
  connectTimeoutMs: true,
  synchronousCommit: true,
  preparedStatements: true,
  logger: true,
};

const EMBEDDED_OPTION_KEYS: KnownKeys<NonNullable<PostgresStoresOptions['embedded']>> = { dataDir: true };

/**
 * Returns the problems with options, each naming the fields involved (empty
 * when valid); an unknown key, at the top or in `embedded`, is one.
 */
export function storeOptionProblems(options: PostgresStoresOptions): string[] {
  const problems: string[] = [
    ...unknownKeyProblems(options, STORE_OPTION_KEYS, 'createPostgresStores options'),
    ...unknownKeyProblems(options.embedded, EMBEDDED_OPTION_KEYS, 'createPostgresStores options.embedded'),
  ];
  const sources = (['url', 'pool', 'embedded', 'executor'] as const).filter((k) => options[k] !== undefined);
  if (sources.length !== 1) {
    problems.push(
      `exactly one of url, pool, embedded, executor must be set (got ${sources.join(', ') || 'none'})`,
    );
  }
  if (!options.groupId) problems.push('groupId must be a non-empty string');
  if (!options.nodeId) problems.push('nodeId must be a non-empty string');
  const { tailCapacity, poolSize, connectTimeoutMs } = options;
  if (tailCapacity !== undefined && !(Number.isInteger(tailCapacity) && tailCapacity >= 0)) {
    problems.push(`tailCapacity (${tailCapacity}) must be an integer ≥ 0`);
  }
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
  return problems;
}

/**
 * Opens the LogStore, StableStore and SnapshotStore of one node: connects,
 * runs the migrations (idempotent, serialized by an advisory lock), takes the
 * node's lock (one process at a time per schema, group and node; held until
 * close(), see node-lock.ts), removes snapshot writes a crash left open, and
 * loads the log's bounds.
 *
 * Returns the stores once they are usable.
 * Throws ConfigError for invalid options (the message names every field),
 * NodeAlreadyRunningError when another process (or another open of this one)
 * has this node's stores open, DataDirInUseError when the embedded data
 * directory is open in another process, and StoreUnavailableError when the
 * database cannot be reached or migrated.
 */
export async function createPostgresStores(options: PostgresStoresOptions): Promise<PostgresStores> {
  const problems = storeOptionProblems(options);
  const schema = options.schema ?? 'raftline';
  let sql: Statements;
  try {
    sql = new Statements(schema);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError([...problems, ...err.problems]) : err;
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const db = await openExecutor(options);
  const shared = options.executor !== undefined;
  const owner = { groupId: options.groupId, nodeId: options.nodeId };
  let lock: NodeLock;
  try {
    await migrate(db, schema);
    await warnIfNotDurable(db, options);
    lock = await NodeLock.acquire(db, sql, owner);
  } catch (err) {
    if (!shared) await db.close().catch(() => undefined);
    if (err instanceof NodeAlreadyRunningError) throw err;
    throw new StoreUnavailableError(`opening the stores in schema ${schema}`, { cause: err });
  }

  let open = 3;
  const release = async (): Promise<void> => {
    if (--open > 0) return;
    await lock.release();
    if (!shared) await db.close();
  };
  const context: StoreContext = { db, sql, owner, lock, release };
  const logStore = new PostgresLogStore(context, options.tailCapacity ?? 4096);
  const stableStore = new PostgresStableStore(context);
  const snapshotStore = new PostgresSnapshotStore(context);
  const close = async (): Promise<void> => {
    await Promise.all([logStore.close(), stableStore.close(), snapshotStore.close()]);
  };
  try {
    await snapshotStore.sweepAbandoned();
    await logStore.lastIndex();
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { logStore, stableStore, snapshotStore, engine: db.engine, close };
}

async function openExecutor(options: PostgresStoresOptions): Promise<SqlExecutor> {
  const prepared = options.preparedStatements ?? true;
  if (options.pool) return pgExecutor(options.pool, false, prepared);
  if (options.executor) return options.executor;
  if (options.embedded) {
    const { dataDir } = options.embedded;
    try {
      return await embeddedExecutor(dataDir);
    } catch (err) {
      if (err instanceof DataDirInUseError) throw err;
      throw new StoreUnavailableError(`opening PGlite at ${dataDir ?? 'memory'}`, { cause: err });
    }
  }
  return pgExecutor(storePool(options), true, prepared);
}

/** Logs a warning when the sessions will acknowledge commits before they are durable. */
async function warnIfNotDurable(db: SqlExecutor, options: PostgresStoresOptions): Promise<void> {
  const logger = options.logger ?? silentLogger;
  if (db.engine === 'pglite') return;
  const res = await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
  const setting = res.rows[0]?.synchronous_commit;
  if (setting === 'off') {
    logger.warn(
      { synchronousCommit: setting, groupId: options.groupId, nodeId: options.nodeId },
      'synchronous_commit is not on: acknowledged log writes can be lost in a crash',
    );
  }
}
