/**
 * The dashboard's data: every interval it asks each group's replicas for
 * their status (AdminClient) and each group's service for its panel (its
 * queries, by name, through NatsRaftClient), and keeps the history the page
 * charts. A client of the admin and client APIs only.
 */
import { performance } from 'node:perf_hooks';
import { AdminClient, discoverReplicas, NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import { describeError } from '../errors';
import { GroupTracker, type DashboardState } from './model';
import { detectService, loadPanel, type PanelService, type QueryFn } from './services';

/** How a collector watches a cluster. */
export interface CollectorOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  /** The groups to watch; none: the cluster's groups that discovery finds (asked again every 10 s). */
  readonly groups: readonly string[];
  /** How often to refresh (ms). */
  readonly intervalMs: number;
  /** How many samples each group keeps for its charts. */
  readonly historyPoints: number;
  /** How long one replica's status answer may take (ms). */
  readonly requestTimeoutMs: number;
  /** A query to time as the read latency of every group that runs no known service (a service's own query is timed otherwise). */
  readonly probe?: { readonly name: string; readonly args: readonly unknown[] };
  /** The clock (default Date.now). */
  readonly now?: () => number;
}

/** How often discovery looks for new groups when none was given. */
const DISCOVER_EVERY_MS = 10_000;
/** How long to wait before asking again which service a group runs, after no replica could tell. */
const DETECT_RETRY_MS = 5_000;

/** How long a query (retries included) may take: two refresh intervals, from 1 s to 10 s. */
function operationTimeoutMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(1000, 2 * intervalMs));
}

/** One group being watched. */
class GroupWatch {
  readonly tracker: GroupTracker;
  private admin: AdminClient;
  /**
   * The members and the replicas that answered, at the last status: status()
   * asks each directly too, so it answers even when the request to any
   * replica goes unanswered.
   */
  private seen = new Set<string>();
  private readonly client: NatsRaftClient;
  /** undefined: not known yet; null: none the dashboard knows. */
  private service: PanelService | null | undefined;
  private detectAt = 0;
  private statusRun: Promise<void> | undefined;
  private serviceRun: Promise<void> | undefined;

  constructor(
    readonly group: string,
    private readonly options: CollectorOptions,
    private readonly now: () => number,
  ) {
    this.tracker = new GroupTracker(group, options.historyPoints);
    this.admin = this.adminClient();
    this.client = new NatsRaftClient({
      connection: options.connection,
      cluster: options.cluster,
      group,
      timeoutMs: operationTimeoutMs(options.intervalMs),
      requestTimeoutMs: options.requestTimeoutMs,
    });
  }

  private adminClient(): AdminClient {
    return new AdminClient({
      connection: this.options.connection,
      cluster: this.options.cluster,
      group: this.group,
      timeoutMs: operationTimeoutMs(this.options.intervalMs),
      requestTimeoutMs: this.options.requestTimeoutMs,
      replicas: [...this.seen].sort(),
    });
  }

  /** Starts a refresh of what is not being refreshed already. @returns once the status part is done */
  refresh(): Promise<void> {
    this.serviceRun ??= this.refreshService().finally(() => (this.serviceRun = undefined));
    this.statusRun ??= this.refreshStatus().finally(() => (this.statusRun = undefined));
    return this.statusRun;
  }

  /** @returns once the refreshes in flight are done */
  async settle(): Promise<void> {
    await Promise.all([this.statusRun, this.serviceRun]);
  }

  private async refreshStatus(): Promise<void> {
    const known = this.tracker.view().replicas.map((r) => r.node);
    const ping = async (node: string): Promise<[string, number | null]> => {
      const t0 = performance.now();
      try {
        await this.admin.replicaStatus(node);
        return [node, performance.now() - t0];
      } catch {
        return [node, null];
      }
    };
    try {
      const [status, pings] = await Promise.all([this.admin.status(), Promise.all(known.map(ping))]);
      this.tracker.record(this.now(), status, Object.fromEntries(pings));
      const m = status.members;
      const next = new Set([
        ...m.voters,
        ...m.learners,
        ...m.outgoing,
        ...status.replicas.filter((r) => r.reachable).map((r) => r.node),
      ]);
      if (next.size !== this.seen.size || [...next].some((n) => !this.seen.has(n))) {
        this.seen = next;
        this.admin = this.adminClient();
      }
    } catch (err) {
      this.tracker.recordFailure(this.now(), describeError(err));
    }
  }

