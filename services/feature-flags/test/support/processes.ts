// What the process tests run: a nats-server of their own (JetStream, its own
// store directory, on a spare loopback port, stopped and started again on the
// same port), `raftline serve` replica processes of the feature-flags service
// on the machine's PostgreSQL, and the clean-up of the rows a run leaves.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'pg';

// The CLI's bin, beside its package.json (the package exports its API, not its bin script).
const BIN = join(dirname(require.resolve('@raftline/cli/package.json')), 'bin', 'raftline.js');
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The schema the process tests' replicas keep their rows in; each run deletes its own group's rows. */
export const PG_SCHEMA = 'raftline_feature_flags';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls fn every 100 ms until it returns something other than undefined.
 * @throws Error naming what was awaited (and fn's last error) after timeoutMs
 */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A nats-server of the test's own. */
export interface OwnNats {
  readonly url: string;
  /** Stops it (SIGTERM, SIGKILL after 2 s); start() brings it back on the same port and store. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

/** @throws Error when the server does not accept connections within 10 s */
export async function startOwnNats(): Promise<OwnNats> {
  const dir = mkdtempSync(join(tmpdir(), 'raftline-ff-nats-'));
  const port = await sparePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let log = '';
    proc.stderr?.on('data', (b: Buffer) => void (log.length < 10_000 && (log += b.toString())));
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited (${proc.exitCode}): ${log}`);
      if (await canConnect(port)) return;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server on port ${port} did not start: ${log}`);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const force = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(force);
  };
  await start();
  return {
    url: `127.0.0.1:${port}`,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One `raftline serve` process. */
export interface ServeProcess {
  readonly node: string;
  readonly proc: ChildProcess;
  /** Resolves on its "raftline serve ready" log line; rejects when it exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<unknown>;
  stderr(): string;
  kill9(): Promise<void>;
}

/** Writes node's config into dir and starts `raftline serve -c` on it. */
export function startServe(
  dir: string,
  node: string,
  settings: { nats: string; cluster: string; group: string; voters: readonly string[] },
): ServeProcess {
  const config = join(dir, `${node}.yaml`);
  writeFileSync(
    config,
    [
      `node: ${node}`,
      `cluster: ${settings.cluster}`,
      `nats: { servers: [${settings.nats}] }`,
      `store: { postgres: '${PG_URL}', schema: ${PG_SCHEMA}, poolSize: 2 }`,
      'metrics: { enabled: false }',
      'raft: { electionTimeoutMs: 1000, heartbeatMs: 100 }',
      'groups:',
      `  ${settings.group}: { machine: feature-flags, voters: [${settings.voters.join(', ')}] }`,
      '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [BIN, 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => void (err.length < 20_000 && (err += b.toString())));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"raftline serve ready"')) resolve();
    });
    void exited.then((code) => reject(new Error(`raftline serve ${node} exited (${String(code)}): ${err}`)));
  });
  ready.catch(() => undefined);
  return {
    node,
    proc,
    ready,
    exited,
    stderr: () => err,
    kill9: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Deletes the rows of group from PG_SCHEMA (if it exists). */
export async function deleteGroupRows(group: string): Promise<void> {
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  pool.on('error', () => undefined);
  try {
    const tables = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'group_id'`,
      [PG_SCHEMA],
    );
    for (const { table_name } of tables.rows)
      await pool.query(`DELETE FROM "${PG_SCHEMA}"."${table_name}" WHERE group_id = $1`, [group]);
  } finally {
    await pool.end();
  }
}

/** A fresh temporary directory for config files; removeDir() deletes it. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'raftline-ff-serve-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
