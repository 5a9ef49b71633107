import { Pool } from 'pg';
import { ConfigError } from '@raftline/core';
import { createPostgresStores, openStoreDatabase, type PostgresStores } from '../src/index';
import { PG_URL, uniqueName } from './support/databases';
import { entries } from './support/entries';

// The write path's statements (entry INSERTs of small batches, the hard-state
// upsert) run as named prepared statements on PostgreSQL unless
// preparedStatements is false (for PgBouncer in transaction mode).

jest.setTimeout(30_000);

const schema = uniqueName('rl_prep');
const pools: Pool[] = [];
const opened: PostgresStores[] = [];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await pools[0]?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await Promise.all(pools.map((p) => p.end()));
});

/**
 * Opens node `nodeId`'s stores on a pool of its own with one connection, so
 * the statements they prepare are exactly those of that connection.
 * @returns the stores, and the texts of the statements prepared on the connection
 */
async function open(nodeId: string, preparedStatements?: boolean) {
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  pools.push(pool);
  const stores = await createPostgresStores({
    groupId: 'g',
    nodeId,
    schema,
    pool,
    ...(preparedStatements === undefined ? {} : { preparedStatements }),
  });
  opened.push(stores);
  const prepared = async (): Promise<string[]> => {
    const res = await pool.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements');
    return res.rows.map((r) => r.statement);
  };
  return { stores, prepared };
}

describe('PostgreSQL stores - prepared statements', () => {
  it('prepare the step INSERT, the plain INSERT and the hard-state upsert, and write what they should', async () => {
    const { stores, prepared } = await open('prep-on');
    expect(await prepared()).toEqual([]);
    await stores.logStore.persistStep(entries(1, 1, 1), { term: 1, vote: 'a', commit: 0 });
    await stores.logStore.persistStep(entries(2, 3, 1), undefined);
    await stores.stableStore.save({ term: 2, vote: 'b', commit: 3 });
    // Run again: the prepared statement is reused, not prepared a second time.
    await stores.logStore.persistStep(entries(4, 4, 1), { term: 2, vote: 'b', commit: 3 });
    const texts = await prepared();
    expect(texts).toHaveLength(3); // the step INSERT of 1 row, the INSERT of 2 rows, the upsert
    expect(texts.filter((t) => t.startsWith('WITH appended AS (INSERT INTO'))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith(`INSERT INTO "${schema}".log_entry`))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith(`INSERT INTO "${schema}".hard_state`))).toHaveLength(1);
    expect(await stores.logStore.entries(1, 5)).toEqual(entries(1, 4, 1));
    expect(await stores.stableStore.load()).toEqual({ term: 2, vote: 'b', commit: 3 });
  });

  it('leave a batch of more than 16 entries unnamed', async () => {
    const { stores, prepared } = await open('prep-large');
    await stores.logStore.append(entries(1, 17, 1));
    expect(await prepared()).toEqual([]);
    expect(await stores.logStore.lastIndex()).toBe(17);
  });

  it('with preparedStatements: false, prepare nothing', async () => {
    const { stores, prepared } = await open('prep-off', false);
    await stores.logStore.persistStep(entries(1, 2, 1), { term: 1, vote: 'a', commit: 0 });
    await stores.stableStore.save({ term: 1, vote: 'a', commit: 2 });
    expect(await prepared()).toEqual([]);
    expect(await stores.logStore.entries(1, 3)).toEqual(entries(1, 2, 1));
  });

  it('a preparedStatements that is not a boolean is a ConfigError naming it', async () => {
    const bad = { preparedStatements: 'yes' as unknown as boolean };
    await expect(createPostgresStores({ groupId: 'g', nodeId: 'n', url: PG_URL, ...bad })).rejects.toThrow(
      new ConfigError(['preparedStatements (yes) must be true or false']),
    );
    await expect(openStoreDatabase({ url: PG_URL, ...bad })).rejects.toThrow(
      new ConfigError(['preparedStatements (yes) must be true or false']),
    );
  });
});
