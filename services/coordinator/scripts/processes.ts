/**
 * Processes of a coordinator cluster on one machine, for the process tests,
 * the handoff example and the benchmark: three `raftline serve` replicas of
 * the service (`machine: coordinator`) over NATS, on PostgreSQL or in-memory
 * stores, and agent processes (agent-process.ts) that print JSON lines. Each
 * can be killed with -9, paused (SIGSTOP) and resumed (SIGCONT); a replica
 * can be started again on its rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { AdminClient, type NatsConnection } from '@raftline/transport-nats';

const REPO = join(__dirname, '../../..');
const REGISTER = join(REPO, 'scripts/ts-register.js');
const RAFTLINE = join(REPO, 'packages/cli/bin/raftline.js');
/** The agent program the helpers spawn. */
export const AGENT_SCRIPT = join(__dirname, 'agent-process.ts');

/** One child process: its JSON lines (or log lines), and signals. */
export class Child {
  /** Every JSON line it printed, in order. */
  readonly lines: Record<string, unknown>[] = [];
  private err = '';
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(line: Record<string, unknown>) => void>();
  readonly exited: Promise<number | string>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    let buffered = '';
    proc.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith('{')) continue;
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(part) as Record<string, unknown>;
        } catch {
          continue;
        }
        this.lines.push(line);
        this.listeners.forEach((l) => l(line));
      }
      this.waiters.forEach((w) => w());
    });
    proc.stderr!.on('data', (b: Buffer) => {
      if (this.err.length < 20_000) this.err += b.toString();
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        resolve(signal ?? code ?? 0);
        this.waiters.forEach((w) => w());
      }),
    );
  }

  /** Calls listener with every JSON line printed from now on. */
  onLine(listener: (line: Record<string, unknown>) => void): void {
    this.listeners.add(listener);
  }

  get gone(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  get stderr(): string {
    return this.err;
  }

  /**
   * Waits for the first line at or after position `from` that matches.
   * @returns the line
   * @throws Error naming the process and what it waited for, after timeoutMs or when it exits
   */
  waitFor(
    what: string,
    match: (line: Record<string, unknown>) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    let from = options.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (; from < this.lines.length; from++) {
          if (match(this.lines[from]!)) return done(() => resolve(this.lines[from]!));
        }
        if (this.gone) done(() => reject(new Error(`${this.name} exited waiting for ${what}: ${this.err}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms: ${this.err}`))),
        timeoutMs,
      );
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the next line (after those printed so far) whose event is `event`. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.waitFor(`'${event}'`, (l) => l.event === event, { from: this.lines.length, timeoutMs });
  }

  /** The lines whose event is `event`. */
  events(event: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === event);
  }

  /** SIGKILL, and waits until it is gone. */
  async kill9(): Promise<void> {
    if (this.gone) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (SIGCONT first, in case it is paused), and waits; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.gone) return;
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const force = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(force);
  }

  /** SIGSTOP: the process stops where it is, timers and all. */
  pause(): void {
    this.proc.kill('SIGSTOP');
  }

  /** SIGCONT. */
  resume(): void {
    this.proc.kill('SIGCONT');
  }
}

/** Where the replicas keep their log: PostgreSQL (a schema of a database) or memory. */
export type ReplicaStore = { readonly postgres: string; readonly schema: string } | 'memory';

/** What startReplicas runs. */
export interface ClusterOptions {
  readonly cluster: string;
  readonly group: string;
  /** A directory for the config files. */
  readonly dir: string;
  readonly natsUrl: string;
  readonly store: ReplicaStore;
  readonly ids?: readonly string[];
  readonly electionTimeoutMs?: number;
  readonly heartbeatMs?: number;
  /** Coordinator options (every replica gets the same). */
  readonly options?: Record<string, unknown>;
  /** Mirror the committed stream into JetStream, as observe() reads it (default false). */
  readonly mirror?: boolean;
}

/** Three (or `ids`) replica processes of one group. */
export class Replicas {
  readonly byId = new Map<string, Child>();
  private readonly admin: AdminClient;

  private constructor(
    private readonly o: ClusterOptions,
    nc: NatsConnection,
  ) {
    this.admin = new AdminClient({ connection: nc, cluster: o.cluster, group: o.group, timeoutMs: 5000 });
  }

  /**
   * Writes one config file per replica and starts them all.
   * @returns once every replica printed that it is ready
   * @throws Error when one exits first or is not ready within 60 s
   */
  static async start(o: ClusterOptions, nc: NatsConnection): Promise<Replicas> {
    const r = new Replicas(o, nc);
    mkdirSync(o.dir, { recursive: true });
    const ids = o.ids ?? ['n1', 'n2', 'n3'];
    for (const id of ids) writeFileSync(r.configOf(id), r.config(id, ids));
    await Promise.all(ids.map((id) => r.restart(id)));
    return r;
  }

  private configOf(id: string): string {
    return join(this.o.dir, `${this.o.group}-${id}.json`);
  }

