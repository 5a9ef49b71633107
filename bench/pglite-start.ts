/**
 * How long the embedded (PGlite) stores take to open and how much memory they
 * hold: three replicas, each its own process with its own data directory,
 * started at the same time, as a first-time user of `embedded: { dataDir }`
 * would start a local cluster. Each replica opens its stores and does a first
 * append and hard-state save (both durable), then reports:
 *   - openMs: embeddedExecutor(dataDir) (worker thread + PGlite) plus
 *     createPostgresStores({ executor }) (migrations, sweep, log bounds) — the
 *     two halves of createPostgresStores({ embedded: { dataDir } }), timed apart
 *     as pgliteMs and storesMs;
 *   - firstWriteMs: the first append of one entry plus a hard-state save;
 *   - openCpuMs: CPU time (user + system, PGlite's worker thread included) of
 *     the open, which the machine's load does not inflate as it does wall time;
 *   - rssMB after the first write (process.memoryUsage().rss, worker included)
 *     and peakMB (VmHWM from /proc/self/status; null off Linux);
 *   - readyMs: from spawn to the report, seen by this process (includes Node's
 *     start and loading the modules).
 * The replicas run plain JavaScript, as a user's built application would, not
 * ts-register (whose swc adds about 30 MB and a compile to every start): this
 * process compiles core, store-postgres and this file once, into the temp dir.
 * Scenarios, in order: `cold` (fresh data dirs, empty cache: XDG_CACHE_HOME
 * points at an empty temp dir), `fresh` (new fresh data dirs, same cache),
 * `reopen` (the `fresh` dirs again), `reopen-liftoff-only` (again, with
 * `node --liftoff-only`: V8 compiles PGlite's WASM with its baseline compiler
 * only, which keeps about 40 MB less). Then one process opening three replicas:
 * `single-3-embedded` (three embeddedExecutors, as three `embedded` nodes of
 * one process would) and `single-shared` (one embeddedExecutor shared by three
 * nodes, the `executor` option), both on fresh dirs with the warm cache.
 *
 * Run: npm run bench:pglite (= node -r ./scripts/ts-register.js bench/pglite-start.ts).
 * Writes bench/results/pglite-start.json. Nothing is shared with other runs: all
 * data dirs and the cache live in one temp dir, removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Options } from '@swc/core';

const ROOT = path.resolve(__dirname, '..');
const IDS = ['r1', 'r2', 'r3'];
/** A replica that has not reported in this long has failed. */
const CHILD_TIMEOUT_MS = 180_000;

interface ReplicaReport {
  nodeId: string;
  importMs: number;
  pgliteMs: number;
  storesMs: number;
  openMs: number;
  firstWriteMs: number;
  /** CPU (user + system, all threads) of the open; null when replicas share a process. */
  openCpuMs: number | null;
  /** The embeddedExecutor part of openCpuMs (the rest is createPostgresStores). */
  pgliteCpuMs: number | null;
  /** CPU of the whole process until the report: Node's start, compiling, importing, opening, writing. */
  processCpuMs: number;
  /** RSS after importing the stores, before opening: Node, TypeORM, pg, the raftline modules. */
  baseRssMB: number;
  /** RSS once embeddedExecutor has opened (before createPostgresStores). */
  pgliteRssMB: number;
  rssMB: number;
  peakMB: number | null;
}

interface ScenarioResult {
  scenario: string;
  /** Load average (1, 5, 15 min) when the scenario started: the machine is shared. */
  loadavg: number[];
  /** From the first spawn (or the first open, in one process) until the last replica was ready. */
  allReadyMs: number;
  replicas: Array<ReplicaReport & { readyMs?: number }>;
  /** For the one-process scenarios: the process's RSS and peak after all three opened. */
  processRssMB?: number;
  processPeakMB?: number | null;
  processCpuMs?: number;
}

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** VmHWM (peak resident set) of this process in MB, or null where /proc is missing. */
function peakRssMB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

