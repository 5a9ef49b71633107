/**
 * The dashboard's HTTP server (node:http): the page and its script and
 * styles, uPlot's files from node_modules (no bundler), and the feed:
 * `GET /api/state` (the state as JSON) and `GET /api/events` (Server-Sent
 * Events: the state after every refresh). The same routes are mounted by
 * `raftline serve` on its metrics server when metrics.dashboard is on.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { DashboardState } from './model';

/** What the server serves the feed from (DashboardCollector). */
export interface StateSource {
  state(): DashboardState;
  /** @returns the function that unsubscribes */
  subscribe(fn: (state: DashboardState) => void): () => void;
}

/** Where the server listens. */
export interface DashboardServerOptions {
  /** The address to bind (default 127.0.0.1: the page is for this machine unless you say otherwise). */
  readonly host?: string;
  /** The port (0: any free one). */
  readonly port: number;
  readonly source: StateSource;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The page's address, e.g. http://127.0.0.1:8090/. */
  readonly url: string;
  readonly port: number;
  /** Ends the event streams and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** The page's own files, beside this module's source (src/dashboard/assets, also from dist/dashboard). */
const ASSETS = join(__dirname, '..', '..', 'src', 'dashboard', 'assets');

interface Asset {
  readonly path: string;
  readonly type: string;
}

/** Every file the server serves, by URL path. */
export const DASHBOARD_FILES: Readonly<Record<string, Asset>> = {
  '/': { path: join(ASSETS, 'index.html'), type: 'text/html; charset=utf-8' },
  '/common.js': { path: join(ASSETS, 'common.js'), type: 'text/javascript; charset=utf-8' },
  '/charts.js': { path: join(ASSETS, 'charts.js'), type: 'text/javascript; charset=utf-8' },
  '/panels.js': { path: join(ASSETS, 'panels.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.js': { path: join(ASSETS, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { path: join(ASSETS, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': {
    path: uplotFile('uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': { path: uplotFile('uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

function uplotFile(name: string): string {
  return join(dirname(require.resolve('uplot/package.json')), 'dist', name);
}

/** The dashboard's routes: its files and its feed, for any node:http server to mount. */
export interface DashboardRoutes {
  /**
   * Answers a GET or HEAD of one of the page's paths (its files, /api/state,
   * /api/events, /favicon.ico).
   * @returns true when it answered; false for any other path (the caller answers)
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Ends the event streams and stops listening to the source. Idempotent. */
  close(): void;
}

/** The paths DashboardRoutes answers. */
const FEED_PATHS = ['/api/state', '/api/events', '/favicon.ico'] as const;

/** @returns whether `path` (without its query) is one of the page's paths */
export function isDashboardPath(path: string): boolean {
  return Object.hasOwn(DASHBOARD_FILES, path) || (FEED_PATHS as readonly string[]).includes(path);
}

/**
 * Reads the page's files and subscribes to the source: the routes
 * startDashboardServer serves, and `raftline serve` on its metrics server
 * (metrics.dashboard). Files are read here, so a missing one fails at start
 * rather than on a request.
 * @returns the routes
 * @throws the file system's error when a page file is missing
 */
export function createDashboardRoutes(source: StateSource): DashboardRoutes {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [url, a] of Object.entries(DASHBOARD_FILES))
    files.set(url, { body: readFileSync(a.path), type: a.type });
  const streams = new Set<ServerResponse>();
  let unsubscribe: (() => void) | undefined = source.subscribe((state) => {
    const frame = `data: ${JSON.stringify(state)}\n\n`;
    for (const res of streams) res.write(frame);
  });
  return {
    handle: (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/api/state') {
        send(res, 200, 'application/json', JSON.stringify(source.state()));
        return true;
      }
      if (path === '/api/events') {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        res.write(`retry: 1000\ndata: ${JSON.stringify(source.state())}\n\n`);
        if (!unsubscribe) {
          res.end();
          return true;
        }
        streams.add(res);
        req.once('close', () => streams.delete(res));
        return true;
      }
      if (path === '/favicon.ico') {
        res.writeHead(204).end();
        return true;
      }
      const file = files.get(path);
      if (!file) return false;
      send(res, 200, file.type, file.body);
      return true;
    },
    close: () => {
      unsubscribe?.();
      unsubscribe = undefined;
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}

/**
 * Starts the dashboard's HTTP server: the routes, and /healthz.
 * @returns once it listens
 * @throws the file system's error when a page file is missing; the listen error (EADDRINUSE, …)
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const routes = createDashboardRoutes(options.source);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (routes.handle(req, res)) return;
    if ((req.url ?? '/').split('?')[0] === '/healthz') {
      send(res, 200, 'application/json', '{"status":"ok"}');
      return;
    }
    send(res, 404, 'text/plain', 'not found\n');
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        routes.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
