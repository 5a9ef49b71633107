import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Mutex, singleSessionExecutor, type SqlExecutor, type SqlResult, type SqlSession } from './executor';
import {
  copyTemplate,
  defaultTemplateRoot,
  ensureTemplate,
  needsInit,
  templatePath,
} from './pglite-template';

/**
 * PostgreSQL settings the embedded database starts with, on top of PGlite's
 * own (PGlite.defaultStartParams: single-user mode, fsync off, no parallel
 * workers). Neither changes what a commit guarantees (WAL, fsync and
 * synchronous_commit stay as PGlite sets them); both only size memory that
 * PGlite, in WASM, allocates and touches in full at start:
 * - shared_buffers: PostgreSQL's default, 128MB, is 128 MB of resident memory
 *   per database from the first statement on. 8MB (1,024 pages) holds the hot
 *   tail of a Raft log; older pages come back from the OS page cache. Measured
 *   (README): 130 MB less RSS per replica, append and read rates unchanged.
 * - max_connections: a single-user backend has one session; the default 100
 *   sizes process and lock tables for 100 (4 MB of shared memory more).
 */
export const EMBEDDED_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  shared_buffers: '8MB',
  max_connections: '10',
});

const startParams = (): string[] =>
  Object.entries(EMBEDDED_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]);

/** How embeddedExecutor initializes a fresh data directory. */
export interface EmbeddedOptions {
  /**
   * Where the template that fresh data directories copy is kept (one per
   * PGlite version, built on first use). Default `$XDG_CACHE_HOME/raftline`,
   * else `~/.cache/raftline`. `false`: run initdb in every fresh data directory.
   */
  readonly templateRoot?: string | false;
}

/**
 * Embedded mode: PGlite (PostgreSQL compiled to WASM) in a worker thread of
 * this process. A worker, not the calling thread, because PGlite executes a
 * statement synchronously inside WASM: on the main thread a large read or
 * a checkpoint would stall the Raft node's timers and network. The worker also
 * loads PGlite with Node's own loader, which it needs for its internal
 * dynamic import()s (module sandboxes such as jest's refuse those).
 *
 * Protocol: the main thread posts {id, op: 'open' | 'query' | 'close'}; the
 * worker answers each with {id, rows, rowCount} or {id, error}. Statements
 * arrive in order and PGlite runs them in order; the executor's mutex keeps
 * transactions whole.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const ready = PGlite.create({
  dataDir: workerData.dataDir,
  startParams: [...PGlite.defaultStartParams, ...workerData.startParams],
});
ready.catch(() => undefined);
const failure = (e) => ({
  message: e && e.message ? e.message : String(e),
  name: e && e.name, code: e && e.code, detail: e && e.detail, severity: e && e.severity,
});
parentPort.on('message', async (m) => {
  try {
    const db = await ready;
    if (m.op === 'open') return parentPort.postMessage({ id: m.id, rows: [], rowCount: 0 });
    if (m.op === 'close') {
      await db.close();
      parentPort.postMessage({ id: m.id, rows: [], rowCount: 0 });
      return parentPort.close();
    }
    const r = await db.query(m.sql, m.params);
    parentPort.postMessage({ id: m.id, rows: r.rows, rowCount: r.affectedRows || 0 });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: failure(e) });
  }
});
`;

/**
 * Builds a template: PGlite runs initdb in argv[2], starts, and closes
 * cleanly. In a short-lived process of its own (`node -e`), because initdb
 * needs a second PGlite and the initdb program, about 750 MB at its peak, and
 * memory that a process has used stays in its RSS after it is freed.
 */
const TEMPLATE_SOURCE = `
const [pglitePath, dataDir, params] = process.argv.slice(1);
const { PGlite } = require(pglitePath);
PGlite.create({ dataDir, startParams: [...PGlite.defaultStartParams, ...JSON.parse(params)] })
  .then((db) => db.close())
  .catch((e) => {
    process.stderr.write(String(e && e.stack ? e.stack : e));
    process.exitCode = 1;
  });
`;

/** A template build that has not finished in this long is abandoned (and the data directory runs initdb itself). */
const TEMPLATE_BUILD_TIMEOUT_MS = 180_000;

const pglitePath = (): string => require.resolve('@electric-sql/pglite');

/** The installed PGlite's version (templates are kept per version). */
function pgliteVersion(): string {
  const manifest = path.join(path.dirname(pglitePath()), '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Runs initdb into dir in a child process; resolves once the data directory is closed. */
function buildTemplate(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', TEMPLATE_SOURCE, pglitePath(), dir, JSON.stringify(startParams())],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4000) stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TEMPLATE_BUILD_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(new Error(`initdb for the PGlite template failed (${signal ?? `exit ${code}`}): ${stderr}`));
    });
  });
}

/**
 * Fills a fresh dataDir with a copy of the template (building the template if
 * this is its first use). The template is a shortcut only: when it cannot be
 * had (no writable cache directory, a build that failed), dataDir is left as
 * it was and PGlite runs initdb in it, as without a template.
 */
async function initFromTemplate(dataDir: string, root: string | false | undefined): Promise<void> {
  if (!needsInit(dataDir)) return;
  const base = root === undefined ? defaultTemplateRoot() : root || undefined;
  if (!base) return;
  let template: string;
  try {
    template = await ensureTemplate(templatePath(base, pgliteVersion()), buildTemplate);
  } catch {
    return;
  }
  copyTemplate(template, dataDir);
}

interface Reply {
  id: number;
  rows?: unknown[];
  rowCount?: number;
  error?: { message: string; name?: string; code?: string; detail?: string; severity?: string };
}

interface Pending {
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

/** Rebuilds a PGlite error posted by the worker, keeping its SQLSTATE code and detail. */
function toError(posted: NonNullable<Reply['error']>): Error {
  const { message, ...fields } = posted;
  return Object.assign(new Error(message), fields);
}

/**
 * Opens PGlite on dataDir (created if missing; omitted = in memory only) in a
 * worker thread and returns an executor over it. A fresh dataDir starts as a
 * copy of the template (see EmbeddedOptions); an in-memory database runs
 * initdb. close() closes the database and ends the worker.
 *
 * Throws the PGlite error (e.g. a data directory of another version) when the
 * database cannot be opened, and the file system's error when the template
 * cannot be copied into dataDir.
 */
export async function embeddedExecutor(
  dataDir?: string,
  options: EmbeddedOptions = {},
): Promise<SqlExecutor> {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    await initFromTemplate(dataDir, options.templateRoot);
  }
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { pglitePath: pglitePath(), dataDir, startParams: startParams() },
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | undefined;
  const fail = (err: Error): void => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.error) p.reject(toError(reply.error));
    else p.resolve(reply);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the embedded PGlite worker exited (code ${code})`)));
  const call = (message: { op: string; sql?: string; params?: readonly unknown[] }): Promise<Reply> =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });

  const session: SqlSession = {
    query: async <R>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>> => {
      const reply = await call({ op: 'query', sql, params });
      return { rows: (reply.rows ?? []) as R[], rowCount: reply.rowCount ?? 0 };
    },
  };
  try {
    await call({ op: 'open' });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return singleSessionExecutor(session, new Mutex(), async () => {
    if (!dead) await call({ op: 'close' });
    await worker.terminate();
  });
}
