/**
 * Real `raftline` processes for the CLI's tests: `raftline serve` replicas
 * started from config files, one-shot commands with their exit code and
 * output, and clean-up of what they leave on the machine's NATS and
 * PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '@raftline/core';
import { openStoreDatabase } from '@raftline/store-postgres';
import { committedStreamName, connectNats } from '@raftline/transport-nats';

/** The problems of the ConfigError fn throws (throws if it throws something else, or nothing). */
export function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('no ConfigError');
}

export const BIN = join(__dirname, '../../bin/raftline.js');
export const KV = join(__dirname, '../fixtures/kv.ts');
export const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A name no other run uses: lower case, a subject token and a SQL identifier. */
export function unique(prefix: string): string {
  return `${prefix}${process.pid}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** A directory of its own, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `raftline-cli-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a file and returns its path. */
export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Writes <dir>/<node>.yaml, a serve configuration of `node` in `cluster` on
 * the test NATS, followed by `lines` (store, metrics, raft, groups…).
 * @returns its path
 */
export function writeServeConfig(
  dir: string,
  node: string,
  cluster: string,
  lines: readonly string[],
): string {
  const head = [`node: ${node}`, `cluster: ${cluster}`, `nats: { servers: [${NATS_URL}] }`];
  return writeFile(dir, `${node}.yaml`, [...head, ...lines, ''].join('\n'));
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true once something accepts a connection on 127.0.0.1:port, undefined if nothing does (for eventually()). */
export function listening(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/** A `raftline serve` process. */
export interface ServeProcess {
  readonly proc: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line whose msg is `msg` (rejects when the process exits first or after timeoutMs). */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The exit code (or signal) once it is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  kill9(): Promise<void>;
  /** SIGTERM, then the exit code. */
  terminate(): Promise<number | NodeJS.Signals | null>;
}

/** Starts `raftline serve` with the arguments given (e.g. ['-c', file]). */
export function startServe(args: readonly string[], env: Record<string, string> = {}): ServeProcess {
  const proc = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve(l: Record<string, unknown>): void }[] = [];
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => {
    if (err.length < 20_000) err += b.toString();
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    logs.push(entry);
    for (const w of [...waiters]) {
      if (entry.msg === w.msg) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  return {
    proc,
    logs,
    stderr: () => err,
    exited,
    waitForLog: (msg, timeoutMs = 30_000) => {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "${msg}" log within ${timeoutMs} ms: ${err}`)),
          timeoutMs,
        );
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`raftline serve exited (${String(code)}) before "${msg}": ${err}`));
        });
      });
    },
    kill9: async () => {
      if (gone()) return;
      proc.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (!gone()) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** What a one-shot command printed, and its exit code. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `raftline <args>` to its end (killed after timeoutMs). */
export function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Retries fn until it returns a value that is not undefined, for at most timeoutMs. */
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
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Deletes the committed streams of these groups from the machine's JetStream. */
export async function deleteStreams(cluster: string, groups: readonly string[]): Promise<void> {
  const nc = await connectNats({ servers: NATS_URL });
  try {
    for (const g of groups) {
      await nc
        .request(`$JS.API.STREAM.DELETE.${committedStreamName(cluster, g)}`, undefined, { timeout: 2000 })
        .catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}

/** Drops a schema from the machine's PostgreSQL. */
export async function dropSchema(schema: string): Promise<void> {
  const db = await openStoreDatabase({ url: PG_URL, poolSize: 1 });
  try {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await db.close();
  }
}

/** Parses Prometheus text exposition: each sample's name, labels and value. @throws Error on a line it cannot read */
export function parseMetrics(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    const value = Number(m[4] === '+Inf' ? Infinity : m[4]);
    if (Number.isNaN(value)) throw new Error(`not a number: ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}