  private config(id: string, ids: readonly string[]): string {
    const store =
      this.o.store === 'memory' ? 'memory' : { postgres: this.o.store.postgres, schema: this.o.store.schema };
    return JSON.stringify({
      node: id,
      cluster: this.o.cluster,
      nats: { servers: [this.o.natsUrl] },
      store,
      metrics: { enabled: false },
      log: { level: 'info' },
      raft: { electionTimeoutMs: this.o.electionTimeoutMs ?? 1000, heartbeatMs: this.o.heartbeatMs ?? 150 },
      groups: {
        [this.o.group]: {
          machine: 'coordinator',
          voters: ids,
          mirror: this.o.mirror ?? false,
          options: this.o.options,
        },
      },
    });
  }

  /**
   * Starts replica `id` (again, after kill9: on its rows, with PostgreSQL).
   * @throws Error when it exits before it is ready, or is not ready within 60 s
   */
  async restart(id: string): Promise<Child> {
    const proc = spawn(process.execPath, [RAFTLINE, 'serve', '-c', this.configOf(id)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new Child(`replica ${id}`, proc);
    this.byId.set(id, child);
    await child.waitFor('"raftline serve ready"', (l) => l.msg === 'raftline serve ready', {
      timeoutMs: 60_000,
    });
    return child;
  }

  /**
   * The replica that leads now, as the replicas report it.
   * @throws Error when none is known within timeoutMs
   */
  async leader(timeoutMs = 15_000): Promise<{ id: string; child: Child; term: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.admin.status().catch(() => null);
      const id = status?.leaderId;
      const child = id ? this.byId.get(id) : undefined;
      if (status && id && child && !child.gone) return { id, child, term: status.term };
      if (Date.now() > deadline) throw new Error(`no leader of ${this.o.group} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops every replica (SIGTERM, SIGKILL after 10 s). */
  async stop(): Promise<void> {
    await Promise.all([...this.byId.values()].map((c) => c.stop()));
  }

  /** Kills every replica at once (SIGKILL). */
  async kill9(): Promise<void> {
    await Promise.all([...this.byId.values()].map((c) => c.kill9()));
  }
}

/** What an agent process is told (see agent-process.ts). */
export interface AgentSettings {
  readonly natsUrl: string;
  readonly cluster: string;
  readonly group: string;
  readonly task: string;
  readonly leaseMs: number;
  readonly renewEveryMs?: number;
  readonly stepMs?: number;
  readonly steps?: number;
  /** Connect and wait (after 'loaded') until release() before campaigning. */
  readonly hold?: boolean;
}

/**
 * Starts an agent process for `candidate`.
 * @returns once it has registered and campaigned once (its 'ready' line),
 *   or with `hold`, once it is loaded and connected (then release() it)
 * @throws Error when it exits first or is not ready within 60 s
 */
export async function spawnAgent(candidate: string, s: AgentSettings): Promise<Child> {
  const proc = spawn(process.execPath, ['-r', REGISTER, AGENT_SCRIPT, candidate], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NATS_URL: s.natsUrl,
      RAFT_CLUSTER: s.cluster,
      COORD_GROUP: s.group,
      COORD_TASK: s.task,
      COORD_LEASE_MS: String(s.leaseMs),
      ...(s.renewEveryMs ? { COORD_RENEW_MS: String(s.renewEveryMs) } : {}),
      COORD_STEP_MS: String(s.stepMs ?? 300),
      COORD_STEPS: String(s.steps ?? 0),
      COORD_HOLD: s.hold ? '1' : '0',
    },
  });
  const child = new Child(`agent ${candidate}`, proc);
  const event = s.hold ? 'loaded' : 'ready';
  await child.waitFor(`'${event}'`, (l) => l.event === event, { timeoutMs: 60_000 });
  return child;
}

/**
 * Lets an agent spawned with `hold` campaign.
 * @returns its 'ready' line (an 'elected' line, if it was elected at once, precedes it)
 */
export async function release(agent: Child): Promise<Record<string, unknown>> {
  const from = agent.lines.length;
  agent.proc.kill('SIGUSR2');
  return agent.waitFor("'ready'", (l) => l.event === 'ready', { from, timeoutMs: 30_000 });
}

/**
 * Pauses an agent (SIGSTOP) between taking its token and writing with it:
 * right after a 'begin' line, checking that no 'write' followed before the
 * process stopped; otherwise it resumes it and tries at the next step.
 * @returns the 'begin' line of the step it was paused in
 * @throws Error after `tries` steps without catching one
 */
export async function pauseMidStep(agent: Child, tries = 8): Promise<Record<string, unknown>> {
  for (let i = 0; i < tries; i++) {
    const begin = await agent.next('begin', 15_000);
    agent.pause();
    await new Promise((r) => setTimeout(r, 150)); // what it printed before it stopped arrives
    const after = agent.lines.slice(agent.lines.indexOf(begin) + 1);
    if (!after.some((l) => l.event === 'write')) return begin;
    agent.resume();
  }
  throw new Error(`${agent.name}: not caught between 'begin' and 'write' in ${tries} steps`);
}

/**
 * Deletes every row of `group` from the tables of `schema` that have a
 * group_id column (what the replicas left in PostgreSQL).
 */
export async function deleteGroupRows(url: string, schema: string, group: string): Promise<void> {
  const pool = new Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  try {
    const tables = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'group_id'`,
      [schema],
    );
    for (const { table_name } of tables.rows) {
      await pool.query(`DELETE FROM "${schema}"."${table_name}" WHERE group_id = $1`, [group]);
    }
  } finally {
    await pool.end();
  }
}