const round = (n: number): number => Math.round(n);
const cpuMs = (u: NodeJS.CpuUsage): number => Math.round((u.user + u.system) / 1000);
const loadavg = (): number[] => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** One replica, in this process: open, first write, report; stores and executor stay open. */
async function openReplica(
  dataDir: string,
  nodeId: string,
  alone: boolean,
  shared?: import('@raftline/store-postgres').SqlExecutor,
): Promise<{ report: ReplicaReport; close(): Promise<void> }> {
  const t0 = performance.now();
  const { createPostgresStores, embeddedExecutor } = await import('@raftline/store-postgres');
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const baseRssMB = mb(process.memoryUsage().rss);
  const db = shared ?? (await embeddedExecutor(dataDir));
  const t2 = performance.now();
  const pgliteCpu = process.cpuUsage(cpu1);
  const pgliteRssMB = mb(process.memoryUsage().rss);
  const stores = await createPostgresStores({ executor: db, groupId: 'bench', nodeId });
  const t3 = performance.now();
  const openCpu = process.cpuUsage(cpu1);
  const next = (await stores.logStore.lastIndex()) + 1;
  await stores.logStore.append([{ index: next, term: 1, type: 'normal', data: new Uint8Array(128) }]);
  await stores.stableStore.save({ term: 1, vote: nodeId, commit: 0 });
  const t4 = performance.now();
  const report: ReplicaReport = {
    nodeId,
    importMs: round(t1 - t0),
    pgliteMs: round(t2 - t1),
    storesMs: round(t3 - t2),
    openMs: round(t3 - t1),
    firstWriteMs: round(t4 - t3),
    openCpuMs: alone ? cpuMs(openCpu) : null,
    pgliteCpuMs: alone ? cpuMs(pgliteCpu) : null,
    processCpuMs: cpuMs(process.cpuUsage()),
    baseRssMB,
    pgliteRssMB,
    rssMB: mb(process.memoryUsage().rss),
    peakMB: peakRssMB(),
  };
  return {
    report,
    close: async () => {
      await stores.close();
      if (!shared) await db.close();
    },
  };
}

/** Child mode: one replica, one JSON line on stdout. */
async function child(dataDir: string, nodeId: string): Promise<void> {
  const replica = await openReplica(dataDir, nodeId, true);
  process.stdout.write(JSON.stringify(replica.report) + '\n');
  await replica.close();
}

