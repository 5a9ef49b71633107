/**
 * The dashboard's HTTP server (node:http): the page and its script and
 * styles, uPlot's files from node_modules (no bundler), and the feed:
 * `GET /api/state` (the state as JSON) and `GET /api/events` (Server-Sent
 * Events: the state after every refresh).
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

/**
 * Starts the dashboard's HTTP server. Files are read at start, so a missing
 * one fails here rather than on a request.
 * @returns once it listens
 * @throws the file system's error when a page file is missing; the listen error (EADDRINUSE, …)
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [url, a] of Object.entries(DASHBOARD_FILES))
    files.set(url, { body: readFileSync(a.path), type: a.type });
  const streams = new Set<ServerResponse>();
  const unsubscribe = options.source.subscribe((state) => {
    const frame = `data: ${JSON.stringify(state)}\n\n`;
    for (const res of streams) res.write(frame);
  });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/api/state') {
      send(res, 200, 'application/json', JSON.stringify(options.source.state()));
      return;
    }
    if (path === '/api/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(`retry: 1000\ndata: ${JSON.stringify(options.source.state())}\n\n`);
      streams.add(res);
      req.once('close', () => streams.delete(res));
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'application/json', '{"status":"ok"}');
      return;
    }
    const file = files.get(path);
    if (!file) {
      send(res, 404, 'text/plain', 'not found\n');
      return;
    }
    send(res, 200, file.type, file.body);
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
        unsubscribe();
        for (const res of streams) res.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
