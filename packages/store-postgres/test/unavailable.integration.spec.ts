import { createPostgresStores, StoreUnavailableError } from '../src';
import { PG_URL, postgresFixture, uniqueName } from './support/databases';
import { entries, entry, logProblem } from './support/entries';

// PostgreSQL going away under the store, simulated without touching the
// shared server: this store's backends are terminated (pg_terminate_backend)
// while it appends. Calls fail with StoreUnavailableError; retried like
// RaftNode does, nothing acknowledged is lost and the store carries on.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unavailable - PostgreSQL', () => {
  const pg = postgresFixture();

  const terminate = async (applicationName: string): Promise<number> => {
    const res = await pg
      .admin()
      .query(
        'SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName],
      );
    return res.rowCount ?? 0;
  };

  it('terminated connections fail calls with StoreUnavailableError; retries lose no acknowledged append', async () => {
    const applicationName = uniqueName('rl_unavail');
    const stores = await createPostgresStores({
      groupId: 'g',
      nodeId: 'n1',
      schema: pg.schema,
      url: PG_URL,
      applicationName,
    });
    const { logStore, stableStore } = stores;
    const failures: unknown[] = [];
    let acked = 0;
    let stop = false;

    const writer = (async () => {
      let term = 1;
      while (!stop) {
        const from = acked + 1;
        try {
          await logStore.append(entries(from, from + 31, term));
          await stableStore.save({ term, vote: 'n1', commit: from + 31 });
          acked = from + 31;
        } catch (err) {
          failures.push(err);
          term++; // the retry rewrites the same indexes, as a new leader's entries would
          await sleep(10);
        }
      }
    })();

    let killed = 0;
    for (let round = 0; round < 6; round++) {
      await sleep(120);
      killed += await terminate(applicationName);
    }
    await sleep(150);
    stop = true;
    await writer;

    expect(killed).toBeGreaterThan(0);
    expect(failures.length).toBeGreaterThan(0);
    for (const err of failures) {
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).cause).toBeDefined();
    }

    // Still usable, and the log is whole.
    const last = await logStore.lastIndex();
    expect(last).toBeGreaterThanOrEqual(acked);
    await logStore.append([entry(last + 1, 99)]);
    const log = await logStore.entries(1, last + 2);
    expect(log).toHaveLength(last + 1);
    expect(logProblem(log, 1)).toBeUndefined();
    expect((await stableStore.load())?.commit).toBeGreaterThanOrEqual(acked);
    await stores.close();
  }, 30_000);

  it('a failed statement rejects with StoreUnavailableError and the store re-reads its state', async () => {
    const a = await pg.open('twin');
    await a.logStore.append(entries(1, 3));
    // A second writer for the same node (not supported) makes a's cached last index stale.
    const b = await pg.open('twin');
    await b.logStore.append(entries(4, 6));
    const failed = a.logStore.append([entry(4, 2)]).catch((e: unknown) => e);
    expect(await failed).toBeInstanceOf(StoreUnavailableError);
    expect(((await failed) as StoreUnavailableError).cause).toMatchObject({ code: '23505' });
    expect(await a.logStore.lastIndex()).toBe(6);
    await a.logStore.append([entry(7, 2)]);
    const log = await a.logStore.entries(1, 8);
    expect(log).toHaveLength(7);
    expect(logProblem(log, 1)).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('an unreachable server fails createPostgresStores with StoreUnavailableError', async () => {
    const opening = createPostgresStores({
      groupId: 'g',
      nodeId: 'n1',
      url: 'postgres://postgres@127.0.0.1:1/test',
      connectTimeoutMs: 1000,
    });
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(opening).rejects.toMatchObject({ cause: expect.objectContaining({ code: 'ECONNREFUSED' }) });
  });
});
