/**
 * LogStore, StableStore and SnapshotStore over
 * PostgreSQL (pg) or embedded PGlite; TypeORM entities and migrations own the schema.
 *
 * @module @raftline/store-postgres
 */
import 'reflect-metadata';

// factory
export { createPostgresStores, storeOptionProblems } from './factory';
export type { PostgresStoresOptions, PostgresStores } from './factory';
export { openStoreDatabase, storePool } from './database';
export type { StoreDatabaseOptions } from './database';

// stores
export { PostgresLogStore } from './log-store';
export { PostgresStableStore } from './stable-store';
export { PostgresSnapshotStore } from './snapshot-store';

// errors
export {
  StoreUnavailableError,
  StoreClosedError,
  NodeAlreadyRunningError,
  NodeLockLostError,
  DataDirInUseError,
} from './errors';
export type { LockHolder } from './errors';

// schema
export { migrate, MIGRATIONS_TABLE } from './schema/migrate';
export {
  storeEntities,
  LogEntryRow,
  LogBoundsRow,
  HardStateRow,
  SnapshotRow,
  SnapshotChunkRow,
  NodeLockRow,
} from './schema/entities';
export { storeMigrations } from './schema/migrations';

// executors
export { pgExecutor, pgliteExecutor } from './executor';
export { embeddedExecutor, DATA_DIR_LOCK_FILE } from './data-dir-lock';
export type { EmbeddedOptions } from './embedded';
export type {
  SqlExecutor,
  SqlSession,
  SqlResult,
  QueryOptions,
  DedicatedSession,
  PGliteDatabase,
} from './executor';
