import { silentLogger } from '@raftline/core';
import {
  loadServeConfig,
  ServeMetrics,
  startHealthServer,
  type DashboardState,
  type HealthServer,
  type ServeSources,
  type StateSource,
} from '../src/index';
import { createDashboardRoutes, type DashboardRoutes } from '../src/dashboard/server';
import { KV, problemsOf } from './support/cli';

// metrics.dashboard: `raftline serve` serving the dashboard page on its
// metrics server. The setting, and the metrics server with and without the
// page (a fixed state source stands in for the collector; the integration
// spec runs the real one).

describe('serve configuration - metrics.dashboard', () => {
  const load = (over: Partial<ServeSources>) =>
    loadServeConfig({
      env: {},
      cwd: process.cwd(),
      ...over,
      flags: { node: 'n1', store: 'memory', machine: KV, voters: 'n1', group: 'kv', ...over.flags },
    });

  it('is off by default; on from RAFTLINE_DASHBOARD or --dashboard', () => {
    expect(load({}).metrics.dashboard).toBe(false);
    expect(load({ env: { RAFTLINE_DASHBOARD: 'true' } }).metrics.dashboard).toBe(true);
    expect(load({ env: { RAFTLINE_DASHBOARD: '0' } }).metrics.dashboard).toBe(false);
    expect(load({ flags: { 'metrics.dashboard': true } }).metrics.dashboard).toBe(true);
  });

  it('is refused without the metrics server, naming both settings, and a non-boolean is refused', () => {
    expect(
      problemsOf(() =>
        load({ env: { RAFTLINE_METRICS_ENABLED: 'false' }, flags: { 'metrics.dashboard': true } }),
      ),
    ).toEqual([
      'metrics.dashboard (true, from --dashboard) needs metrics.enabled (false): the page is served by the metrics server',
    ]);
    expect(problemsOf(() => load({ env: { RAFTLINE_DASHBOARD: 'maybe' } }))).toEqual([
      'metrics.dashboard (maybe, from RAFTLINE_DASHBOARD) must be true or false',
    ]);
  });
});

const STATE: DashboardState = {
  cluster: 'c1',
  intervalMs: 1000,
  historyPoints: 300,
  startedAt: 1,
  now: 2,
  groups: [],
};

/** A source that always holds STATE, and pushes it when told. */
function fixedSource(): StateSource & { push(): void; listeners: number } {
  const fns = new Set<(s: DashboardState) => void>();
  return {
    state: () => STATE,
    subscribe: (fn) => {
      fns.add(fn);
      return () => fns.delete(fn);
    },
    push: () => fns.forEach((fn) => fn(STATE)),
    get listeners() {
      return fns.size;
    },
  };
}

describe('the metrics server - the dashboard page at / when metrics.dashboard is on', () => {
  const servers: HealthServer[] = [];
  const start = async (dashboard?: () => DashboardRoutes | undefined) => {
    const server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new ServeMetrics({ processMetrics: false }),
      readiness: () => ({}),
      logger: silentLogger,
      ...(dashboard ? { dashboard } : {}),
    });
    servers.push(server);
    return (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${server.port}${path}`, init);
  };
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it('serves the page, its files and its feed beside /metrics and /readyz', async () => {
    const source = fixedSource();
    const routes = createDashboardRoutes(source);
    const get = await start(() => routes);
    const page = await get('/');
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<script src="/dashboard.js"></script>');
    expect((await get('/vendor/uPlot.iife.min.js')).status).toBe(200);
    expect(await (await get('/api/state')).json()).toEqual(STATE);
    expect((await get('/metrics')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/api/state', { method: 'POST' })).status).toBe(405);
    const missing = await get('/nope');
    expect([missing.status, await missing.text()]).toEqual([
      404,
      'not found: try /, /metrics, /healthz or /readyz\n',
    ]);

    // The event stream: the state at once, then after every refresh; close() ends it.
    const events = await get('/api/events');
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const reader = events.body!.getReader();
    const frames: string[] = [];
    const read = async () => {
      const { value } = await reader.read();
      frames.push(new TextDecoder().decode(value));
    };
    await read();
    source.push();
    await read();
    expect(frames.join('')).toBe(
      `retry: 1000\ndata: ${JSON.stringify(STATE)}\n\ndata: ${JSON.stringify(STATE)}\n\n`,
    );
    routes.close();
    expect(await reader.read()).toMatchObject({ done: true });
    expect(source.listeners).toBe(0);
  });

  it('answers 503 on the page paths until the routes exist (NATS not connected yet)', async () => {
    const get = await start(() => undefined);
    const page = await get('/');
    expect([page.status, await page.text()]).toEqual([503, 'the dashboard starts once NATS is connected\n']);
    expect((await get('/api/state')).status).toBe(503);
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('off: / and the feed are 404, as without a page', async () => {
    const get = await start();
    for (const path of ['/', '/api/state', '/dashboard.js']) {
      const res = await get(path);
      expect([path, res.status, await res.text()]).toEqual([
        path,
        404,
        'not found: try /metrics, /healthz or /readyz\n',
      ]);
    }
  });
});
