/**
 * `raftline dashboard`: a live page of the cluster, served over HTTP from a
 * collector that watches its groups through the admin API.
 */
import { connectNats, credsFileOptions, type NatsConnection } from '@raftline/transport-nats';
import { UsageError } from '../errors';
import { print } from '../output';
import { parseArgs, positiveInt, type Target } from '../commands/common';
import { DashboardCollector } from './collector';
import { startDashboardServer } from './server';

/** The defaults of the dashboard's flags. */
export const DASHBOARD_DEFAULTS = {
  host: '127.0.0.1',
  port: 8090,
  intervalMs: 1000,
  historyPoints: 300,
  requestTimeoutMs: 1000,
} as const;

/** How startDashboard runs. */
export interface DashboardOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  /** The groups to show; none: every group of the cluster that discovery finds. */
  readonly groups: readonly string[];
  readonly host?: string;
  /** The port (0: any free one; default 8090). */
  readonly port?: number;
  /** How often the page refreshes, in ms (default 1000). */
  readonly intervalMs?: number;
  /** How many samples the charts keep (default 300: five minutes at one a second). */
  readonly historyPoints?: number;
  /** How long one replica's answer may take (default 1000 ms). */
  readonly requestTimeoutMs?: number;
  /** A query timed as the read latency of groups that run no known service. */
  readonly probe?: { readonly name: string; readonly args: readonly unknown[] };
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's address. */
  readonly url: string;
  readonly port: number;
  readonly collector: DashboardCollector;
  /** Stops refreshing and serving (the connection stays the caller's). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a dashboard on a connection: the collector refreshing every
 * intervalMs and the HTTP server.
 * @returns once the server listens
 * @throws the listen error (EADDRINUSE, …); SubjectTokenError for a bad cluster or group name
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const collector = dashboardCollector(options);
  const server = await startDashboardServer({
    host: options.host ?? DASHBOARD_DEFAULTS.host,
    port: options.port ?? DASHBOARD_DEFAULTS.port,
    source: collector,
  });
  collector.start();
  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    collector,
    close: () => (closed ??= Promise.all([server.close(), collector.stop()]).then(() => undefined)),
  };
}

/**
 * A collector (not started) for the groups of `options`, with
 * DASHBOARD_DEFAULTS for what they leave out: startDashboard's, and `raftline
 * serve`'s for its own groups when metrics.dashboard is on.
 * @returns the collector
 * @throws SubjectTokenError for a bad cluster or group name
 */
export function dashboardCollector(options: Omit<DashboardOptions, 'host' | 'port'>): DashboardCollector {
  return new DashboardCollector({
    connection: options.connection,
    cluster: options.cluster,
    groups: options.groups,
    intervalMs: options.intervalMs ?? DASHBOARD_DEFAULTS.intervalMs,
    historyPoints: options.historyPoints ?? DASHBOARD_DEFAULTS.historyPoints,
    requestTimeoutMs: options.requestTimeoutMs ?? DASHBOARD_DEFAULTS.requestTimeoutMs,
    ...(options.probe ? { probe: options.probe } : {}),
  });
}

/** The dashboard command's own flags (commander's parsed values). */
export interface DashboardFlags {
  readonly host?: string;
  readonly port?: string;
  readonly interval?: string;
  readonly history?: string;
  readonly probe?: string;
  readonly probeArgs?: string;
}

/**
 * Runs `raftline dashboard` until SIGINT or SIGTERM: prints the page's
 * address, keeps the NATS connection (reconnecting for as long as it runs).
 * @throws UsageError for a bad --port, --interval, --history or --probe-args;
 *   the nats.js error when NATS cannot be reached at start; the listen error
 */
export async function dashboardCommand(target: Target, flags: DashboardFlags): Promise<void> {
  const port = portOf(flags.port);
  const intervalMs = positiveInt(flags.interval, '--interval', DASHBOARD_DEFAULTS.intervalMs);
  if (intervalMs < 100) throw new UsageError(`--interval (${intervalMs}) must be at least 100 ms`);
  const historyPoints = positiveInt(flags.history, '--history', DASHBOARD_DEFAULTS.historyPoints);
  if (flags.probeArgs !== undefined && flags.probe === undefined) {
    throw new UsageError('--probe-args needs --probe <query>');
  }
  const probe = flags.probe
    ? { name: flags.probe, args: parseArgs(flags.probeArgs, '--probe-args') }
    : undefined;
  const { creds, ...auth } = target.auth;
  const connection = await connectNats({
    servers: [...target.servers],
    name: 'raftline dashboard',
    maxReconnectAttempts: -1,
    timeout: Math.min(5000, target.timeoutMs),
    ...auth,
    ...(creds ? credsFileOptions(creds) : {}),
  });
  try {
    const dashboard = await startDashboard({
      connection,
      cluster: target.cluster,
      groups: target.groups,
      host: flags.host ?? DASHBOARD_DEFAULTS.host,
      port,
      intervalMs,
      historyPoints,
      requestTimeoutMs: Math.min(DASHBOARD_DEFAULTS.requestTimeoutMs, target.timeoutMs),
      ...(probe ? { probe } : {}),
    });
    const groups = target.groups.length > 0 ? target.groups.join(', ') : 'found by discovery';
    print(`raftline dashboard: ${dashboard.url} (cluster ${target.cluster}, groups: ${groups})`);
    await untilSignal();
    await dashboard.close();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** @returns the port flag's value @throws UsageError when it is not an integer from 0 to 65535 */
function portOf(value: string | undefined): number {
  if (value === undefined) return DASHBOARD_DEFAULTS.port;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65_535) {
    throw new UsageError(`--port (${value}) must be an integer from 0 to 65535`);
  }
  return n;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
