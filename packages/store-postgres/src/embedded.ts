import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Mutex, singleSessionExecutor, type SqlExecutor, type SqlResult, type SqlSession } from './executor';

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
const ready = PGlite.create(workerData.dataDir);
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
 * worker thread and returns an executor over it. close() closes the database
 * and ends the worker.
 *
 * Throws the PGlite error (e.g. a data directory of another version) when the
 * database cannot be opened.
 */
export async function embeddedExecutor(dataDir?: string): Promise<SqlExecutor> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { pglitePath: require.resolve('@electric-sql/pglite'), dataDir },
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
