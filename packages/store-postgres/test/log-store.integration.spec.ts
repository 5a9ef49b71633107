import { CompactedError, ConfigError, LogGapError } from '@raftline/core';
import {
  createPostgresStores,
  pgExecutor,
  StoreClosedError,
  type SqlExecutor,
  type SqlResult,
  type SqlSession,
} from '../src';
import { readAll } from './contract/snapshot-store.contract';
import { PG_URL, postgresFixture } from './support/databases';
import { entries, entry } from './support/entries';

// What the PostgreSQL stores promise beyond the port contracts: the tail
// cache, term(), batch validation, rows keyed by node, crash leftovers swept.

/** An executor that counts the statements and transactions it is asked for. */
class CountingExecutor implements SqlExecutor {
  calls = 0;
  readonly engine: SqlExecutor['engine'];

  constructor(private readonly inner: SqlExecutor) {
    this.engine = inner.engine;
  }

  query<R>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    this.calls++;
    return this.inner.query<R>(sql, params);
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.calls++;
    return this.inner.transaction(fn);
  }

  exclusive<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return this.inner.exclusive(fn);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('PostgresLogStore', () => {
  const pg = postgresFixture();

  it('reads of the recent tail and first/last index are served from memory', async () => {
    const db = new CountingExecutor(pgExecutor(pg.admin(), false));
    const { logStore } = await createPostgresStores({
      groupId: 'g',
      nodeId: 'cache',
      schema: pg.schema,
      executor: db,
    });
    await logStore.append(entries(1, 100));
    const before = db.calls;
    expect(await logStore.entries(40, 101)).toEqual(entries(40, 100));
    expect(await logStore.term(100)).toBe(1);
    expect(await logStore.lastIndex()).toBe(100);
    expect(await logStore.firstIndex()).toBe(1);
    expect(db.calls).toBe(before);
    await logStore.append(entries(90, 95, 2));
    expect(await logStore.entries(89, 200)).toEqual([entry(89), ...entries(90, 95, 2)]);
    expect(await logStore.term(95)).toBe(2);
    expect(db.calls).toBe(before + 1);
  });

  it('a bounded cache still reads older entries from the database', async () => {
    const { logStore } = await pg.open('small-cache', { tailCapacity: 8 });
    await logStore.append(entries(1, 50));
    expect(await logStore.entries(1, 51)).toEqual(entries(1, 50));
    expect(await logStore.term(3)).toBe(1);
    expect(await logStore.term(51)).toBeUndefined();
    await logStore.compactPrefix(10);
    await expect(logStore.term(10)).rejects.toBeInstanceOf(CompactedError);
  });

  it('an append whose batch is not contiguous throws LogGapError and writes nothing', async () => {
    const { logStore } = await pg.open('holes');
    await logStore.append(entries(1, 3));
    await expect(logStore.append([entry(4), entry(6)])).rejects.toBeInstanceOf(LogGapError);
    expect(await logStore.lastIndex()).toBe(3);
  });

  it('nodes sharing a database see only their own rows', async () => {
    const a = await pg.open('share-a');
    const b = await pg.open('share-b');
    await a.logStore.append(entries(1, 10));
    await b.logStore.append(entries(1, 4, 3));
    await a.logStore.compactPrefix(5);
    await b.stableStore.save({ term: 3, vote: 'share-b', commit: 4 });
    const reopened = await pg.open('share-b');
    expect(await reopened.logStore.firstIndex()).toBe(1);
    expect(await reopened.logStore.entries(1, 10)).toEqual(entries(1, 4, 3));
    expect(await a.stableStore.load()).toBeUndefined();
  });

  it('a snapshot write left open by a crash is removed when the node reopens', async () => {
    const first = await pg.open('sweep');
    const done = await first.snapshotStore.create({ index: 4, term: 1, size: 1, voters: ['a'] });
    await done.write(Uint8Array.of(4));
    await done.commit();
    const open = await first.snapshotStore.create({ index: 9, term: 1, size: 1, voters: ['a'] });
    await open.write(Uint8Array.of(9));
    const other = await pg.open('sweep-other');
    const othersWriter = await other.snapshotStore.create({ index: 1, term: 1, size: 0, voters: [] });
    const reopened = await pg.open('sweep');
    const rows = await pg
      .admin()
      .query(
        `SELECT node_id, snapshot_index, committed FROM "${pg.schema}".snapshot WHERE node_id LIKE 'sweep%' ORDER BY node_id`,
      );
    expect(rows.rows).toEqual([
      { node_id: 'sweep', snapshot_index: '4', committed: true },
      { node_id: 'sweep-other', snapshot_index: '1', committed: false },
    ]);
    expect(await readAll(reopened.snapshotStore)).toEqual([Uint8Array.of(4)]);
    await othersWriter.abort();
  });

  it('a closed store throws StoreClosedError', async () => {
    const stores = await pg.open('closed');
    await stores.close();
    await expect(stores.logStore.lastIndex()).rejects.toBeInstanceOf(StoreClosedError);
    await expect(stores.stableStore.load()).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('sessions opened from a url commit synchronously unless told otherwise, and say so', async () => {
    const warnings: object[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      error: () => {},
      warn: (o: object) => warnings.push(o),
    };
    const options = { groupId: 'g', nodeId: 'sync', schema: pg.schema, url: PG_URL, logger };
    const durable = await createPostgresStores(options);
    await durable.close();
    expect(warnings).toEqual([]);
    const relaxed = await createPostgresStores({ ...options, synchronousCommit: 'off' });
    await relaxed.close();
    expect(warnings).toEqual([expect.objectContaining({ synchronousCommit: 'off' })]);
  });

  it('invalid options throw ConfigError naming every field', async () => {
    const opening = createPostgresStores({
      groupId: '',
      nodeId: 'n',
      url: 'x',
      pool: pg.admin(),
      schema: 'Bad-Name',
      tailCapacity: -1,
    });
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toThrow(
      /exactly one of url, pool, embedded, executor.*groupId.*tailCapacity \(-1\).*schema/,
    );
  });
});
