// Child processes of the process tests: replicas (scripts/replica.ts) and
// workers (worker-process.ts), each printing JSON lines, killed with -9 or
// stopped with SIGTERM; and the PostgreSQL rows and JetStream stream a run leaves.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'pg';
import { committedStreamName, type NatsConnection } from '@raftline/transport-nats';
import { jetstreamManager } from '@nats-io/jetstream';

const REGISTER = join(__dirname, '../../../../scripts/ts-register.js');
export const REPLICA_SCRIPT = join(__dirname, '../../scripts/replica.ts');
export const WORKER_SCRIPT = join(__dirname, 'worker-process.ts');

export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The schema the process tests' replicas keep their rows in; each run deletes its own group's rows. */
export const PG_SCHEMA = 'raftline_task_queue';

/** One child process and the JSON lines it printed. */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** SIGKILL, and waits until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, and waits until it is gone (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * Spawns script with env added and waits for its {"event":"ready"} line.
 * @throws Error when it exits first or stays silent for 30 s
 */
export async function spawnChild(name: string, script: string, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['-r', REGISTER, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let err = '';
  let buffered = '';
  proc.stderr?.on('data', (b: Buffer) => {
    if (err.length < 10_000) err += b.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready in 30 s: ${err}`)), 30_000);
    proc.stdout?.on('data', (b: Buffer) => {
      buffered += b.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) {
        if (!part.trim()) continue;
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        if (line.event === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}): ${err}`));
    });
  });
  await ready;
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (gone()) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    const force = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };
  return { name, proc, lines, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

/** Deletes the rows of group from PG_SCHEMA (if it exists). */
export async function deleteGroupRows(group: string): Promise<void> {
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  pool.on('error', () => undefined);
  try {
    const exists = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [PG_SCHEMA]);
    if (exists.rowCount === 0) return;
    for (const table of [
      'snapshot_chunk',
      'snapshot',
      'log_entry',
      'log_bounds',
      'hard_state',
      'node_lock',
    ]) {
      const has = await pool.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = 'group_id'`,
        [PG_SCHEMA, table],
      );
      if (has.rowCount === 0) continue;
      await pool.query(`DELETE FROM "${PG_SCHEMA}".${table} WHERE group_id = $1`, [group]);
    }
  } finally {
    await pool.end();
  }
}

/** Deletes the group's committed stream, if the mirror made one. */
export async function deleteStream(nc: NatsConnection, cluster: string, group: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(committedStreamName(cluster, group)).catch(() => undefined);
}
