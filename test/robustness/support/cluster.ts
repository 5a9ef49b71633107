// One run's replicas: test/cluster's ReplicaCluster running serve-replica.ts
// (the voters it starts with, and a spare that joins and leaves), each
// behind a FaultProxy to its nats-server (rN on server (N − 1) mod the
// servers' count), with pause/resume by pid.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaCluster } from '../../cluster/support/replicas';
import { PG_SCHEMA } from '../../cluster/support/postgres';
import { uniqueId } from '../../cluster/support/nats';
import type { Environment } from './environment';
import { FaultProxy } from './fault-proxy';

const SCRIPT = join(__dirname, 'serve-replica.ts');

/** How a run's cluster is made. */
export interface ClusterSpec {
  /** Voters at bootstrap, e.g. r1, r2, r3. */
  readonly nodes: number;
  readonly electionMs: number;
  /** The machine module (absolute) and its export. */
  readonly machine: string;
  readonly export?: string;
  /** More NodeConfig fields (JSON-able). */
  readonly raft?: Readonly<Record<string, unknown>>;
  /** Where each replica's output goes, as `<id>.log`, at log level info (default: kept in memory, warnings only). */
  readonly logDir?: string;
}

/** The replicas of one run and the links the nemesis breaks. */
export class RobustCluster {
  readonly cluster = uniqueId('rb');
  readonly group = uniqueId('g');
  readonly ids: readonly string[];
  /** The node that joins and leaves (membership changes). */
  readonly spare: string;
  private readonly base: ReplicaCluster;
  private readonly spareCluster: ReplicaCluster;
  private readonly pidDir = mkdtempSync(join(tmpdir(), 'raftline-robust-'));
  private readonly up = new Set<string>();
  /** Clusters not yet disposed, for a runner interrupted by a signal. */
  static readonly live = new Set<RobustCluster>();
  private readonly paused = new Set<string>();

  private constructor(
    readonly env: Environment,
    readonly spec: ClusterSpec,
    readonly proxies: ReadonlyMap<string, FaultProxy>,
  ) {
    this.ids = nodeIds(spec.nodes);
    this.spare = `r${spec.nodes + 1}`;
    const common = {
      natsUrl: env.nats.url(0),
      cluster: this.cluster,
      group: this.group,
      electionMs: spec.electionMs,
      pgUrl: env.pg.url,
      script: SCRIPT,
      ...(spec.logDir ? { logDir: spec.logDir } : {}),
    };
    const scriptEnv = (join: boolean): Record<string, string> => ({
      ROBUST_NATS: [...this.ids, this.spare].map((id) => `${id}=${this.proxyUrl(id)}`).join(','),
      ROBUST_MACHINE: spec.machine,
      ...(spec.export ? { ROBUST_EXPORT: spec.export } : {}),
      ROBUST_RAFT: JSON.stringify(spec.raft ?? {}),
      ROBUST_PID_DIR: this.pidDir,
      ...(spec.logDir ? { ROBUST_LOG_LEVEL: 'info' } : {}),
      ...(join ? { ROBUST_JOIN: 'voter' } : {}),
    });
    this.base = new ReplicaCluster({ ...common, ids: this.ids, env: scriptEnv(false) });
    this.spareCluster = new ReplicaCluster({ ...common, ids: [this.spare], env: scriptEnv(true) });
  }

  /**
   * A cluster with a listening proxy for every node (spare included); no replica started yet.
   * @throws the proxies' listen errors
   */
  static async create(env: Environment, spec: ClusterSpec): Promise<RobustCluster> {
    const proxies = new Map<string, FaultProxy>();
    try {
      for (const id of [...nodeIds(spec.nodes), `r${spec.nodes + 1}`]) {
        const proxy = new FaultProxy(env.nats.port(serverIndex(id, env.nats.count)));
        proxies.set(id, proxy);
        await proxy.listen();
      }
    } catch (err) {
      await Promise.all([...proxies.values()].map((p) => p.close()));
      throw err;
    }
    const c = new RobustCluster(env, spec, proxies);
    RobustCluster.live.add(c);
    return c;
  }

