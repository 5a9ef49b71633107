import { createPostgresStores, StoreUnavailableError, type PostgresStores } from '../src';
import { PG_URL, postgresFixture, uniqueName } from './support/databases';
import { entries, entry, logProblem } from './support/entries';
import { ThrowawayPostgres } from './support/throwaway-postgres';

// PostgreSQL going away under the store. On the shared server only this
// store's own backends are terminated (pg_terminate_backend, matched by its
// unique application_name) while it appends; the server itself is stopped or
// killed only when it is a ThrowawayPostgres of this file's own. Calls fail
// with StoreUnavailableError; retried like RaftNode does, nothing acknowledged
// is lost and the store carries on.

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
    // Rows written behind the store's back (a second store of the node is refused) make its cached last index stale.
    for (const e of entries(4, 6)) {
      await pg
        .admin()
        .query(
          `INSERT INTO "${pg.schema}".log_entry (group_id, node_id, idx, term, type, payload) VALUES ('g', 'twin', $1, $2, 0, $3)`,
          [e.index, e.term, e.data],
        );
    }
    const failed = a.logStore.append([entry(4, 2)]).catch((e: unknown) => e);
    expect(await failed).toBeInstanceOf(StoreUnavailableError);
    expect(((await failed) as StoreUnavailableError).cause).toMatchObject({ code: '23505' });
    expect(await a.logStore.lastIndex()).toBe(6);
    await a.logStore.append([entry(7, 2)]);
    const log = await a.logStore.entries(1, 8);
    expect(log).toHaveLength(7);
    expect(logProblem(log, 1)).toBeUndefined();
    await a.close();
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

describe("unavailable - PostgreSQL server down (a server of this file's own)", () => {
  const server = new ThrowawayPostgres();
  beforeAll(() => server.start(), 60_000);
  afterEach(() => server.start(), 60_000); // a failed test may have left it down
  afterAll(() => server.remove(), 60_000);

  /** Appends 16-entry batches and saves the commit index, retrying failures under a new term, like RaftNode. */
  const startWriter = (stores: PostgresStores) => {
    const state = { acked: 0, failures: [] as unknown[], stop: false };
    const done = (async () => {
      const deadline = Date.now() + 20_000;
      let term = 1;
      for (let round = 0; round < 5000 && !state.stop && Date.now() < deadline; round++) {
        const from = state.acked + 1;
        try {
          await stores.logStore.append(entries(from, from + 15, term));
          await stores.stableStore.save({ term, vote: 'n1', commit: from + 15 });
          state.acked = from + 15;
        } catch (err) {
          state.failures.push(err);
          term++;
          await sleep(20);
        }
      }
    })();
    return { state, done };
  };

  const waitUntil = async (what: string, cond: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  };

  it.each([
    { how: 'stopped (fast shutdown)', down: () => server.stop({ mode: 'fast' }) },
    { how: 'killed with kill -9', down: () => server.kill9() },
  ])(
    '$how under appends: calls fail with StoreUnavailableError, then succeed once it is back; every acknowledged append survives',
    async ({ down }) => {
      const schema = uniqueName('rl_down');
      const open = () => createPostgresStores({ groupId: 'g', nodeId: 'n1', schema, url: server.url });
      const stores = await open();
      const writer = startWriter(stores);
      await waitUntil('100 acknowledged entries', () => writer.state.acked >= 100);
      await down();
      const ackedWhenDown = writer.state.acked;
      await waitUntil('a failed call', () => writer.state.failures.length > 0);
      await sleep(300);
      await server.start();
      await waitUntil('100 more acknowledged entries', () => writer.state.acked >= ackedWhenDown + 116);
      writer.state.stop = true;
      await writer.done;
      const { acked, failures } = writer.state;
      await stores.close();

      for (const err of failures) {
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect((err as StoreUnavailableError).cause).toBeDefined();
      }
      // Read back through new stores, from the server's rows rather than the old stores' cache.
      const reopened = await open();
      try {
        const last = await reopened.logStore.lastIndex();
        expect(last).toBeGreaterThanOrEqual(acked);
        const log = await reopened.logStore.entries(1, last + 1);
        expect(log).toHaveLength(last);
        expect(logProblem(log, 1)).toBeUndefined();
        expect((await reopened.stableStore.load())?.commit).toBeGreaterThanOrEqual(acked);
      } finally {
        await reopened.close();
      }
    },
    60_000,
  );
});
