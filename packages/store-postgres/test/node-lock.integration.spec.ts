import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import {
  createPostgresStores,
  DataDirInUseError,
  embeddedExecutor,
  NodeAlreadyRunningError,
  NodeLockLostError,
  StoreUnavailableError,
  type PostgresStores,
} from '../src';
import { nodeLockKey } from '../src/node-lock';
import { Statements } from '../src/sql';
import { spawnTs, type TsChild } from './support/child';
import { PG_URL, postgresFixture, uniqueName } from './support/databases';
import { entries, entry, logProblem } from './support/entries';

// One process at a time per node: a second process that opens the stores of
// a (schema, group, node) already open elsewhere is refused, a holder killed
// with kill -9 frees the node, and a holder whose lock connection was taken
// over stops acknowledging.

const CHILD = path.join(__dirname, 'fixtures/hold-child.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves with the child's first `ready` or `refused` line. */
const outcome = (child: TsChild) => child.waitFor((l) => l.startsWith('ready') || l.startsWith('refused'));

async function kill9(child: TsChild): Promise<void> {
  child.process.kill('SIGKILL');
  await child.exited;
}

describe('node lock - PostgreSQL', () => {
  const pg = postgresFixture();
  const children: TsChild[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map(kill9));
  });

  const spawnHolder = (groupId: string): TsChild => {
    const child = spawnTs(CHILD, [JSON.stringify({ url: PG_URL, schema: pg.schema, groupId, nodeId: 'n1' })]);
    children.push(child);
    return child;
  };

  /** The backend that holds the node's advisory lock, if any. */
  const lockHolderPid = async (groupId: string, nodeId: string): Promise<number | undefined> => {
    const key = BigInt(nodeLockKey(pg.schema, { groupId, nodeId }));
    const res = await pg
      .admin()
      .query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 ` +
          `AND classid = $1::oid AND objid = $2::oid ` +
          `AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [((key >> 32n) & 0xffffffffn).toString(), (key & 0xffffffffn).toString()],
      );
    return res.rows[0]?.pid;
  };

  const terminate = (pid: number) => pg.admin().query('SELECT pg_terminate_backend($1)', [pid]);

  it('a second process with the same group and node is refused with NodeAlreadyRunningError; once the first is killed with kill -9 it starts', async () => {
    const groupId = uniqueName('g');
    const first = spawnHolder(groupId);
    expect(await outcome(first)).toBe('ready 1');

    const second = spawnHolder(groupId);
    const refused = await outcome(second);
    expect(refused).toMatch(
      new RegExp(
        `^refused NodeAlreadyRunningError: node n1 of group ${groupId} is already running on schema ${pg.schema} \\(pid ${first.process.pid} on `,
      ),
    );
    expect(await second.exited).toBe(3);

    await kill9(first);
    const third = spawnHolder(groupId);
    // It carries on from the first one's rows.
    expect(await outcome(third)).toBe('ready 2');
  }, 30_000);

  it('in one process a second open of a node is refused; other nodes, groups and schemas are not; close() releases the node', async () => {
    const groupId = uniqueName('g');
    const otherSchema = uniqueName('rl_other');
    const open = (nodeId: string, extra: { groupId?: string; schema?: string } = {}) =>
      createPostgresStores({ groupId, nodeId, schema: pg.schema, url: PG_URL, ...extra });
    const a = await open('n1');
    const others: PostgresStores[] = [];
    try {
      const twice = open('n1').catch((e: unknown) => e);
      expect(await twice).toBeInstanceOf(NodeAlreadyRunningError);
      expect(await twice).toMatchObject({ groupId, nodeId: 'n1', schema: pg.schema });
      others.push(await open('n2'));
      others.push(await open('n1', { groupId: `${groupId}x` }));
      others.push(await open('n1', { schema: otherSchema }));
      await a.logStore.append(entries(1, 3));
      await a.close();
      const again = await open('n1');
      others.push(again);
      expect(await again.logStore.lastIndex()).toBe(3);
    } finally {
      await a.close();
      await Promise.all(others.map((s) => s.close()));
      await pg.admin().query(`DROP SCHEMA IF EXISTS "${otherSchema}" CASCADE`);
    }
  }, 30_000);

  it('a lost lock connection that nobody else took over is taken back, and the stores carry on', async () => {
    const groupId = uniqueName('g');
    const stores = await createPostgresStores({ groupId, nodeId: 'n1', schema: pg.schema, url: PG_URL });
    try {
      await stores.logStore.append(entries(1, 3));
      const before = await lockHolderPid(groupId, 'n1');
      expect(before).toBeDefined();
      await terminate(before!);
      await waitUntil('the lock held by a new session', async () => {
        const now = await lockHolderPid(groupId, 'n1');
        return now !== undefined && now !== before;
      });
      // Calls may fail (StoreUnavailableError) until the store has noticed and taken the lock back.
      let appended = false;
      for (let attempt = 0; attempt < 100 && !appended; attempt++) {
        try {
          await stores.logStore.append([entry(4)]);
          appended = true;
        } catch (err) {
          expect(err).toBeInstanceOf(StoreUnavailableError);
          await sleep(50);
        }
      }
      expect(appended).toBe(true);
      const log = await stores.logStore.entries(1, 5);
      expect(logProblem(log, 1)).toBeUndefined();
      expect(log).toHaveLength(4);
    } finally {
      await stores.close();
    }
  }, 30_000);

  it('a holder whose lock another session took while its connection was gone fails every call with NodeLockLostError; the node starts anew', async () => {
    const groupId = uniqueName('g');
    const owner = { groupId, nodeId: 'n1' };
    const stores = await createPostgresStores({ ...owner, schema: pg.schema, url: PG_URL });
    const intruder = new Client({ connectionString: PG_URL });
    await intruder.connect();
    try {
      await stores.logStore.append(entries(1, 3));
      const holder = await lockHolderPid(groupId, 'n1');
      // Queued on the server, the intruder gets the lock the moment the holder's session ends.
      const taken = intruder.query('SELECT pg_advisory_lock($1::bigint)', [nodeLockKey(pg.schema, owner)]);
      await terminate(holder!);
      await taken;
      await intruder.query(new Statements(pg.schema).claimNodeLock, [groupId, 'n1', 'the intruder']);
      await intruder.query('SELECT pg_advisory_unlock_all()');

      await waitUntil('the holder to give up', async () => {
        const failure = await stores.stableStore.load().then(
          () => undefined,
          (e: unknown) => e,
        );
        // Until it notices, reads succeed or fail as unavailable (while it tries to take the lock back).
        if (failure !== undefined && !(failure instanceof NodeLockLostError)) {
          expect(failure).toBeInstanceOf(StoreUnavailableError);
        }
        return failure instanceof NodeLockLostError;
      });
      const write = stores.logStore.append([entry(4)]).catch((e: unknown) => e);
      expect(await write).toBeInstanceOf(NodeLockLostError);
      expect(String(await write)).toMatch(
        new RegExp(`node n1 of group ${groupId} lost its store lock: .*the intruder`),
      );
      // Nothing was written after the takeover; the lock is free again for a new start.
      await stores.close();
      const restarted = await createPostgresStores({ ...owner, schema: pg.schema, url: PG_URL });
      expect(await restarted.logStore.lastIndex()).toBe(3);
      await restarted.close();
    } finally {
      await stores.close();
      await intruder.end();
    }
  }, 30_000);
});

