import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { unpack, type NodeStatus } from '@raftline/core';
import { groupSubjects, type NatsConnection } from '@raftline/transport-nats';
import { PG_SCHEMA } from './postgres';
import { sleep } from './nats';

const ROOT = join(__dirname, '../../..');
const REGISTER = join(ROOT, 'scripts/ts-register.js');
const REPLICA = join(ROOT, 'test/fixtures/replica.ts');
const READY_TIMEOUT_MS = 30_000;

/** How the replica processes of one cluster run. */
export interface ClusterOptions {
  readonly natsUrl: string;
  readonly cluster: string;
  /** The Raft group; also the group id of the replicas' rows in PostgreSQL. */
  readonly group: string;
  readonly ids: readonly string[];
  readonly electionMs: number;
  /** The PostgreSQL server the replicas keep their rows on (schema PG_SCHEMA). */
  readonly pgUrl: string;
  /** More environment for replica.ts (e.g. SNAPSHOT_ENTRIES). */
  readonly env?: Readonly<Record<string, string>>;
  /** Another replica script that reads the same environment (default test/fixtures/replica.ts). */
  readonly script?: string;
  /** A directory to append each replica's stdout and stderr to, as `<id>.log` (over all its runs). */
  readonly logDir?: string;
}

interface Running {
  readonly proc: ChildProcess;
  killed: boolean;
}

/**
 * The replica processes (test/fixtures/replica.ts, with
 * RAFT_STORE=postgres) of one cluster. A process that exits without being
 * killed by this object is recorded: a test asserts there were none.
 */
export class ReplicaCluster {
  private readonly running = new Map<string, Running>();
  private readonly crashes: string[] = [];
  private readonly logs = new Map<string, string>();

  constructor(readonly options: ClusterOptions) {}

  /** Exits nobody asked for, each with the end of the process's stderr. */
  unexpectedExits(): readonly string[] {
    return this.crashes;
  }

  /** The end of a replica's stderr, over all its runs. */
  log(id: string): string {
    return this.logs.get(id) ?? '';
  }

  /** Starts every replica that is not running and waits until each is ready. */
  async startAll(): Promise<void> {
    await Promise.all(this.options.ids.filter((id) => !this.running.has(id)).map((id) => this.start(id)));
  }

  /**
   * Starts replica id (on whatever rows it already has) and waits for its "ready" line.
   * @throws Error when it exits first or is not ready within 30 s
   */
  async start(id: string): Promise<void> {
    if (this.running.has(id)) throw new Error(`replica ${id} is already running`);
    const o = this.options;
    const proc = spawn(process.execPath, ['-r', REGISTER, o.script ?? REPLICA], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: o.natsUrl,
        RAFT_CLUSTER: o.cluster,
        RAFT_GROUP: o.group,
        RAFT_ID: id,
        RAFT_VOTERS: o.ids.join(','),
        ELECTION_MS: String(o.electionMs),
        RAFT_STORE: 'postgres',
        RAFT_PG_URL: o.pgUrl,
        RAFT_PG_SCHEMA: PG_SCHEMA,
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry: Running = { proc, killed: false };
    this.running.set(id, entry);
    if (o.logDir) {
      const file = createWriteStream(join(o.logDir, `${id}.log`), { flags: 'a' });
      file.on('error', () => undefined);
      proc.stdout?.on('data', (b: Buffer) => file.write(b));
      proc.stderr?.on('data', (b: Buffer) => file.write(b));
      proc.once('close', () => file.end());
    }
    proc.stderr?.on('data', (b: Buffer) => {
      const text = (this.logs.get(id) ?? '') + b.toString();
      this.logs.set(id, text.slice(-20_000));
    });
    proc.once('exit', (code, signal) => {
      if (this.running.get(id) === entry) this.running.delete(id);
      if (!entry.killed) this.crashes.push(`${id} exited (${signal ?? code}): ${this.log(id).slice(-2000)}`);
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        void this.kill9(id);
        reject(new Error(`replica ${id} not ready in ${READY_TIMEOUT_MS} ms: ${this.log(id)}`));
      }, READY_TIMEOUT_MS);
      const onData = (b: Buffer) => {
        out += b.toString();
        if (out.includes('"ready"')) {
          clearTimeout(timer);
          proc.stdout?.off('data', onData);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`replica ${id} exited (${signal ?? code}) before ready: ${this.log(id)}`));
      });
    });
  }

  /** Sends SIGKILL to replica id and resolves once the process is gone (at once if it is not running). */
  async kill9(id: string): Promise<void> {
    const entry = this.running.get(id);
    if (!entry) return;
    entry.killed = true;
    const { proc } = entry;
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await gone;
    }
    this.running.delete(id);
  }

  /** kill -9 of every running replica at once. */
  async kill9All(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.kill9(id)));
  }
}

/** What a replica process reports about its state machine (replica.ts's inspect subject). */
export interface Inspection {
  readonly id: string;
  readonly role: string;
  readonly leaderId: string;
  readonly term: number;
  /** Keys in the order this replica applied them (restored from a snapshot, then the log). */
  readonly applied: string[];
}

/** Asks one replica process for its state; undefined when it does not answer within 1 s. */
export async function inspect(
  nc: NatsConnection,
  cluster: string,
  id: string,
): Promise<Inspection | undefined> {
  try {
    const msg = await nc.request(`raftline-test.${cluster}.${id}.inspect`, undefined, { timeout: 1000 });
    return unpack(msg.data) as Inspection;
  } catch {
    return undefined;
  }
}

/** RaftNode.status() of one replica, from its NATS service endpoint; undefined when it does not answer. */
export async function nodeStatus(
  nc: NatsConnection,
  o: { cluster: string; group: string },
  id: string,
): Promise<NodeStatus | undefined> {
  try {
    const subject = groupSubjects(o.cluster, o.group).service(id, 'status');
    const msg = await nc.request(subject, undefined, { timeout: 500 });
    return JSON.parse(new TextDecoder().decode(msg.data)) as NodeStatus;
  } catch {
    return undefined;
  }
}

/**
 * Polls the replicas until all answer and exactly one of them leads, with the others following it.
 * @returns the leader's id
 * @throws Error when that does not happen within timeoutMs
 */
export async function stableLeader(
  nc: NatsConnection,
  cluster: string,
  ids: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: (Inspection | undefined)[] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(ids.map((id) => inspect(nc, cluster, id)));
    const leaders = last.filter((r) => r?.role === 'leader');
    const leader = leaders[0];
    if (leaders.length === 1 && leader && last.every((r) => r?.leaderId === leader.id)) return leader.id;
    await sleep(50);
  }
  const seen = last.map((r, i) => `${ids[i]}: ${r ? `${r.role} term ${r.term} leader ${r.leaderId}` : '-'}`);
  throw new Error(`no single leader among ${ids.join(', ')} within ${timeoutMs} ms (${seen.join('; ')})`);
}
