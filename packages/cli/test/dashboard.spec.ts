import type { GroupStatus, ReplicaReport, ReplicaStatus } from '@raftline/transport-nats';
import { GroupTracker, STALE_FAILURES, type DashboardState } from '../src/dashboard/model';
import { startDashboardServer, type StateSource } from '../src/dashboard/server';
import { runCli } from './support/cli';

// The dashboard's pure parts: what a series of status answers becomes
// (rows, rates, leader changes, reachability), and its HTTP server's routes
// and event stream against a state source of the test's.

const members = { voters: ['n1', 'n2', 'n3'], outgoing: [], learners: [], joint: false };

function replica(id: string, over: Partial<ReplicaStatus> = {}): ReplicaReport {
  const status: ReplicaStatus = {
    id,
    role: 'follower',
    term: 1,
    leaderId: 'n1',
    commitIndex: 10,
    appliedIndex: 10,
    lastIndex: 10,
    snapshotIndex: 0,
    members,
    drops: { node: 0 },
    uptimeMs: 1000,
    version: '0.1.0',
    ...over,
  };
  return { node: id, reachable: true, status, lag: { entries: 0, ms: 0 } };
}

function down(id: string, reason = 'no answer within 1000 ms'): ReplicaReport {
  return { node: id, reachable: false, reason };
}

function group(leaderId: string, term: number, replicas: ReplicaReport[]): GroupStatus {
  return { cluster: 'c', group: 'kv', leaderId, term, members, replicas };
}