describe('node lock - PGlite', () => {
  let dataDir = '';
  const children: TsChild[] = [];
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'raftline-lock-'));
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(kill9));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a second process opening the same data directory fails with DataDirInUseError; once the first is killed with kill -9 it opens', async () => {
    const first = spawnTs(CHILD, [
      JSON.stringify({ dataDir, schema: 'raftline', groupId: 'g', nodeId: 'n1' }),
    ]);
    children.push(first);
    expect(await outcome(first)).toBe('ready 1');

    const opening = createPostgresStores({ groupId: 'g', nodeId: 'n2', embedded: { dataDir } });
    await expect(opening).rejects.toBeInstanceOf(DataDirInUseError);
    await expect(opening).rejects.toMatchObject({ dataDir, pid: first.process.pid });

    await kill9(first);
    const stores = await createPostgresStores({ groupId: 'g', nodeId: 'n1', embedded: { dataDir } });
    try {
      expect(await stores.logStore.lastIndex()).toBe(1);
    } finally {
      await stores.close();
    }
  }, 60_000);

  it('one embedded database shared in a process refuses a second open of a node and a second executor on its directory', async () => {
    const executor = await embeddedExecutor(dataDir);
    const open = (nodeId: string) => createPostgresStores({ groupId: 'g', nodeId, executor });
    try {
      await expect(embeddedExecutor(dataDir)).rejects.toMatchObject({
        name: 'DataDirInUseError',
        pid: process.pid,
      });
      const a = await open('n1');
      await expect(open('n1')).rejects.toBeInstanceOf(NodeAlreadyRunningError);
      const b = await open('n2');
      await a.close();
      const again = await open('n1');
      await Promise.all([b.close(), again.close()]);
    } finally {
      await executor.close();
    }
    // Closed, the directory opens again.
    await (await embeddedExecutor(dataDir)).close();
  }, 60_000);
});
