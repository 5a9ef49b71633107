/**
 * The HTTP side of a replica process (node:http): /metrics in Prometheus
 * text format, /healthz (the process is alive and answers), /readyz (every
 * group knows a leader and has applied within the lag bound), and, when
 * metrics.dashboard is on, the dashboard page at / with its feed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, type Logger, type NodeStatus } from '@raftline/core';
import { isDashboardPath, type DashboardRoutes } from '../dashboard/server';
import type { ServeMetrics } from './metrics';

/** Whether one group of the process is ready to serve, and why not. */
export interface GroupReadiness {
  readonly ready: boolean;
  /** Why it is not ready (empty when ready). */
  readonly reasons: readonly string[];
  readonly role?: string;
  readonly leaderId?: string;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
}

/**
 * A replica is ready when it knows a leader, has applied all but at most
 * maxLagEntries of the entries it knows committed, applies (has not stopped
 * after a divergence) and its store writes succeed.
 * @returns the verdict with every reason that holds
 */
export function readinessOf(status: NodeStatus | undefined, maxLagEntries: number): GroupReadiness {
  if (!status) return { ready: false, reasons: ['the replica is not running'] };
  const reasons: string[] = [];
  if (!status.leaderId) reasons.push('no leader is known');
  const behind = status.commitIndex - status.appliedIndex;
  if (behind > maxLagEntries) {
    reasons.push(
      `applied index ${status.appliedIndex} is ${behind} entries behind commit index ${status.commitIndex} (readyMaxLagEntries ${maxLagEntries})`,
    );
  }
  if (status.verification.stoppedApplying) reasons.push('stopped applying after a divergence');
  if (status.storageError) reasons.push(`store writes fail: ${status.storageError}`);
  if (status.halted) reasons.push(`halted: ${status.halted}`);
  return {
    ready: reasons.length === 0,
    reasons,
    role: status.role,
    leaderId: status.leaderId,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
  };
}

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: ServeMetrics;
  /** Every group's readiness, read at each /readyz. */
  readonly readiness: () => Readonly<Record<string, GroupReadiness>>;
  readonly logger: Logger;
  /**
   * The dashboard's routes (metrics.dashboard), read at each request:
   * undefined until NATS is connected (its paths answer 503 meanwhile).
   * Absent: the server has no page (/ is 404).
   */
  readonly dashboard?: () => DashboardRoutes | undefined;
}

/** A running metrics and health server. */
export interface HealthServer {
  /** The port it listens on (the one picked when configured as 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the server.
 * @returns once it listens
 * @throws ConfigError naming metrics.port when it cannot listen (EADDRINUSE, EACCES)
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => void handle(options, req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ConfigError([
          `metrics.port (${options.port}) on ${options.host}: cannot listen: ${err.code ?? err.message}`,
        ]),
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: HealthServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'text/plain', 'only GET and HEAD\n');
  }
  try {
    switch (path) {
      case '/metrics':
        return send(res, 200, o.metrics.contentType, await o.metrics.text());
      case '/healthz':
        return send(res, 200, 'application/json', `${JSON.stringify({ status: 'ok' })}\n`);
      case '/readyz': {
        const groups = o.readiness();
        const ready = Object.values(groups).every((g) => g.ready);
        return send(res, ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready, groups })}\n`);
      }
      default:
        if (o.dashboard) {
          const routes = o.dashboard();
          if (routes?.handle(req, res)) return;
          if (!routes && isDashboardPath(path)) {
            return send(res, 503, 'text/plain', 'the dashboard starts once NATS is connected\n');
          }
        }
        return send(
          res,
          404,
          'text/plain',
          `not found: try ${o.dashboard ? '/, ' : ''}/metrics, /healthz or /readyz\n`,
        );
    }
  } catch (err) {
    o.logger.error({ err, path }, 'metrics request failed');
    return send(res, 500, 'text/plain', 'internal error\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