/** Spawns one process per replica at once and collects their reports. */
async function multiProcess(
  scenario: string,
  dirs: string[],
  js: CompiledBench,
  nodeFlags: string[] = [],
): Promise<ScenarioResult> {
  const load = loadavg();
  const start = performance.now();
  const replicas = await Promise.all(
    IDS.map(
      (id, i) =>
        new Promise<ReplicaReport & { readyMs: number }>((resolve, reject) => {
          const proc = spawn(process.execPath, [...nodeFlags, js.script, '--child', dirs[i] ?? '', id], {
            env: js.env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          const timer = setTimeout(() => {
            proc.kill('SIGKILL');
            reject(new Error(`replica ${id} did not report in ${CHILD_TIMEOUT_MS} ms: ${err}`));
          }, CHILD_TIMEOUT_MS);
          proc.stderr.on('data', (b: Buffer) => {
            if (err.length < 5000) err += b.toString();
          });
          proc.stdout.on('data', (b: Buffer) => {
            out += b.toString();
            const line = out.split('\n').find((l) => l.startsWith('{'));
            if (!line) return;
            clearTimeout(timer);
            resolve({ ...(JSON.parse(line) as ReplicaReport), readyMs: round(performance.now() - start) });
          });
          proc.once('exit', (code) => {
            clearTimeout(timer);
            if (code !== 0) reject(new Error(`replica ${id} exited (${code}): ${err}`));
          });
        }),
    ),
  );
  const allReadyMs = Math.max(...replicas.map((r) => r.readyMs));
  return { scenario, loadavg: load, allReadyMs, replicas };
}

/**
 * One process, three replicas on fresh dirs (run in a child of its own, so
 * that the RSS is of these three alone): each with its own executor, or one shared.
 */
async function singleProcess(dirs: string[], sharedExecutor: boolean): Promise<void> {
  const { embeddedExecutor } = await import('@raftline/store-postgres');
  const start = performance.now();
  const shared = sharedExecutor ? await embeddedExecutor(dirs[0]) : undefined;
  const opened = await Promise.all(IDS.map((id, i) => openReplica(dirs[i] ?? '', id, false, shared)));
  const result = {
    allReadyMs: round(performance.now() - start),
    replicas: opened.map((o) => o.report),
    processRssMB: mb(process.memoryUsage().rss),
    processPeakMB: peakRssMB(),
    processCpuMs: cpuMs(process.cpuUsage()),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  await Promise.all(opened.map((o) => o.close()));
  await shared?.close();
}

/** Runs singleProcess in a fresh child process and returns its result. */
function singleInChild(
  scenario: string,
  dirs: string[],
  js: CompiledBench,
  shared: boolean,
): Promise<ScenarioResult> {
  const load = loadavg();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [js.script, '--single', shared ? 'shared' : 'own', ...dirs], {
      env: js.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${scenario} did not report in ${CHILD_TIMEOUT_MS} ms: ${err}`));
    }, CHILD_TIMEOUT_MS);
    proc.stderr.on('data', (b: Buffer) => {
      if (err.length < 5000) err += b.toString();
    });
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`${scenario} exited (${code}): ${err}`));
      resolve({
        scenario,
        loadavg: load,
        ...(JSON.parse(line) as Omit<ScenarioResult, 'scenario' | 'loadavg'>),
      });
    });
  });
}

interface CompiledBench {
  /** This file, compiled. */
  readonly script: string;
  /** The children's environment: NODE_PATH to the repo's packages, XDG_CACHE_HOME to the bench's cache. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Compiles core, store-postgres and this file with the repo's swc options (no
 * source maps) into root: each package's src/ becomes
 * root/node_modules/@raftline/<package>, so that the compiled requires resolve
 * as they would in an installed application; third-party packages resolve
 * through NODE_PATH from the repo's node_modules.
 */
function compileForChildren(root: string, cacheDir: string): CompiledBench {
  // Loaded here, not at the top: the children run this file too and must not carry swc.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transformSync } = require('@swc/core') as typeof import('@swc/core');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const options = { ...(require('../scripts/swc-options.js') as Options), sourceMaps: false };
  const compile = (src: string, out: string): void => {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, transformSync(readFileSync(src, 'utf8'), { ...options, filename: src }).code);
  };
  const packages = ['core', 'store-postgres'];
  for (const pkg of packages) {
    const src = path.join(ROOT, 'packages', pkg, 'src');
    for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      compile(
        path.join(src, file),
        path.join(root, 'node_modules/@raftline', pkg, file.replace(/\.ts$/, '.js')),
      );
    }
  }
  const script = path.join(root, 'pglite-start.js');
  compile(__filename, script);
  const nodePath = [
    path.join(ROOT, 'node_modules'),
    ...packages.map((p) => path.join(ROOT, 'packages', p, 'node_modules')),
  ];
  return {
    script,
    env: { ...process.env, NODE_PATH: nodePath.join(path.delimiter), XDG_CACHE_HOME: cacheDir },
  };
}

function printTable(results: readonly ScenarioResult[]): void {
  const head = [
    'scenario',
    'node',
    'open ms',
    'pglite ms',
    'stores ms',
    '1st write ms',
    'ready ms',
    'open CPU ms',
    'pglite CPU ms',
    'process CPU ms',
    'base RSS MB',
    'pglite RSS MB',
    'RSS MB',
    'peak MB',
  ];
  const body: string[][] = [];
  for (const s of results) {
    for (const r of s.replicas) {
      body.push([
        s.scenario,
        r.nodeId,
        String(r.openMs),
        String(r.pgliteMs),
        String(r.storesMs),
        String(r.firstWriteMs),
        String(r.readyMs ?? ''),
        String(r.openCpuMs ?? ''),
        String(r.pgliteCpuMs ?? ''),
        String(r.processCpuMs),
        String(r.baseRssMB),
        String(r.pgliteRssMB),
        String(r.rssMB),
        String(r.peakMB ?? '?'),
      ]);
    }
    const proc =
      s.processRssMB !== undefined
        ? `, process RSS ${s.processRssMB} MB, peak ${s.processPeakMB} MB, CPU ${s.processCpuMs} ms`
        : '';
    const all = head.map(() => '');
    all[0] = s.scenario;
    all[1] = 'all';
    all[head.indexOf('ready ms')] = String(s.allReadyMs);
    all[head.indexOf('process CPU ms')] = String(s.processCpuMs ?? '');
    body.push(all);
    if (proc) console.log(`${s.scenario}: all ready in ${s.allReadyMs} ms${proc}`);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  console.log(['', line(head), ...body.map(line)].join('\n'));
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'raftline-pglite-bench-'));
  const js = compileForChildren(root, path.join(root, 'cache'));
  const dirs = (name: string) => IDS.map((id) => path.join(root, name, id));
  const results: ScenarioResult[] = [];
  const run = async (p: Promise<ScenarioResult>) => {
    const r = await p;
    results.push(r);
    console.log(`${r.scenario}: all three ready in ${r.allReadyMs} ms (load ${r.loadavg.join(' ')})`);
  };
  try {
    await run(multiProcess('cold', dirs('cold'), js));
    await run(multiProcess('fresh', dirs('fresh'), js));
    await run(multiProcess('reopen', dirs('fresh'), js));
    await run(multiProcess('reopen-liftoff-only', dirs('fresh'), js, ['--liftoff-only']));
    await run(singleInChild('single-3-embedded', dirs('single'), js, false));
    await run(singleInChild('single-shared', dirs('shared'), js, true));
    printTable(results);
    const outDir = path.join(__dirname, 'results');
    mkdirSync(outDir, { recursive: true });
    const pglite = JSON.parse(
      readFileSync(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
    ) as { version: string };
    const result = {
      benchmark: 'pglite-start',
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '?',
        memMB: mb(os.totalmem()),
        node: process.version,
      },
      pglite: pglite.version,
      loadavgAtEnd: loadavg(),
      results,
    };
    writeFileSync(path.join(outDir, 'pglite-start.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const [mode, ...args] = process.argv.slice(2);
const entry =
  mode === '--child'
    ? child(args[0] ?? '', args[1] ?? 'r1')
    : mode === '--single'
      ? singleProcess(args.slice(1), args[0] === 'shared')
      : main();
entry.catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
