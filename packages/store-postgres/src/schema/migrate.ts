import { DataSource } from 'typeorm';
import type { SqlExecutor, SqlSession } from '../executor';
import { quoteSchema } from '../sql';
import { storeEntities } from './entities';
import { storeMigrations } from './migrations';
import { sessionDriver } from './typeorm-driver';

/** Advisory lock class id for "migrating a raftline store schema" (the second key is the schema's hash). */
const MIGRATION_LOCK_CLASS = 0x52_4c_53; // 'RLS'

/** Name of TypeORM's migrations table inside the store's schema. */
export const MIGRATIONS_TABLE = 'raftline_migrations';

/**
 * Builds the TypeORM DataSource over one session. It is used for migrations
 * (and by tests, to compare entities with the migrated schema); the stores
 * themselves never go through TypeORM.
 */
export function schemaDataSource(session: SqlSession, schema: string): DataSource {
  return new DataSource({
    type: 'postgres',
    driver: sessionDriver(session),
    schema,
    entities: storeEntities,
    migrations: storeMigrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
}

/**
 * Creates the schema and runs pending migrations, under a session-level
 * advisory lock so that processes starting together take turns (the second
 * finds nothing to do). Safe to call on every start.
 *
 * Returns the names of the migrations it applied (empty when up to date).
 * Throws the driver's or TypeORM's error when the database refuses.
 */
export async function migrate(executor: SqlExecutor, schema: string): Promise<string[]> {
  const quoted = quoteSchema(schema);
  return executor.exclusive(async (session) => {
    const key = [MIGRATION_LOCK_CLASS, schema];
    await session.query('SELECT pg_advisory_lock($1::int, hashtext($2::text))', key);
    let applied: string[];
    try {
      await session.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      applied = await runTypeormMigrations(session, schema);
    } catch (err) {
      // A pg connection is discarded after a failure (and the lock with it);
      // PGlite's one session lives on, so leave it clean.
      await session.query('ROLLBACK').catch(() => undefined);
      await session
        .query('SELECT pg_advisory_unlock($1::int, hashtext($2::text))', key)
        .catch(() => undefined);
      throw err;
    }
    await session.query('SELECT pg_advisory_unlock($1::int, hashtext($2::text))', key);
    return applied;
  });
}

async function runTypeormMigrations(session: SqlSession, schema: string): Promise<string[]> {
  const source = schemaDataSource(session, schema);
  await source.initialize();
  try {
    const done = await source.runMigrations({ transaction: 'all' });
    return done.map((m) => m.name);
  } finally {
    await source.destroy();
  }
}
