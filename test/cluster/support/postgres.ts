// PostgreSQL for the cluster specs. Specs that only use it share the
// machine's server (PG_URL); a spec that stops, restarts or kills it gets a
// ThrowawayPostgres of its own (store-postgres' test helper, re-exported).
import { Client, Pool } from 'pg';
import { sleep } from './nats';

export {
  ThrowawayPostgres,
  type ShutdownMode,
} from '../../../packages/store-postgres/test/support/throwaway-postgres';

/** The machine's PostgreSQL server, for specs that never stop it (override with RAFTLINE_PG_URL). */
export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The schema the replicas' tables live in; each test run uses its own group id inside it. */
export const PG_SCHEMA = 'raftline_cluster';

/** Whether the server at url accepts a connection and answers a query (within 1 s). */
async function pgAccepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Waits until the server at url accepts connections. Never starts it: the
 * machine's server is its owner's to run (`bash .ci/run` starts it in CI).
 * @throws Error when it does not within timeoutMs
 */
export async function waitForPg(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pgAccepts(url))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (${url}) not accepting after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** What PostgreSQL holds of one replica, read directly from its rows. */
export interface NodeRows {
  readonly entries: number;
  /** first_index after compaction (1 when never compacted). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly commitIndex: number;
  /** Committed snapshots (the store keeps only the newest) and the index of the newest. */
  readonly snapshots: number;
  readonly snapshotIndex: number;
}

/** Reads the rows of (group, node) in PG_SCHEMA. */
export async function nodeRows(pool: Pool, group: string, node: string): Promise<NodeRows> {
  const s = `"${PG_SCHEMA}"`;
  const res = await pool.query<Record<string, string | null>>(
    `SELECT (SELECT count(*) FROM ${s}.log_entry WHERE group_id = $1 AND node_id = $2) AS entries,
            (SELECT max(idx) FROM ${s}.log_entry WHERE group_id = $1 AND node_id = $2) AS last,
            (SELECT first_index FROM ${s}.log_bounds WHERE group_id = $1 AND node_id = $2) AS first,
            (SELECT commit_index FROM ${s}.hard_state WHERE group_id = $1 AND node_id = $2) AS commit,
            (SELECT count(*) FROM ${s}.snapshot WHERE group_id = $1 AND node_id = $2 AND committed) AS snaps,
            (SELECT max(snapshot_index) FROM ${s}.snapshot WHERE group_id = $1 AND node_id = $2 AND committed)
              AS snap_index`,
    [group, node],
  );
  const r = res.rows[0] ?? {};
  return {
    entries: Number(r.entries ?? 0),
    firstIndex: Number(r.first ?? 1),
    lastIndex: Number(r.last ?? 0),
    commitIndex: Number(r.commit ?? 0),
    snapshots: Number(r.snaps ?? 0),
    snapshotIndex: Number(r.snap_index ?? 0),
  };
}

/** Deletes every row of the given groups from PG_SCHEMA (chunks go with their snapshot rows). */
export async function deleteGroups(pool: Pool, groups: readonly string[]): Promise<void> {
  if (groups.length === 0) return;
  const s = `"${PG_SCHEMA}"`;
  const exists = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [PG_SCHEMA]);
  if (exists.rowCount === 0) return;
  for (const table of ['snapshot', 'log_entry', 'log_bounds', 'hard_state']) {
    await pool.query(`DELETE FROM ${s}.${table} WHERE group_id = ANY($1)`, [groups]);
  }
}

/** A small pool on url for the test's own reads and cleanup; its idle clients may die in an outage harmlessly. */
export function adminPool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 2, application_name: 'raftline-cluster-test' });
  pool.on('error', () => undefined);
  return pool;
}
