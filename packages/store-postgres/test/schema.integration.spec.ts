import { Pool } from 'pg';
import { migrate, pgExecutor, type SqlExecutor } from '../src';
import { MIGRATIONS_TABLE, schemaDataSource } from '../src/schema/migrate';
import { PG_URL, pgliteFixture, postgresFixture, uniqueName } from './support/databases';

// TypeORM entities and migrations own the schema: migrations run on every
// start, are idempotent, survive concurrent starts, and create exactly what the
// entities describe.

/** Every migration, in the order they apply. */
const MIGRATIONS = ['StoreSchema1763800000000', 'NodeLock1763900000000'];

/** The statements TypeORM would run to make the schema match the entities (none when they agree). */
async function drift(executor: SqlExecutor, schema: string): Promise<string[]> {
  return executor.exclusive(async (session) => {
    const source = schemaDataSource(session, schema);
    await source.initialize();
    try {
      const log = await source.driver.createSchemaBuilder().log();
      return log.upQueries.map((q) => q.query);
    } finally {
      await source.destroy();
    }
  });
}

describe('schema - PostgreSQL', () => {
  const pg = postgresFixture();

  it('migrate applies the migration once; running it again does nothing', async () => {
    const executor = pgExecutor(pg.admin(), false);
    expect(await migrate(executor, pg.schema)).toEqual(MIGRATIONS);
    expect(await migrate(executor, pg.schema)).toEqual([]);
    const rows = await pg.admin().query(`SELECT name FROM "${pg.schema}"."${MIGRATIONS_TABLE}"`);
    expect(rows.rows).toEqual(MIGRATIONS.map((name) => ({ name })));
  });

  it('processes starting at once take turns: one applies, the others find nothing to do', async () => {
    const schema = uniqueName('rl_race');
    const pools = Array.from({ length: 4 }, () => new Pool({ connectionString: PG_URL, max: 1 }));
    try {
      const applied = await Promise.all(pools.map((p) => migrate(pgExecutor(p, false), schema)));
      expect(applied.flat()).toEqual(MIGRATIONS);
    } finally {
      await pools[0]?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('the migrated schema is what the entities describe', async () => {
    const executor = pgExecutor(pg.admin(), false);
    await migrate(executor, pg.schema);
    expect(await drift(executor, pg.schema)).toEqual([]);
  });

  it('a schema name that is not a plain identifier is refused', async () => {
    await expect(migrate(pgExecutor(pg.admin(), false), 'x"; DROP TABLE y; --')).rejects.toThrow(/schema/);
  });
});

describe('schema - PGlite', () => {
  const lite = pgliteFixture();

  it('migrations are idempotent and match the entities', async () => {
    await migrate(lite.db(), 'other');
    expect(await migrate(lite.db(), 'other')).toEqual([]);
    expect(await drift(lite.db(), 'other')).toEqual([]);
  }, 30_000);
});
