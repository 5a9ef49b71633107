/**
 * The stores of every group of one process, from one database: one
 * PostgreSQL pool (or one embedded PGlite) shared by the groups, each
 * group's node holding its own lock on its rows; or in-memory stores.
 */
import {
  MemoryLogStore,
  MemorySnapshotStore,
  MemoryStableStore,
  type Logger,
  type LogStore,
  type SnapshotStore,
  type StableStore,
} from '@raftline/core';
import type { SqlExecutor } from '@raftline/store-postgres';
import type { StoreSettings } from '../config/schema';

/** The stores of one group's node. */
export interface GroupStores {
  readonly logStore: LogStore;
  readonly stableStore: StableStore;
  readonly snapshotStore: SnapshotStore;
  close(): Promise<void>;
}

/** Where the groups' stores come from. */
export interface StoreProvider {
  /** postgres, pglite or memory: what `status` shows as the replica's store. */
  readonly engine: 'postgres' | 'pglite' | 'memory';
  /**
   * Opens one node's stores.
   * @throws NodeAlreadyRunningError when another process holds this node's rows; StoreUnavailableError
   */
  open(group: string, node: string, logger: Logger): Promise<GroupStores>;
  /** Closes the shared database (after every group's stores). */
  close(): Promise<void>;
}

/**
 * Opens the database the settings name (PostgreSQL and PGlite load only then).
 * @throws StoreUnavailableError when it cannot be reached; DataDirInUseError for an embedded dir in use
 */
export async function openStoreProvider(
  settings: StoreSettings,
  applicationName: string,
): Promise<StoreProvider> {
  if (settings.kind === 'memory') {
    return {
      engine: 'memory',
      open: async () => ({
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        snapshotStore: new MemorySnapshotStore(),
        close: async () => {},
      }),
      close: async () => {},
    };
  }
  const { createPostgresStores, openStoreDatabase } = await import('@raftline/store-postgres');
  const db: SqlExecutor =
    settings.kind === 'postgres'
      ? await openStoreDatabase({
          url: settings.url,
          poolSize: settings.poolSize,
          applicationName,
          synchronousCommit: settings.synchronousCommit,
        })
      : await openStoreDatabase({ embedded: { dataDir: settings.dataDir } });
  return {
    engine: db.engine,
    open: (group, node, logger) =>
      createPostgresStores({ executor: db, schema: settings.schema, groupId: group, nodeId: node, logger }),
    close: () => db.close(),
  };
}
