/**
 * The Prometheus registry of a `raftline serve` process (prom-client):
 * every metric of names.ts, labelled by group and node, fed by each
 * replica's status at scrape time and by wrappers around its client API
 * and stores.
 */
import type {
  Divergence,
  LogStore,
  Logger,
  NodeStatus,
  Role,
  SnapshotStore,
  SnapshotWriter,
} from '@raftline/core';
import { hasMachineMetrics } from '@raftline/core';
import type { NatsTransportStats, ServedNode } from '@raftline/transport-nats';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DROP_REASONS } from '@raftline/transport-nats';
import { failureReporter, MachineMetricsCollector } from './machine-metrics';
import { FAILURE_REASONS, METRICS, reasonOf, type MetricName, type MetricSpec } from './names';

const ROLES: readonly Role[] = ['follower', 'pre-candidate', 'candidate', 'leader'];

type Metric = Gauge | Counter | Histogram;

/** What serveClients' handle reports: requests in flight now, and those refused so far. */
export interface ClientStats {
  readonly inFlight: number;
  readonly refused: number;
}

/** Where a replica's client statistics come from (serveClients' handle). */
export interface ClientStatsSource {
  stats(): ClientStats;
}

/** What a tracked replica reports at scrape time. */
export interface MetricsSource {
  status(): NodeStatus;
  transportStats?(): NatsTransportStats;
  clientStats?(): ClientStats;
}

/** The node a replica's client API serves: RaftNode satisfies it. */
export interface InstrumentedNode extends ServedNode {
  onRoleChange(listener: (change: { role: Role; leaderId: string; term: number }) => void): () => void;
  onDivergence(listener: (d: Divergence) => void): () => void;
  status(): NodeStatus;
}