  private async refreshService(): Promise<void> {
    let timed = false;
    const query: QueryFn = async (name, args) => {
      const t0 = performance.now();
      const receipt = await this.client.query({ name, args: [...args] }, { consistency: 'linearizable' });
      if (!timed) {
        timed = true;
        this.tracker.recordRead(performance.now() - t0);
      }
      return receipt.value;
    };
    if (this.service === undefined) {
      if (this.now() < this.detectAt) return;
      try {
        this.service = await detectService(query);
      } catch {
        this.detectAt = this.now() + DETECT_RETRY_MS;
        return;
      }
    }
    if (this.service === null) {
      const probe = this.options.probe;
      if (probe) await query(probe.name, probe.args).catch(() => undefined);
      return;
    }
    const previous = this.tracker.view().service;
    try {
      this.tracker.setService(await loadPanel(this.service, query, this.now));
    } catch (err) {
      this.tracker.setService({
        ...(previous ?? { service: this.service, updatedAt: 0 }),
        error: describeError(err),
      });
    }
  }
}

/**
 * Watches a cluster's groups and keeps what the dashboard shows. start()
 * refreshes every intervalMs; subscribers hear of every refresh.
 */
export class DashboardCollector {
  private readonly watches = new Map<string, GroupWatch>();
  private readonly listeners = new Set<(state: DashboardState) => void>();
  private readonly now: () => number;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private discoverAt = 0;
  private discoverError: string | undefined;
  private discovering: Promise<void> | undefined;

  constructor(private readonly options: CollectorOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    for (const g of options.groups) this.watch(g);
  }

  /** Refreshes now and then every intervalMs, until stop(). */
  start(): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
  }

  /** Stops refreshing; resolves once the refreshes in flight are done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.discovering;
    await Promise.all([...this.watches.values()].map((w) => w.settle()));
  }

  /**
   * One refresh of every group (those a refresh is still running for are
   * left to it); subscribers are told once the groups' status is in.
   * @returns the state after it
   */
  async refresh(): Promise<DashboardState> {
    if (this.options.groups.length === 0 && this.now() >= this.discoverAt) {
      this.discovering ??= this.discover().finally(() => (this.discovering = undefined));
      await this.discovering;
    }
    await Promise.all([...this.watches.values()].map((w) => w.refresh()));
    const state = this.state();
    for (const fn of this.listeners) fn(state);
    return state;
  }

  /** Calls fn after every refresh. @returns the function that unsubscribes */
  subscribe(fn: (state: DashboardState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @returns what the dashboard shows now */
  state(): DashboardState {
    const groups = [...this.watches.values()]
      .map((w) => w.tracker.view())
      .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    return {
      cluster: this.options.cluster,
      intervalMs: this.options.intervalMs,
      historyPoints: this.options.historyPoints,
      startedAt: this.startedAt,
      now: this.now(),
      ...(this.discoverError !== undefined ? { error: this.discoverError } : {}),
      groups,
    };
  }

  private watch(group: string): void {
    if (!this.watches.has(group)) this.watches.set(group, new GroupWatch(group, this.options, this.now));
  }

  private async discover(): Promise<void> {
    this.discoverAt = this.now() + DISCOVER_EVERY_MS;
    try {
      const found = await discoverReplicas(this.options.connection, { cluster: this.options.cluster });
      for (const r of found) this.watch(r.group);
      this.discoverError =
        this.watches.size === 0
          ? `no replica of cluster ${this.options.cluster} is registered on this NATS account (give --group)`
          : undefined;
    } catch (err) {
      this.discoverError = `discovery failed: ${describeError(err)}`;
    }
  }
}
