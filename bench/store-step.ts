/**
 * The latency of one Raft step's write on PostgreSQL (issue #15): a one-entry
 * persistStep carrying the hard state, as RaftNode writes it for every
 * command, through PostgresLogStore, next to raw statements of the same shape
 * on the same server: the same CTE unnamed (parsed and planned each time) and
 * as a named prepared statement, the bare INSERT, and SELECT 1 (the round
 * trip floor). Each by one writer alone, then by three writers at once (the
 * three replicas of a group writing the same step on one server).
 * Variants alternate round by round so that drift affects all alike.
 *
 * Run: node -r ./scripts/ts-register.js bench/store-step.ts [--steps 200]
 * (RAFTLINE_PG_URL overrides postgres://postgres@127.0.0.1:5432/test)
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Statements } from '../packages/store-postgres/src/sql';
import { createPostgresStores, type PostgresStores } from '@raftline/store-postgres';
import { Pool, type PoolClient } from 'pg';

const URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `rl_step_${process.pid}`;
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const STEPS = Math.min(2000, Number(arg('steps', '200')));
const ROUNDS = 7;
const payload = new Uint8Array(256).map((_, i) => (i * 31) & 0xff);

type Writer = (i: number) => Promise<void>;
interface Node {
  readonly id: string;
  readonly stores: PostgresStores;
  readonly client: PoolClient;
  next: number;
  rawNext: number;
}

function variants(sql: Statements, pool: Pool): Record<string, (n: Node) => Writer> {
  const step = (n: Node, i: number): unknown[] => ['bench', `${n.id}raw`, i, 1, 0, payload, 1, '', i];
  return {
    'store persistStep': (n) => async () => {
      const index = n.next++;
      await n.stores.logStore.persistStep([{ index, term: 1, type: 'normal', data: payload }], {
        term: 1,
        vote: '',
        commit: index - 1,
      });
    },
    'raw CTE unnamed': (n) => async () => {
      await n.client.query(sql.insertEntriesAndHardState(1), step(n, n.rawNext++));
    },
    'raw CTE pool.query': (n) => async () => {
      await pool.query(sql.insertEntriesAndHardState(1), step(n, n.rawNext++));
    },
    'raw CTE named': (n) => async () => {
      await n.client.query({
        name: 'step1',
        text: sql.insertEntriesAndHardState(1),
        values: step(n, n.rawNext++),
      });
    },
    'raw INSERT unnamed': (n) => async () => {
      await n.client.query(sql.insertEntries(1), step(n, n.rawNext++).slice(0, 6));
    },
    'raw INSERT named': (n) => async () => {
      await n.client.query({
        name: 'ins1',
        text: sql.insertEntries(1),
        values: step(n, n.rawNext++).slice(0, 6),
      });
    },
    'SELECT 1': (n) => async () => {
      await n.client.query('SELECT 1');
    },
  };
}

async function timed(writers: Writer[], steps: number): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    // Together: every writer's step starts at once, the step ends when the last one does.
    const times = await Promise.all(
      writers.map(async (w) => {
        await w(i);
        return performance.now() - t;
      }),
    );
    lat.push(...times);
  }
  return lat;
}

async function main(): Promise<void> {
  const pool = new Pool({ connectionString: URL, max: 8 });
  const sql = new Statements(SCHEMA);
  const nodes: Node[] = [];
  try {
    for (const id of ['n1', 'n2', 'n3']) {
      const stores = await createPostgresStores({ url: URL, schema: SCHEMA, groupId: 'bench', nodeId: id });
      nodes.push({ id, stores, client: await pool.connect(), next: 1, rawNext: 1 });
    }
    const all = variants(sql, pool);
    const results = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r++) {
      const list = Object.entries(all);
      // Each round starts from another variant, so that none always runs first.
      for (const [name, make] of [...list.slice(r % list.length), ...list.slice(0, r % list.length)]) {
        for (const width of [1, 3]) {
          const key = `${name} x${width}`;
          const lat = await timed(nodes.slice(0, width).map(make), Math.ceil(STEPS / ROUNDS));
          results.set(key, [...(results.get(key) ?? []), ...lat]);
        }
      }
    }
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
    console.log(
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${STEPS} steps per variant`,
    );
    for (const [key, lat] of results) {
      console.log(`  ${key.padEnd(24)} p50 ${q(lat, 0.5).toFixed(3)} ms  p90 ${q(lat, 0.9).toFixed(3)} ms`);
    }
  } finally {
    for (const n of nodes) {
      n.client.release();
      await n.stores.close();
    }
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