  private proxyUrl(id: string): string {
    return this.proxies.get(id)?.url ?? this.env.nats.url(0);
  }

  /** The nats-server node id reaches NATS through (0-based). */
  serverOf(id: string): number {
    return serverIndex(id, this.env.nats.count);
  }

  /** The proxy of node id. @throws Error for a node the cluster does not have */
  proxy(id: string): FaultProxy {
    const p = this.proxies.get(id);
    if (!p) throw new Error(`no proxy for ${id}`);
    return p;
  }

  private of(id: string): ReplicaCluster {
    return id === this.spare ? this.spareCluster : this.base;
  }

  /** Whether node id's process runs (started and not killed; it may be paused). */
  isUp(id: string): boolean {
    return this.up.has(id);
  }

  isPaused(id: string): boolean {
    return this.paused.has(id);
  }

  /** Nodes whose process runs. */
  running(): string[] {
    return [...this.up];
  }

  /**
   * Starts every bootstrap voter, one after another (on a loaded machine
   * parallel starts outrun ReplicaCluster's 30 s), each tried up to 3 times.
   * @throws the last start error of a node that never became ready
   */
  async startAll(): Promise<void> {
    for (const id of this.ids) {
      for (let attempt = 1; !this.isUp(id); attempt++) {
        try {
          await this.start(id);
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }
  }

  /**
   * Starts node id on its rows and waits until it serves.
   * @throws Error when it exits first or is not ready within 30 s (ReplicaCluster.start)
   */
  async start(id: string): Promise<void> {
    await this.of(id).start(id);
    this.up.add(id);
  }

  /** kill -9 of node id (paused or not); resolves once it is gone. */
  async kill(id: string): Promise<void> {
    this.up.delete(id);
    await this.of(id).kill9(id);
    this.paused.delete(id);
  }

  /** SIGSTOP of node id. @returns false when it does not run or is paused already */
  pause(id: string): boolean {
    if (!this.up.has(id) || this.paused.has(id)) return false;
    process.kill(this.pid(id), 'SIGSTOP');
    this.paused.add(id);
    return true;
  }

  /** SIGCONT of node id, when paused. */
  resume(id: string): void {
    if (!this.paused.delete(id) || !this.up.has(id)) return;
    process.kill(this.pid(id), 'SIGCONT');
  }

  private pid(id: string): number {
    return Number(readFileSync(join(this.pidDir, `${id}.pid`), 'utf8'));
  }

  /** Node id's resident set size in bytes (Linux /proc), or undefined when it does not run. */
  rssBytes(id: string): number | undefined {
    if (!this.up.has(id)) return undefined;
    try {
      const status = readFileSync(`/proc/${this.pid(id)}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) * 1024;
    } catch {
      return undefined; // gone meanwhile
    }
  }

  /** Exits nobody asked for, with the end of each one's stderr. */
  unexpectedExits(): string[] {
    return [...this.base.unexpectedExits(), ...this.spareCluster.unexpectedExits()];
  }

  /** The end of node id's stderr. */
  log(id: string): string {
    return this.of(id).log(id);
  }

  /** Deletes node id's rows (a removed spare starts afresh next time). */
  async deleteRows(id: string): Promise<void> {
    for (const table of ['snapshot', 'log_entry', 'log_bounds', 'hard_state']) {
      await this.env.pool.query(`DELETE FROM "${PG_SCHEMA}".${table} WHERE group_id = $1 AND node_id = $2`, [
        this.group,
        id,
      ]);
    }
  }

  /** Kills every replica, closes the proxies and removes the pid directory. */
  async dispose(): Promise<void> {
    for (const id of [...this.paused]) this.resume(id);
    await Promise.all([...this.ids, this.spare].map((id) => this.kill(id)));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    rmSync(this.pidDir, { recursive: true, force: true });
    RobustCluster.live.delete(this);
  }
}

/** rN's server among count: (N − 1) mod count. */
function serverIndex(id: string, count: number): number {
  return (Number(id.slice(1)) - 1) % count;
}

/** r1 … rN. */
function nodeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `r${i + 1}`);
}
