import { ConfigError } from '@raftline/core';
import { Pool } from 'pg';
import {
  createPostgresStores,
  NodeAlreadyRunningError,
  openStoreDatabase,
  StoreUnavailableError,
} from '../src';
import { PG_URL, uniqueName } from './support/databases';
import { entries } from './support/entries';

// One database for the stores of several groups of one process (raftline
// serve): the groups share the pool, each node still holds its own lock.

describe('openStoreDatabase - one pool for the stores of several groups', () => {
  const schema = uniqueName('rl_db');
  afterAll(async () => {
    const admin = new Pool({ connectionString: PG_URL, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('the stores of two groups write through one pool of one connection, and a second holder of a node is still refused', async () => {
    const db = await openStoreDatabase({ url: PG_URL, poolSize: 1, applicationName: schema });
    try {
      const a = await createPostgresStores({ executor: db, schema, groupId: 'a', nodeId: 'n1' });
      const b = await createPostgresStores({ executor: db, schema, groupId: 'b', nodeId: 'n1' });
      await Promise.all([a.logStore.append(entries(1, 3, 1)), b.logStore.append(entries(1, 5, 1))]);
      expect([await a.logStore.lastIndex(), await b.logStore.lastIndex()]).toEqual([3, 5]);
      await expect(
        createPostgresStores({ executor: db, schema, groupId: 'a', nodeId: 'n1' }),
      ).rejects.toThrow(NodeAlreadyRunningError);
      await a.close();
      await b.close();
      // The stores left the caller's database open.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('refuses options that name no database or two, and an unreachable server is StoreUnavailableError', async () => {
    await expect(openStoreDatabase({})).rejects.toThrow(/exactly one of url, embedded must be set/);
    await expect(openStoreDatabase({ url: PG_URL, embedded: {}, poolSize: 0 })).rejects.toThrow(ConfigError);
    await expect(
      openStoreDatabase({ url: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 500 }),
    ).rejects.toThrow(StoreUnavailableError);
  });
});
