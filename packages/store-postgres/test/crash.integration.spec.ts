import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPostgresStores, type PostgresStores } from '../src';
import { spawnTs, type TsChild } from './support/child';
import { PG_URL, postgresFixture, uniqueName } from './support/databases';
import { logProblem } from './support/entries';

// kill -9 of a node process in the middle of its appends: whatever it had
// acknowledged must be in the log afterwards, and the log must be a
// contiguous, well-formed prefix of what it was writing.

const CHILD = path.join(__dirname, 'fixtures/append-child.ts');

const ackedIndex = (line: string) => Number(line.slice(4));

/** Waits for `acks` acknowledgements, then SIGKILLs the child; returns the highest acknowledged index. */
async function killAfter(child: TsChild, acks: number): Promise<number> {
  await child.waitFor((l) => l.startsWith('ready'));
  let seen = 0;
  await child.waitFor((l) => l.startsWith('ack') && ++seen >= acks);
  child.process.kill('SIGKILL');
  expect(await child.exited).toBe('SIGKILL');
  // Lines read before the kill landed are acknowledgements too.
  return Math.max(...child.lines.filter((l) => l.startsWith('ack')).map(ackedIndex));
}

async function expectIntactLog(stores: PostgresStores, acked: number): Promise<void> {
  const { logStore } = stores;
  const first = await logStore.firstIndex();
  const last = await logStore.lastIndex();
  expect(first).toBe(1);
  expect(last).toBeGreaterThanOrEqual(acked);
  const log = await logStore.entries(first, last + 1);
  expect(log).toHaveLength(last);
  expect(logProblem(log, first)).toBeUndefined();
}

/**
 * After a kill -9 during persistStep writes (append-child's steps mode): the
 * hard state is the one written with the last durable batch, never one
 * from an earlier or a later step (each step is one atomic write).
 */
async function expectStepAtomic(stores: PostgresStores, batch: number): Promise<void> {
  const last = await stores.logStore.lastIndex();
  const hs = await stores.stableStore.load();
  const [tail] = await stores.logStore.entries(last, last + 1);
  expect(hs).toEqual({ term: tail!.term, vote: 'n1', commit: last - batch });
}

describe('crash - PostgreSQL', () => {
  const pg = postgresFixture();

  it('kill -9 during step writes leaves the last durable step whole: its entries and its hard state', async () => {
    const batch = 16;
    const nodeId = uniqueName('crashstep');
    const config = { url: PG_URL, schema: pg.schema, groupId: 'g', nodeId, batch, steps: true };
    const child = spawnTs(CHILD, [JSON.stringify(config)]);
    const acked = await killAfter(child, 60);
    const stores = await pg.open(nodeId);
    try {
      await expectIntactLog(stores, acked);
      await expectStepAtomic(stores, batch);
    } finally {
      await stores.close();
    }
  }, 30_000);

  it('kill -9 during appends keeps every acknowledged index in a contiguous log', async () => {
    const config = { url: PG_URL, schema: pg.schema, groupId: 'g', nodeId: uniqueName('crash'), batch: 64 };
    const child = spawnTs(CHILD, [JSON.stringify(config)]);
    const acked = await killAfter(child, 40);
    const stores = await pg.open(config.nodeId);
    try {
      await expectIntactLog(stores, acked);
      // The reopened store carries on where the log ends.
      const last = await stores.logStore.lastIndex();
      await stores.logStore.append([
        { index: last + 1, term: 9, type: 'normal', data: new TextEncoder().encode(`e${last + 1}t9`) },
      ]);
      expect(await stores.logStore.lastIndex()).toBe(last + 1);
    } finally {
      await stores.close();
    }
  }, 30_000);
});

describe('crash - PGlite', () => {
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'raftline-crash-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('kill -9 during appends keeps every acknowledged index in a contiguous log', async () => {
    const config = { dataDir, schema: 'raftline', groupId: 'g', nodeId: 'n1', batch: 64 };
    const child = spawnTs(CHILD, [JSON.stringify(config)]);
    const acked = await killAfter(child, 25);
    const stores = await createPostgresStores({ groupId: 'g', nodeId: 'n1', embedded: { dataDir } });
    try {
      await expectIntactLog(stores, acked);
    } finally {
      await stores.close();
    }
  }, 60_000);

  it('kill -9 during step writes leaves the last durable step whole: its entries and its hard state', async () => {
    const batch = 16;
    const config = { dataDir, schema: 'raftline', groupId: 'g', nodeId: 'n2', batch, steps: true };
    const child = spawnTs(CHILD, [JSON.stringify(config)]);
    const acked = await killAfter(child, 25);
    const stores = await createPostgresStores({ groupId: 'g', nodeId: 'n2', embedded: { dataDir } });
    try {
      await expectIntactLog(stores, acked);
      await expectStepAtomic(stores, batch);
    } finally {
      await stores.close();
    }
  }, 60_000);
});