/** The registry of one process. */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly metrics = new Map<MetricName, Metric>();
  private readonly groups = new Set<GroupMetrics>();
  /** The machines' own metrics (their metrics() hook), read at each scrape. */
  readonly machines = new MachineMetricsCollector(this.registry);

  /** @param options.processMetrics also serve prom-client's default process and Node.js metrics (default true) */
  constructor(options: { processMetrics?: boolean } = {}) {
    for (const [name, spec] of Object.entries(METRICS) as [MetricName, MetricSpec][]) {
      const labelNames = ['group', 'node', ...(spec.labels ?? [])];
      const common = { name, help: spec.help, labelNames, registers: [this.registry] };
      this.metrics.set(
        name,
        spec.type === 'gauge'
          ? new Gauge(common)
          : spec.type === 'counter'
            ? new Counter(common)
            : new Histogram({ ...common, buckets: [...(spec.buckets ?? [])] }),
      );
    }
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The metrics of one replica (group, node). */
  group(group: string, node: string): GroupMetrics {
    const g = new GroupMetrics(this, { group, node });
    this.groups.add(g);
    return g;
  }

  /** The Prometheus text exposition of every metric, each replica's status read now. */
  async text(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** @internal */
  gauge(name: MetricName): Gauge {
    return this.metrics.get(name) as Gauge;
  }

  /** @internal */
  counter(name: MetricName): Counter {
    return this.metrics.get(name) as Counter;
  }

  /** @internal */
  histogram(name: MetricName): Histogram {
    return this.metrics.get(name) as Histogram;
  }

  /** @internal */
  forget(g: GroupMetrics): void {
    this.groups.delete(g);
  }

  /** Reads every tracked replica's status into the gauges (follower lag series are rebuilt). */
  refresh(): void {
    this.gauge('raftline_follower_match_lag_entries').reset();
    for (const g of this.groups) g.refresh();
    this.machines.refresh();
  }
}

/**
 * The metrics of one replica. Wrap its node for the client API, and its
 * stores, before the replica is assembled; then track() it.
 */
export class GroupMetrics {
  private source: MetricsSource | undefined;
  private readonly seen = new Map<string, number>();
  private lastLeader = '';
  private divergences = 0;
  private inFlight = 0;
  private readonly idle = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];

  /** Starts every series of a bounded label set at 0, so that rate() sees its first increase. */
  constructor(
    private readonly m: ServeMetrics,
    private readonly labels: { readonly group: string; readonly node: string },
  ) {
    const zero = (name: MetricName, label: string, values: readonly string[]): void => {
      for (const v of values) m.counter(name).inc({ ...labels, [label]: v }, 0);
    };
    const reasons = [...new Set(Object.values(FAILURE_REASONS)), 'other'];
    zero(
      'raftline_proposal_failures_total',
      'reason',
      reasons.filter((r) => r !== 'not-leader'),
    );
    zero('raftline_client_commands_total', 'outcome', ['ok', ...reasons]);
    zero('raftline_client_queries_total', 'outcome', ['ok', ...reasons]);
    zero('raftline_verifications_total', 'result', ['match', 'diverged']);
    zero('raftline_dropped_messages_total', 'reason', [...DROP_REASONS, 'unhandled']);
    zero('raftline_send_dropped_messages_total', 'reason', ['disconnected', 'oversize', 'closed', 'error']);
    for (const name of [
      'raftline_leader_changes_total',
      'raftline_proposals_total',
      'raftline_snapshots_total',
    ] as const) {
      m.counter(name).inc(labels, 0);
    }
  }

  /**
   * Starts reporting a replica's status and its role changes and
   * divergences, and, when options.machine has a metrics() method, its
   * machine's own metrics at each scrape (failures logged on options.logger).
   */
  track(
    node: InstrumentedNode,
    transport?: { stats(): NatsTransportStats },
    options: { machine?: object; logger?: Logger; clients?: ClientStatsSource } = {},
  ): void {
    const { machine, logger, clients } = options;
    if (machine && hasMachineMetrics(machine)) {
      const failures = this.m.counter('raftline_machine_metrics_failures_total');
      failures.inc(this.labels, 0);
      const failed = failureReporter(() => failures.inc(this.labels), logger);
      this.unsubscribe.push(this.m.machines.add({ labels: this.labels, machine, failed }));
    }
    this.source = {
      status: () => node.status(),
      ...(transport ? { transportStats: () => transport.stats() } : {}),
      ...(clients ? { clientStats: () => clients.stats() } : {}),
    };
    this.lastLeader = safe(() => node.status().leaderId) ?? '';
    if (this.lastLeader) this.m.counter('raftline_leader_changes_total').inc(this.labels);
    this.unsubscribe.push(
      node.onRoleChange(({ leaderId }) => {
        if (leaderId && leaderId !== this.lastLeader)
          this.m.counter('raftline_leader_changes_total').inc(this.labels);
        this.lastLeader = leaderId;
      }),
      node.onDivergence(() => {
        this.divergences++;
      }),
    );
  }

  /**
   * The node as serveClients should see it: every command and query is
   * counted by outcome, proposals as leader timed; commands in flight are
   * counted so that shutdown can wait for them (drained()).
   */
  served(node: InstrumentedNode): ServedNode {
    const { labels, m } = this;
    // Label children found once: a flood's refusals are counted at its rate.
    const children = new Map<string, { inc(): void }>();
    const child = (name: MetricName, key: string, extra: Record<string, string>): { inc(): void } => {
      let c = children.get(`${name} ${key}`);
      if (!c) children.set(`${name} ${key}`, (c = m.counter(name).labels({ ...labels, ...extra })));
      return c;
    };
    const outcome = (name: MetricName, err?: unknown): void => {
      const o = err === undefined ? 'ok' : reasonOf(err);
      child(name, o, { outcome: o }).inc();
    };
    const commandFailed = (err: unknown): void => {
      const reason = reasonOf(err);
      if (reason !== 'not-leader') {
        child('raftline_proposals_total', '', {}).inc();
        child('raftline_proposal_failures_total', reason, { reason }).inc();
      }
      outcome('raftline_client_commands_total', err);
    };
    return {
      id: node.id,
      // A command refused before it is decoded counts as one refused by propose().
      refusal: () => {
        const refusal = node.refusal?.();
        if (refusal) commandFailed(refusal);
        return refusal;
      },
      propose: async (request) => {
        const started = process.hrtime.bigint();
        this.inFlight++;
        try {
          const value = await node.propose(request);
          child('raftline_proposals_total', '', {}).inc();
          m.histogram('raftline_proposal_apply_seconds').observe(labels, seconds(started));
          outcome('raftline_client_commands_total');
          return value;
        } catch (err) {
          commandFailed(err);
          throw err;
        } finally {
          if (--this.inFlight === 0) for (const wake of [...this.idle]) wake();
        }
      },
      query: async (name, args, options) => {
        try {
          const result = await node.query(name, args, options);
          outcome('raftline_client_queries_total');
          return result;
        } catch (err) {
          outcome('raftline_client_queries_total', err);
          throw err;
        }
      },
      onRoleChange: (listener) => node.onRoleChange(listener),
      status: () => node.status(),
    };
  }

  /** Client commands still in flight through served(). */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Resolves once no client command is in flight, or after timeoutMs.
   * @returns true when drained, false when time ran out first
   */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.idle.delete(wake);
        resolve(ok);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.idle.add(wake);
    });
  }

  /** The log store, with each append's batch size and duration observed. */
  logStore<S extends LogStore>(store: S): S {
    const { labels, m } = this;
    return intercept<LogStore>(store, {
      append: (original) => async (entries) => {
        const started = process.hrtime.bigint();
        await original(entries);
        m.histogram('raftline_log_append_entries').observe(labels, entries.length);
        m.histogram('raftline_log_append_seconds').observe(labels, seconds(started));
      },
    }) as S;
  }

  /** The snapshot store, with each committed snapshot counted, sized and timed. */
  snapshotStore<S extends SnapshotStore>(store: S): S {
    const { labels, m } = this;
    return intercept<SnapshotStore>(store, {
      create: (original) => async (meta) => {
        const started = process.hrtime.bigint();
        const writer = await original(meta);
        return intercept<SnapshotWriter>(writer, {
          commit: (commit) => async () => {
            await commit();
            m.counter('raftline_snapshots_total').inc(labels);
            m.gauge('raftline_snapshot_size_bytes').set(labels, meta.size);
            m.histogram('raftline_snapshot_write_seconds').observe(labels, seconds(started));
          },
        });
      },
    }) as S;
  }

  /** Reads the status into the gauges, and the transport's and node's monotonic counts into counters. */
  refresh(): void {
    const s = this.source && safe(() => this.source!.status());
    if (!s) return;
    const { labels, m } = this;
    m.gauge('raftline_term').set(labels, s.term);
    for (const role of ROLES) m.gauge('raftline_role').set({ ...labels, role }, s.role === role ? 1 : 0);
    m.gauge('raftline_has_leader').set(labels, s.leaderId ? 1 : 0);
    m.gauge('raftline_commit_index').set(labels, s.commitIndex);
    m.gauge('raftline_applied_index').set(labels, s.appliedIndex);
    m.gauge('raftline_last_index').set(labels, s.lastIndex);
    m.gauge('raftline_snapshot_index').set(labels, s.snapshotIndex);
    m.gauge('raftline_storage_healthy').set(labels, s.storageError ? 0 : 1);
    m.gauge('raftline_proposals_pending').set(labels, s.proposals.pending);
    m.gauge('raftline_diverged').set(labels, s.verification.diverged ? 1 : 0);
    m.gauge('raftline_stopped_applying').set(labels, s.verification.stoppedApplying ? 1 : 0);
    for (const [follower, p] of Object.entries(s.followers ?? {})) {
      m.gauge('raftline_follower_match_lag_entries').set(
        { group: labels.group, node: follower },
        Math.max(0, s.lastIndex - p.match),
      );
    }
    const matches = Math.max(0, s.verification.compared - this.divergences);
    this.advance('raftline_verifications_total', { result: 'match' }, matches);
    this.advance('raftline_verifications_total', { result: 'diverged' }, this.divergences);
    this.advance('raftline_dropped_messages_total', { reason: 'unhandled' }, s.droppedMessages);
    const c = safe(() => this.source!.clientStats?.());
    if (c) {
      m.gauge('raftline_client_requests_in_flight').set(labels, c.inFlight);
      this.advance('raftline_client_requests_refused_total', {}, c.refused);
    }
    const t = safe(() => this.source!.transportStats?.());
    if (t) {
      m.gauge('raftline_nats_connected').set(labels, t.connected ? 1 : 0);
      for (const [reason, n] of Object.entries(t.dropped)) {
        this.advance('raftline_dropped_messages_total', { reason }, n);
      }
      for (const [reason, n] of Object.entries(t.sendDropped)) {
        this.advance('raftline_send_dropped_messages_total', { reason }, n);
      }
    }
  }

  /** Stops tracking: the replica's series stay at their last values until the process ends. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.m.forget(this);
  }

  /** Adds to a counter what a monotonic count outside grew by since the last refresh. */
  private advance(name: MetricName, extra: Record<string, string>, total: number): void {
    const key = `${name}|${JSON.stringify(extra)}`;
    const delta = total - (this.seen.get(key) ?? 0);
    this.seen.set(key, total);
    this.m.counter(name).inc({ ...this.labels, ...extra }, Math.max(0, delta));
  }
}

/** A proxy of target whose listed methods are replaced (each given the original, bound). */
function intercept<T extends object>(target: T, replace: { [K in keyof T]?: (original: T[K]) => T[K] }): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      const wrap = replace[prop as keyof T];
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(t) as T[keyof T];
      return wrap ? wrap(bound) : bound;
    },
  });
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
