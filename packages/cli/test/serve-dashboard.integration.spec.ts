import {
  eventually,
  freePort,
  KV,
  startServe,
  tempDir,
  unique,
  writeServeConfig,
  type ServeProcess,
} from './support/cli';

// Three `raftline serve` processes of one group (in-memory stores, the
// machine's NATS, no JetStream mirror): n1 turns the dashboard on in its file, n2 with --dashboard,
// n3 leaves it off. The page and its feed come from each one's metrics port.

interface FeedState {
  cluster: string;
  groups: {
    group: string;
    leaderId: string;
    replicas: { node: string; reachable: boolean; role: string }[];
  }[];
}

const ids = ['n1', 'n2', 'n3'] as const;

describe('raftline serve metrics.dashboard - each replica serves the page of its groups, opt-in', () => {
  const cluster = unique('clid');
  const tmp = tempDir('serve-dashboard');
  const ports: Record<string, number> = {};
  const procs = new Map<string, ServeProcess>();
  const url = (id: string, path: string) => `http://127.0.0.1:${ports[id]}${path}`;

  beforeAll(async () => {
    for (const id of ids) {
      ports[id] = await freePort();
      const config = writeServeConfig(tmp.dir, id, cluster, [
        'store: memory',
        `metrics: { port: ${ports[id]}${id === 'n1' ? ', dashboard: true' : ''} }`,
        'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
        'groups:',
        `  kv: { machine: ${KV}, voters: [n1, n2, n3], mirror: false }`,
      ]);
      procs.set(id, startServe(['-c', config, ...(id === 'n2' ? ['--dashboard'] : [])]));
    }
    await Promise.all([...procs.values()].map((p) => p.waitForLog('raftline serve ready', 60_000)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.kill9()));
    tmp.remove();
  });

  it('logs the page address where it is on, and not where it is off', () => {
    const ready = (id: string) => procs.get(id)!.logs.find((l) => l.msg === 'raftline serve ready')!;
    expect(ready('n1').dashboard).toBe(url('n1', '/'));
    expect(ready('n2').dashboard).toBe(url('n2', '/'));
    expect(ready('n3')).not.toHaveProperty('dashboard');
  });

  it('on: GET / is the page, with its scripts and uPlot', async () => {
    for (const id of ['n1', 'n2']) {
      const page = await fetch(url(id, '/'));
      expect([id, page.status, page.headers.get('content-type')]).toEqual([
        id,
        200,
        'text/html; charset=utf-8',
      ]);
      const html = await page.text();
      const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
      expect(scripts).toContain('/dashboard.js');
      for (const src of scripts) {
        const res = await fetch(url(id, src));
        expect([src, res.status, res.headers.get('content-type')]).toEqual([
          src,
          200,
          'text/javascript; charset=utf-8',
        ]);
      }
    }
  });

  it("on: /api/state reports the group's three replicas, one leader, every one reachable", async () => {
    for (const id of ['n1', 'n2']) {
      const state = await eventually(`${id}'s dashboard shows the group led`, async () => {
        const s = (await (await fetch(url(id, '/api/state'))).json()) as FeedState;
        const kv = s.groups.find((g) => g.group === 'kv');
        const leaders = kv?.replicas.filter((r) => r.role === 'leader') ?? [];
        return kv?.leaderId && leaders.length === 1 && kv.replicas.every((r) => r.reachable) ? s : undefined;
      });
      expect(state.cluster).toBe(cluster);
      expect(state.groups.map((g) => g.group)).toEqual(['kv']);
      const kv = state.groups[0]!;
      expect(kv.replicas.map((r) => r.node).sort()).toEqual([...ids]);
      expect(kv.replicas.find((r) => r.role === 'leader')!.node).toBe(kv.leaderId);
    }
  }, 45_000);

  it('on: /api/events streams the state as Server-Sent Events', async () => {
    const res = await fetch(url('n1', '/api/events'));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!/data: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const first = JSON.parse(/data: (.*)\n\n/.exec(text)![1]!) as FeedState;
    expect(first.cluster).toBe(cluster);
    expect(first.groups.map((g) => g.group)).toEqual(['kv']);
  });

  it('off: / and the feed are 404; metrics and health are served as before', async () => {
    for (const path of ['/', '/api/state', '/dashboard.js']) {
      expect([path, (await fetch(url('n3', path))).status]).toEqual([path, 404]);
    }
    expect((await fetch(url('n3', '/metrics'))).status).toBe(200);
    expect((await fetch(url('n1', '/metrics'))).status).toBe(200);
    expect((await fetch(url('n1', '/healthz'))).status).toBe(200);
  });

  it('SIGTERM with a page open: the stream ends and the process exits 0', async () => {
    const res = await fetch(url('n2', '/api/events'));
    const reader = res.body!.getReader();
    await reader.read();
    const code = procs.get('n2')!.terminate();
    for (let r = await reader.read().catch(() => ({ done: true })); !r.done;) {
      r = await reader.read().catch(() => ({ done: true }));
    }
    expect(await code).toBe(0);
  }, 30_000);
});