describe('dashboard model - what successive status answers show', () => {
  it('rates are entries per second between samples; the first sample has none', () => {
    const t = new GroupTracker('kv', 10);
    t.record(1000, group('n1', 1, [replica('n1', { role: 'leader' }), replica('n2'), replica('n3')]));
    t.record(
      3000,
      group('n1', 1, [
        replica('n1', { role: 'leader', commitIndex: 30, appliedIndex: 30 }),
        replica('n2', { commitIndex: 30, appliedIndex: 20 }),
        replica('n3', { commitIndex: 26, appliedIndex: 26 }),
      ]),
      { n1: 2.5, n2: 3, n3: null },
    );
    const [first, second] = t.view().samples;
    expect(first).toMatchObject({ committedPerSec: null, appliedPerSec: { n1: null, n2: null, n3: null } });
    expect(second).toEqual({
      t: 3000,
      committedPerSec: 10,
      appliedPerSec: { n1: 10, n2: 5, n3: 8 },
      adminMs: { n1: 2.5, n2: 3, n3: null },
      readMs: null,
    });
  });

  it('a commit index lower than one seen before (only a lagging replica answers) counts as no progress, not negative', () => {
    const t = new GroupTracker('kv', 10);
    t.record(0, group('n1', 1, [replica('n1', { commitIndex: 50 }), replica('n2', { commitIndex: 40 })]));
    t.record(1000, group('n1', 1, [down('n1'), replica('n2', { commitIndex: 45 })]));
    t.record(2000, group('n1', 1, [down('n1'), replica('n2', { commitIndex: 60 })]));
    expect(t.view().samples.map((s) => s.committedPerSec)).toEqual([null, 0, 10]);
  });

  it('keeps at most capacity samples, the newest', () => {
    const t = new GroupTracker('kv', 3);
    for (let i = 1; i <= 5; i++) t.record(i * 1000, group('n1', 1, [replica('n1')]));
    expect(t.view().samples.map((s) => s.t)).toEqual([3000, 4000, 5000]);
  });

  it('a read latency goes with the next sample only', () => {
    const t = new GroupTracker('kv', 10);
    t.recordRead(4.5);
    t.record(1000, group('n1', 1, [replica('n1')]));
    t.record(2000, group('n1', 1, [replica('n1')]));
    expect(t.view().samples.map((s) => s.readMs)).toEqual([4.5, null]);
  });

  it('records the first leader, each change of leader or term, and a time without a leader', () => {
    const t = new GroupTracker('kv', 10);
    t.record(1000, group('', 0, [replica('n1', { leaderId: '' })]));
    t.record(2000, group('n1', 1, [replica('n1', { role: 'leader' })]));
    t.record(3000, group('n1', 1, [replica('n1', { role: 'leader' })]));
    t.record(4000, group('', 2, [down('n1'), replica('n2', { role: 'candidate', leaderId: '' })]));
    t.record(5000, group('n2', 2, [down('n1'), replica('n2', { role: 'leader', leaderId: 'n2' })]));
    t.record(6000, group('n2', 3, [down('n1'), replica('n2', { role: 'leader', leaderId: 'n2' })]));
    expect(t.view().leaderChanges).toEqual([
      { at: 2000, term: 1, leaderId: 'n1', previous: '' },
      { at: 4000, term: 2, leaderId: '', previous: 'n1' },
      { at: 5000, term: 2, leaderId: 'n2', previous: '' },
      { at: 6000, term: 3, leaderId: 'n2', previous: 'n2' },
    ]);
  });

  it('a killed leader still named by the followers shows as the leader, not answering; its row says why', () => {
    const t = new GroupTracker('kv', 10);
    t.record(1000, group('n1', 1, [replica('n1', { role: 'leader' }), replica('n2')]));
    t.record(2000, group('n1', 1, [down('n1', 'no answer within 1000 ms'), replica('n2')]));
    const v = t.view();
    expect(v).toMatchObject({ leaderId: 'n1', leaderReachable: false, term: 1 });
    expect(v.replicas[0]).toEqual({
      node: 'n1',
      reachable: false,
      role: 'unreachable',
      membership: 'voter',
      store: '-',
      reason: 'no answer within 1000 ms',
    });
    expect(v.reachability).toEqual([
      { at: 2000, node: 'n1', reachable: false, reason: 'no answer within 1000 ms' },
    ]);
    t.record(3000, group('n2', 2, [replica('n1', { leaderId: 'n2' }), replica('n2', { role: 'leader' })]));
    expect(t.view().reachability.at(-1)).toEqual({ at: 3000, node: 'n1', reachable: true });
  });

  it('rows carry the store health, the lag and the membership the leader reports', () => {
    const t = new GroupTracker('kv', 10);
    const lagging = {
      ...replica('n2', { storageError: 'connection refused' }),
      lag: { entries: 7, ms: 1200, msAtLeast: true },
    } as ReplicaReport;
    const learner = replica('n4', { members: { ...members, learners: ['n4'] } });
    t.record(1000, {
      ...group('n1', 1, [replica('n1', { role: 'leader' }), lagging, learner]),
      members: { ...members, learners: ['n4'] },
    });
    const [n1, n2, n4] = t.view().replicas;
    expect(n1).toMatchObject({ role: 'leader', store: 'ok', membership: 'voter', lagEntries: 0 });
    expect(n2).toMatchObject({
      store: 'failing',
      storageError: 'connection refused',
      lagEntries: 7,
      lagMs: 1200,
      lagMsAtLeast: true,
    });
    expect(n4).toMatchObject({ membership: 'learner' });
  });

  it('when no replica answers, the rows stay as last seen for a refresh or two, then every replica turns unreachable', () => {
    const t = new GroupTracker('kv', 10);
    t.record(1000, group('n1', 1, [replica('n1', { role: 'leader' }), replica('n2')]));
    const error = 'AdminUnavailableError: no replica answered';
    for (let i = 1; i < STALE_FAILURES; i++) t.recordFailure(1000 + i * 1000, error);
    let v = t.view();
    expect(v).toMatchObject({ error, updatedAt: 1000, leaderId: 'n1' });
    expect(v.replicas.map((r) => r.role)).toEqual(['leader', 'follower']);
    expect(v.reachability).toEqual([]);
    expect(v.samples.at(-1)).toMatchObject({ committedPerSec: null, adminMs: {} });

    t.recordFailure(1000 + STALE_FAILURES * 1000, error);
    v = t.view();
    expect(v.error).toBe(error);
    expect(v.replicas.map((r) => [r.node, r.role])).toEqual([
      ['n1', 'unreachable'],
      ['n2', 'unreachable'],
    ]);
    t.record(9000, group('n1', 1, [replica('n1', { role: 'leader' }), replica('n2')]));
    expect(t.view().error).toBeUndefined();
    t.recordFailure(10_000, error);
    expect(t.view().replicas.map((r) => r.role)).toEqual(['leader', 'follower']);
  });
});

