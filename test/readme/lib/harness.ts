// Runs one generated README: its servers' isolation (a fresh database, a
// unique NATS cluster id), its program blocks as child processes, its driver
// module in this process, and the clean-up afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Client } from 'pg';
import { REPO, type GeneratedReadme, type ProgramStep } from './generate';

/** What the driver and the preludes get as `readmeTest`. */
export interface ReadmeTest {
  /** Marks the start of blocks[i], so a failure names the README line. */
  block(i: number): void;
  /** Runs program step k: waits for a 'process' block's processes, starts a 'background' block's. */
  step(k: number): Promise<void>;
  /** Runs fn after the README's last block (and after the background processes stopped), last registered first. */
  onCleanup(fn: () => unknown): void;
  /** Polls cond every 200 ms until it holds. @throws Error naming what it waited for after timeoutMs */
  until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void>;
  /** Always false: guards the no-run blocks, which are type-checked only. */
  noRun(): boolean;
}

/** The environment a README's blocks see: servers and ids made unique for this run. */
export interface ReadmeEnv {
  readonly NATS_URL: string;
  /** A NATS cluster id no other run uses; the blocks that take one read it. */
  readonly RAFT_CLUSTER: string;
  /** A database created for this run (only when the README mentions DATABASE_URL). */
  readonly DATABASE_URL?: string;
}

const PG_ADMIN_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REGISTER = path.join(REPO, 'scripts', 'ts-register.js');
const PROCESS_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;

/** A block of the README failed; the message names its line and holds what its processes printed. */
export class ReadmeBlockError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadmeBlockError';
  }
}

interface Running {
  readonly label: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
}

function start(step: ProgramStep, argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Running {
  const label = `${step.block.readme}:${step.block.line}${argv.length ? ` (${argv.join(' ')})` : ''}`;
  const child = spawn(process.execPath, ['-r', REGISTER, step.file.path, ...argv], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const running: Running = {
    label,
    child,
    output,
    done: false,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        running.done = true;
        resolve({ code, signal });
      }),
    ),
  };
  return running;
}

function printed(r: Running): string {
  const text = r.output.join('').trimEnd();
  return text ? `\n--- ${r.label} printed:\n${text}` : '';
}

async function exitWithin(
  r: Running,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  const result = await Promise.race([r.exited, late]);
  clearTimeout(timer);
  if (result) return result;
  r.child.kill('SIGKILL');
  await r.exited;
  throw new ReadmeBlockError(`${r.label}: did not exit within ${ms} ms (killed)${printed(r)}`);
}

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `readme_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Deletes the JetStream streams of a cluster id (`raftline_<cluster>_*`) the README's blocks created. */
async function deleteStreams(natsUrl: string, cluster: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`raftline_${cluster}_`)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Runs a generated README: `driver` is its loaded module. The current
 * directory and process.env (with ReadmeEnv) are this README's while it runs,
 * and restored afterwards.
 * @returns what the program blocks' processes printed, one entry per process
 * @throws ReadmeBlockError naming the README line of the block that failed
 */
export async function runReadme(
  g: GeneratedReadme,
  driver: { run(t: ReadmeTest): Promise<void> },
  text: string,
): Promise<string[]> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-'));
  const cleanups: (() => unknown)[] = [];
  const background: Running[] = [];
  const processes: Running[] = [];
  const db = text.includes('DATABASE_URL') ? await createDatabase() : undefined;
  const env: ReadmeEnv = {
    NATS_URL: process.env.NATS_URL ?? '127.0.0.1:4222',
    RAFT_CLUSTER: `readme${process.pid}x${Date.now().toString(36)}`,
    ...(db ? { DATABASE_URL: db.url } : {}),
  };
  const saved = { ...process.env };
  const savedCwd = process.cwd();
  Object.assign(process.env, env);
  process.chdir(cwd);
  let current = -1;
  const where = (): string => {
    const b = g.blocks[current];
    return b ? `${b.readme}:${b.line}` : g.readme;
  };
  const t: ReadmeTest = {
    block: (i) => void (current = i),
    step: async (k) => {
      const step = g.steps[k]!;
      const started = step.block.argv.map((argv) => start(step, argv, { ...process.env }, cwd));
      processes.push(...started);
      if (step.block.run === 'background') {
        background.push(...started);
        return;
      }
      for (const r of started) {
        const { code, signal } = await exitWithin(r, PROCESS_TIMEOUT_MS);
        if (code !== 0) {
          throw new ReadmeBlockError(`${r.label}: exited with ${signal ?? `code ${code}`}${printed(r)}`);
        }
      }
      for (const r of background) {
        if (r.done) throw new ReadmeBlockError(`${r.label}: a background process ended early${printed(r)}`);
      }
    },
    onCleanup: (fn) => void cleanups.push(fn),
    until: async (cond, what, timeoutMs) => {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        if (await cond()) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    },
    noRun: () => false,
  };
  const failures: unknown[] = [];
  try {
    await driver.run(t);
  } catch (err) {
    const detail = background.map(printed).join('');
    failures.push(
      new ReadmeBlockError(`${where()}: ${String(err instanceof Error ? err.stack : err)}${detail}`),
    );
  }
  try {
    for (const r of background) {
      if (r.done) {
        failures.push(new ReadmeBlockError(`${r.label}: a background process ended early${printed(r)}`));
        continue;
      }
      r.child.kill('SIGTERM');
    }
    for (const r of background) {
      try {
        const { code, signal } = await exitWithin(r, STOP_TIMEOUT_MS);
        if (code !== 0) {
          const how = signal
            ? `was ended by ${signal} (it did not stop on SIGTERM)`
            : `exited with code ${code}`;
          failures.push(new ReadmeBlockError(`${r.label}: ${how}${printed(r)}`));
        }
      } catch (err) {
        failures.push(err);
      }
    }
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
      }
    }
  } finally {
    process.chdir(savedCwd);
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    if (text.includes('RAFT_CLUSTER')) {
      await deleteStreams(env.NATS_URL, env.RAFT_CLUSTER).catch((err) => failures.push(err));
    }
    await db?.drop().catch((err) => failures.push(err));
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    throw new ReadmeBlockError(
      failures.map((f) => (f instanceof Error ? f.message : String(f))).join('\n\n'),
    );
  }
  return processes.map(printed).filter(Boolean);
}
