/**
 * `raftline serve`: every group of one configuration in one process, over
 * its NATS connections (Raft traffic apart from clients' by default, see
 * connections.ts) and one database, with /metrics, /healthz and
 * /readyz (and the dashboard page when metrics.dashboard is on), and a
 * graceful shutdown.
 */
import type { ServeConfig } from '../config/schema';
import type { DashboardCollector } from '../dashboard/collector';
import { dashboardCollector } from '../dashboard/command';
import { createDashboardRoutes, type DashboardRoutes } from '../dashboard/server';
import { createLogger } from '../logging';
import { startHealthServer, type GroupReadiness, type HealthServer } from '../metrics/http';
import { ServeMetrics } from '../metrics/metrics';
import { openConnections, type ServeConnections } from './connections';
import { startGroup, type ProcessContext, type RunningGroup } from './group';
import { openStoreProvider, type StoreProvider } from './stores';

/** A running `raftline serve` process. */
export interface RunningServe {
  readonly groups: readonly RunningGroup[];
  /** The metrics server's port (undefined when metrics.enabled is false). */
  readonly metricsPort: number | undefined;
  /** The names of its NATS connections (two when nats.separateRaftConnection, else one), as NATS monitoring shows them. */
  readonly natsConnections: readonly string[];
  /** Resolves when a group's replica halts (RunningGroup.halted), with the group and why; never otherwise. */
  readonly halted: Promise<{ readonly group: string; readonly cause: Error }>;
  /**
   * Stops the dashboard's collector, every group gracefully (in parallel),
   * then the metrics server, the database and every NATS connection. Idempotent.
   */
  close(): Promise<void>;
}

/** Errors of a start that a later attempt may not meet: NATS or the store not reachable yet. */
const UNREACHABLE = new Set(['StoreUnavailableError', 'ConnectionError', 'TimeoutError']);
/** Socket errors with the same meaning (a connection refused, reset in its handshake, timed out). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Whether err (or an error it was caused by) says a server could not be
 * reached. Read by property, not instanceof: a socket error may come from
 * another realm (node's own, seen from a vm context such as jest's).
 */
function unreachable(err: unknown): boolean {
  let e = err as { name?: unknown; code?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    if (UNREACHABLE.has(String(e.name)) || UNREACHABLE_CODES.has(String(e.code))) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * Starts everything the configuration names, logging through `logger`
 * (default: pino as config.log says, on stdout). While NATS or the store
 * cannot be reached (connection refused or reset, a database starting up), it
 * closes what it opened and tries again, for up to config.startup.waitMs
 * (a warning each time), so replicas may start before their servers do.
 * @returns once every group serves
 * @throws the first error of any group (the others are stopped and everything opened is closed):
 *   ConfigError (machine, bindings, a port in use), DuplicateNodeError, the store's errors,
 *   the NATS connection's error (these two once startup.waitMs has passed)
 */
export async function startServe(
  config: ServeConfig,
  logger: ProcessContext['logger'] = createLogger(config.log, { node: config.node }),
): Promise<RunningServe> {
  const deadline = Date.now() + config.startup.waitMs;
  for (let attempt = 1, pauseMs = 200; ; attempt++, pauseMs = Math.min(2000, pauseMs * 2)) {
    try {
      return await startOnce(config, logger);
    } catch (err) {
      if (!unreachable(err) || Date.now() + pauseMs > deadline) throw err;
      logger.warn(
        { err, attempt, retryInMs: pauseMs, waitMs: config.startup.waitMs },
        'cannot reach NATS or the store yet; retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

/** One attempt of startServe. */
async function startOnce(config: ServeConfig, logger: ProcessContext['logger']): Promise<RunningServe> {
  const metrics = new ServeMetrics();
  const groups: RunningGroup[] = [];
  const readiness = (): Record<string, GroupReadiness> => {
    const out: Record<string, GroupReadiness> = {};
    for (const g of config.groups) {
      out[g.name] = groups.find((r) => r.name === g.name)?.readiness() ?? {
        ready: false,
        reasons: ['starting'],
      };
    }
    return out;
  };
  let http: HealthServer | undefined;
  let connections: ServeConnections | undefined;
  let stores: StoreProvider | undefined;
  // metrics.dashboard: the collector watches this process's groups over its
  // Raft connection (admin traffic, which must get through a client flood),
  // as `raftline dashboard` would; the metrics server serves its routes once
  // NATS is connected (503 before), and it refreshes once the groups run.
  let dashboard: { collector: DashboardCollector; routes: DashboardRoutes } | undefined;
  const stopDashboard = async (): Promise<void> => {
    const d = dashboard;
    dashboard = undefined;
    d?.routes.close();
    await d?.collector.stop();
  };
  const closeShared = async (): Promise<void> => {
    await stopDashboard();
    await http?.close().catch(() => undefined);
    await stores?.close().catch((err: unknown) => logger.warn({ err }, 'closing the database failed'));
    await connections?.close();
  };
  try {
    if (config.metrics.enabled) {
      http = await startHealthServer({
        host: config.metrics.host,
        port: config.metrics.port,
        metrics,
        readiness,
        logger,
        ...(config.metrics.dashboard ? { dashboard: () => dashboard?.routes } : {}),
      });
    }
    connections = await openConnections(config, logger);
    if (config.metrics.dashboard && http) {
      const collector = dashboardCollector({
        connection: connections.raft,
        cluster: config.cluster,
        groups: config.groups.map((g) => g.name),
      });
      dashboard = { collector, routes: createDashboardRoutes(collector) };
    }
    stores = await openStoreProvider(config.store, `raftline-${config.cluster}-${config.node}`);
    const ctx: ProcessContext = { config, connections, stores, metrics, logger };
    const started = await Promise.allSettled(config.groups.map((g) => startGroup(ctx, g)));
    for (const s of started) if (s.status === 'fulfilled') groups.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(groups.map((g) => g.stop().catch(() => undefined)));
      throw failed.reason;
    }
    dashboard?.collector.start();
  } catch (err) {
    await closeShared();
    throw err;
  }
  const nc = connections.raft;
  const natsConnections = connections.names;
  logger.info(
    {
      cluster: config.cluster,
      groups: config.groups.map((g) => g.name),
      store: stores.engine,
      nats: nc.getServer(),
      natsConnections,
      ...(http ? { metricsPort: http.port } : {}),
      ...(dashboard && http ? { dashboard: `http://${urlHost(config.metrics.host)}:${http.port}/` } : {}),
    },
    'raftline serve ready',
  );
  let closed: Promise<void> | undefined;
  return {
    groups,
    metricsPort: http?.port,
    natsConnections,
    halted: Promise.race(groups.map((g) => g.halted.then((cause) => ({ group: g.name, cause })))),
    close: () =>
      (closed ??= (async () => {
        await stopDashboard();
        await Promise.all(
          groups.map((g) =>
            g
              .stop()
              .catch((err: unknown) => logger.error({ err, group: g.name }, 'stopping the group failed')),
          ),
        );
        await closeShared();
      })()),
  };
}

/** A host as a URL writes it (an IPv6 address in brackets). */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