describe('dashboard server - the page, its files and the feed', () => {
  const state = (n: number): DashboardState => ({
    cluster: 'c',
    intervalMs: 1000,
    historyPoints: 10,
    startedAt: 0,
    now: n,
    groups: [],
  });
  let listener: ((s: DashboardState) => void) | undefined;
  let current = state(1);
  const source: StateSource = {
    state: () => current,
    subscribe: (fn) => {
      listener = fn;
      return () => (listener = undefined);
    },
  };

  it('serves the page, its script, uPlot and the state; refuses other methods and paths', async () => {
    const server = await startDashboardServer({ port: 0, source });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
      const page = await fetch(server.url);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await page.text();
      const files = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
      expect(files).toEqual([
        '/vendor/uPlot.min.css',
        '/dashboard.css',
        '/vendor/uPlot.iife.min.js',
        '/common.js',
        '/charts.js',
        '/panels.js',
        '/dashboard.js',
      ]);
      for (const file of files) {
        const r = await fetch(new URL(file, server.url));
        expect([file, r.status]).toEqual([file, 200]);
        expect((await r.text()).length).toBeGreaterThan(500);
      }
      const uplot = await (await fetch(new URL('/vendor/uPlot.iife.min.js', server.url))).text();
      expect(uplot).toMatch(/var uPlot\s*=/);
      expect(await (await fetch(new URL('/api/state', server.url))).json()).toEqual(current);
      expect((await fetch(new URL('/nope', server.url))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
    expect(listener).toBeUndefined();
  });

  it('the event stream sends the state at once, then after every refresh', async () => {
    const server = await startDashboardServer({ port: 0, source });
    const ac = new AbortController();
    try {
      const res = await fetch(new URL('/api/events', server.url), { signal: ac.signal });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      const frames: DashboardState[] = [];
      let text = '';
      const next = async (): Promise<DashboardState> => {
        while (!text.includes('\n\n')) {
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended');
          text += new TextDecoder().decode(value);
        }
        const [frame, ...rest] = text.split('\n\n');
        text = rest.join('\n\n');
        const data = frame!.split('\n').find((l) => l.startsWith('data: '))!;
        return JSON.parse(data.slice('data: '.length)) as DashboardState;
      };
      frames.push(await next());
      current = state(2);
      listener!(current);
      frames.push(await next());
      expect(frames.map((f) => f.now)).toEqual([1, 2]);
    } finally {
      ac.abort();
      await server.close();
    }
  });

  it('a port in use is refused at start', async () => {
    const first = await startDashboardServer({ port: 0, source });
    try {
      await expect(startDashboardServer({ port: first.port, source })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      await first.close();
    }
  });
});

describe('raftline dashboard - its flags', () => {
  it('--help lists its options', async () => {
    const r = await runCli(['dashboard', '--help'], 80_000);
    expect(r.code).toBe(0);
    for (const flag of [
      '--host <address>',
      '--port <port>',
      '--interval <ms>',
      '--history <points>',
      '--probe <query>',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  }, 90_000);

  it('a bad value exits 2 with one line naming the flag, before connecting to NATS', async () => {
    const cases: [string[], string][] = [
      [['--port', '70000'], 'raftline dashboard: --port (70000) must be an integer from 0 to 65535\n'],
      [['--interval', '50'], 'raftline dashboard: --interval (50) must be at least 100 ms\n'],
      [['--history', 'many'], 'raftline dashboard: --history (many) must be a positive integer\n'],
      [['--probe-args', '[1]'], 'raftline dashboard: --probe-args needs --probe <query>\n'],
    ];
    const results = await Promise.all(
      cases.map(([args]) => runCli(['dashboard', '--nats', '127.0.0.1:1', '--group', 'kv', ...args], 80_000)),
    );
    results.forEach((r, i) => expect([i, r.code, r.stderr]).toEqual([i, 2, cases[i]![1]]));
  }, 90_000);
});
