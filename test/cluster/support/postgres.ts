import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, Pool } from 'pg';
import { sleep } from './nats';

const run = promisify(execFile);

/** The shared PostgreSQL server the replicas keep their logs in (override with RAFTLINE_PG_URL). */
export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The schema the replicas' tables live in; each test run uses its own group id inside it. */
export const PG_SCHEMA = 'raftline_cluster';

/** The cluster pg_ctlcluster controls (override with RAFTLINE_PG_CLUSTER, e.g. "16 main"). */
const PG_CLUSTER = (process.env.RAFTLINE_PG_CLUSTER ?? '15 main').split(' ');

/** Whether the server accepts a connection and answers a query (within 1 s). */
export async function pgAccepts(): Promise<boolean> {
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 1000 });
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
 * Waits until the server accepts connections.
 * @throws Error when it does not within timeoutMs
 */
export async function waitForPg(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pgAccepts())) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (${PG_URL}) not accepting after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function pgCtl(action: 'start' | 'stop'): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', ...PG_CLUSTER, action], { timeout: 60_000 });
}

/** Stops the PostgreSQL server (fast shutdown: open sessions are terminated). Resolves once it is down. */
export async function stopPg(): Promise<void> {
  await pgCtl('stop');
}

/**
 * Starts the PostgreSQL server unless it accepts connections already, and
 * waits until it does. Safe to call from cleanup whatever state it is in.
 */
export async function ensurePgRunning(): Promise<void> {
  if (await pgAccepts()) return;
  await pgCtl('start').catch(() => undefined); // "already running" is fine: waitForPg decides
  await waitForPg();
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

/** A small pool for the test's own reads and cleanup; its idle clients may die in an outage harmlessly. */
export function adminPool(): Pool {
  const pool = new Pool({ connectionString: PG_URL, max: 2, application_name: 'raftline-cluster-test' });
  pool.on('error', () => undefined);
  return pool;
}
