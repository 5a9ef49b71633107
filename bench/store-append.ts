/**
 * Append throughput of @raftline/store-postgres, in entries per second, at
 * batch sizes 1, 16, 128 and 1024 with 128-byte entries, next to raw pg
 * multi-row INSERTs of the same rows into a plain table of the same shape
 * (same columns and primary key) on the same server in the same run. Also the
 * embedded (PGlite) store, for scale. Commits are durable throughout
 * (synchronous_commit=on). Store and raw runs alternate, round by round, so
 * that drift in the machine affects both alike.
 *
 * Run: npm run bench:store (needs PostgreSQL; RAFTLINE_PG_URL overrides
 * postgres://postgres@127.0.0.1:5432/test). Writes bench/results/store-append.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Entry } from '@raftline/core';
import { createPostgresStores, embeddedExecutor, type PostgresStores } from '@raftline/store-postgres';
import { Pool } from 'pg';

const URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `rl_bench_${process.pid}`;
const ENTRY_BYTES = 128;
const ROUNDS = 10;
/** Batches per round, per batch size: bounded so that the whole run takes well under a minute. */
const PLAN: ReadonlyArray<{ batch: number; batches: number }> = [
  { batch: 1, batches: 150 },
  { batch: 16, batches: 100 },
  { batch: 128, batches: 30 },
  { batch: 1024, batches: 6 },
];

const payload = new Uint8Array(ENTRY_BYTES).map((_, i) => (i * 31) & 0xff);

function batchAt(from: number, size: number): Entry[] {
  return Array.from({ length: size }, (_, i) => ({
    index: from + i,
    term: 1,
    type: 'normal',
    data: payload,
  }));
}

/** Appends `batches` batches through the store; returns elapsed ms. */
async function runStore(stores: PostgresStores, batch: number, batches: number): Promise<number> {
  let next = (await stores.logStore.lastIndex()) + 1;
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    await stores.logStore.append(batchAt(next, batch));
    next += batch;
  }
  return performance.now() - start;
}

/** The same rows with one hand-written multi-row INSERT per batch (autocommit); returns elapsed ms. */
async function runRaw(
  pool: Pool,
  node: string,
  from: number,
  batch: number,
  batches: number,
): Promise<number> {
  const values = Array.from({ length: batch }, (_, r) => {
    const p = 3 + r * 4;
    return `($1,$2,$${p},$${p + 1},$${p + 2},$${p + 3})`;
  }).join(',');
  const sql = `INSERT INTO "${SCHEMA}".raw_log (group_id, node_id, idx, term, type, payload) VALUES ${values}`;
  let next = from;
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const params: unknown[] = ['bench', node];
    for (let i = 0; i < batch; i++) params.push(next + i, 1, 0, payload);
    await pool.query(sql, params);
    next += batch;
  }
  return performance.now() - start;
}

interface Row {
  batch: number;
  entries: number;
  storeEntriesPerSec: number;
  rawPgEntriesPerSec: number;
  storeVsRaw: number;
  pgliteStoreEntriesPerSec: number;
}

async function main(): Promise<void> {
  const admin = new Pool({ connectionString: URL, max: 1 });
  const raw = new Pool({ connectionString: URL, max: 1, options: '-c synchronous_commit=on' });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'raftline-bench-'));
  const rows: Row[] = [];
  try {
    const server =
      (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    await admin.query(`CREATE SCHEMA "${SCHEMA}"`);
    await admin.query(
      `CREATE TABLE "${SCHEMA}".raw_log (group_id text NOT NULL, node_id text NOT NULL, idx bigint NOT NULL, ` +
        `term bigint NOT NULL, type smallint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (group_id, node_id, idx))`,
    );
    const lite = await embeddedExecutor(dataDir);
    for (const { batch, batches } of PLAN) {
      const node = `b${batch}`;
      const stores = await createPostgresStores({
        url: URL,
        schema: SCHEMA,
        groupId: 'bench',
        nodeId: node,
        poolSize: 1,
      });
      const embedded = await createPostgresStores({ executor: lite, groupId: 'bench', nodeId: node });
      let storeMs = 0;
      let rawMs = 0;
      let rawNext = 1;
      // Warm-up: connections, plans, caches.
      await runStore(stores, batch, 3);
      await runRaw(raw, node, rawNext, batch, 3);
      rawNext += 3 * batch;
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first, so that neither always follows the other.
        const storeRound = async () => {
          storeMs += await runStore(stores, batch, batches);
        };
        const rawRound = async () => {
          rawMs += await runRaw(raw, node, rawNext, batch, batches);
          rawNext += batches * batch;
        };
        for (const step of round % 2 === 0 ? [storeRound, rawRound] : [rawRound, storeRound]) await step();
      }
      // The embedded store afterwards, on its own: its worker thread competes for the CPU.
      const liteMs = await runStore(embedded, batch, Math.ceil((ROUNDS * batches) / 3));
      await Promise.all([stores.close(), embedded.close()]);
      const total = ROUNDS * batches * batch;
      const liteTotal = Math.ceil((ROUNDS * batches) / 3) * batch;
      const perSec = (n: number, ms: number) => Math.round((n * 1000) / ms);
      const row: Row = {
        batch,
        entries: total,
        storeEntriesPerSec: perSec(total, storeMs),
        rawPgEntriesPerSec: perSec(total, rawMs),
        storeVsRaw: Math.round((rawMs / storeMs) * 100) / 100,
        pgliteStoreEntriesPerSec: perSec(liteTotal, liteMs),
      };
      rows.push(row);
      console.log(`batch ${batch}: store ${row.storeEntriesPerSec}/s, raw pg ${row.rawPgEntriesPerSec}/s`);
    }
    await lite.close();
    printTable(rows);
    const outDir = path.join(__dirname, 'results');
    mkdirSync(outDir, { recursive: true });
    const result = {
      benchmark: 'store-append',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', node: process.version },
      postgres: { version: server, synchronousCommit: 'on', url: URL.replace(/\/\/[^@]*@/, '//') },
      config: { entryBytes: ENTRY_BYTES, rounds: ROUNDS, plan: PLAN },
      results: rows,
    };
    writeFileSync(path.join(outDir, 'store-append.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => undefined);
    await Promise.all([admin.end(), raw.end()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function printTable(rows: readonly Row[]): void {
  const head = ['batch', 'store (e/s)', 'raw pg (e/s)', 'store/raw', 'PGlite store (e/s)'];
  const body = rows.map((r) => [
    String(r.batch),
    String(r.storeEntriesPerSec),
    String(r.rawPgEntriesPerSec),
    `${Math.round(r.storeVsRaw * 100)}%`,
    String(r.pgliteStoreEntriesPerSec),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  console.log(['', line(head), ...body.map(line)].join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
