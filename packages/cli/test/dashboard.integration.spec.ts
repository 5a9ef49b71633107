import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import { startDashboard, type Dashboard } from '../src/dashboard/command';
import type { DashboardState } from '../src/dashboard/model';
import {
  BIN,
  deleteStreams,
  dropSchema,
  eventually,
  KV,
  NATS_URL,
  PG_URL,
  runCli,
  startServe,
  tempDir,
  unique,
  writeFile,
  type ServeProcess,
} from './support/cli';

// `raftline dashboard` end to end: three `raftline serve` processes over the
// machine's NATS and PostgreSQL, the dashboard process, and Debian's
// Chromium driven by playwright-core reading the page while the leader's
// process is killed. Then the feature-flags and coordinator panels, read
// from real replicas of those services.

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The README's picture is refreshed with RAFTLINE_SCREENSHOT=bench/results/dashboard.png; a plain run keeps its own under test-output/.
const SCREENSHOT = process.env.RAFTLINE_SCREENSHOT
  ? join(__dirname, '../../..', process.env.RAFTLINE_SCREENSHOT)
  : join(__dirname, '../../../test-output/dashboard.png');
const ids = ['n1', 'n2', 'n3'] as const;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `dashboard.integration.spec.ts skipped: ${CHROMIUM} not found. Install Debian's chromium (apt-get install chromium); .ci/run does.`,
  );
}
const describeWithChromium = haveChromium ? describe : describe.skip;

/** A running `raftline dashboard` process and the address it printed. */
async function startDashboardProcess(
  args: string[],
): Promise<{ proc: ChildProcess; url: string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [BIN, 'dashboard', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address printed within 60 s: ${stderr}`)), 60_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /^raftline dashboard: (http:\/\/\S+) /.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`raftline dashboard exited (${code}): ${stderr}`)));
  });
  return { proc, url, exited };
}

/** The leader a group's section names, and each replica's row state (data-role), as the page shows them now. */
async function pageView(
  page: Page,
  group: string,
): Promise<{ leader: string; roles: Record<string, string> }> {
  const section = page.locator(`section[data-group="${group}"]`);
  const leader = (await section.locator('[data-field="leader"]').textContent({ timeout: 5000 })) ?? '';
  const roles: Record<string, string> = {};
  for (const row of await section.locator('tr[data-node]').all()) {
    const node = await row.getAttribute('data-node', { timeout: 5000 });
    if (node) roles[node] = (await row.getAttribute('data-role', { timeout: 5000 })) ?? '';
  }
  return { leader, roles };
}

/** Polls the page until its view of the group satisfies ok. */
function pageShows(
  page: Page,
  group: string,
  what: string,
  ok: (v: { leader: string; roles: Record<string, string> }) => boolean,
  timeoutMs: number,
): Promise<{ leader: string; roles: Record<string, string> }> {
  return eventually(
    what,
    async () => {
      const v = await pageView(page, group);
      return ok(v) ? v : undefined;
    },
    timeoutMs,
  );
}

describeWithChromium('raftline dashboard - a live page of a 3-replica cluster, in headless Chromium', () => {
  const cluster = unique('dash');
  const schema = unique('rl_dash_');
  const tmp = tempDir('dashboard');
  const configs: Record<string, string> = {};
  const procs = new Map<string, ServeProcess>();
  let dashboard: Awaited<ReturnType<typeof startDashboardProcess>> | undefined;
  let browser: Browser | undefined;
  const cli = (...args: string[]) => runCli([...args, '-c', configs.n1!]);

  beforeAll(async () => {
    for (const id of ids) {
      configs[id] = writeFile(
        tmp.dir,
        `${id}.yaml`,
        [
          `node: ${id}`,
          `cluster: ${cluster}`,
          `nats: { servers: [${NATS_URL}] }`,
          'store:',
          `  postgres: ${PG_URL}`,
          `  schema: ${schema}`,
          '  poolSize: 2',
          'metrics: { port: 0 }',
          'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
          'groups:',
          `  kv: { machine: ${KV}, voters: [n1, n2, n3] }`,
          '  jobs: { machine: task-queue, voters: [n1, n2, n3] }',
          '',
        ].join('\n'),
      );
    }
    for (const id of ids) procs.set(id, startServe(['-c', configs[id]!]));
    await Promise.all([...procs.values()].map((p) => p.waitForLog('raftline serve ready', 90_000)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (dashboard && dashboard.proc.exitCode === null) dashboard.proc.kill('SIGKILL');
    await Promise.all([...procs.values()].map((p) => p.kill9()));
    await deleteStreams(cluster, ['kv', 'jobs']);
    await dropSchema(schema);
    tmp.remove();
  });

  it('shows the leader; after kill -9 of its process, the new leader and the old one unreachable', async () => {
    for (const n of [1, 2, 3]) {
      const r = await cli('call', 'enqueue', `["emails", {"to": "user${n}@example.com"}]`, '--group', 'jobs');
      expect([n, r.code, r.stderr]).toEqual([n, 0, '']);
    }
    dashboard = await startDashboardProcess(['-c', configs.n1!, '--port', '0', '--interval', '500']);
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(dashboard.url);

    const bench = await cli(
      'bench',
      'put',
      '["k{n}", "v{n}"]',
      '--group',
      'kv',
      '--count',
      '300',
      '--concurrency',
      '4',
    );
    expect(bench.code).toBe(0);

    // The page names the leader that the admin API reports, and marks its row.
    const before = await pageShows(
      page,
      'kv',
      'the page to show a leader',
      (v) => /^n[123]$/.test(v.leader) && v.roles[v.leader] === 'leader',
      30_000,
    );
    const status = JSON.parse((await cli('status', '--json', '--group', 'kv')).stdout) as {
      leaderId: string;
    };
    expect(before.leader).toBe(status.leaderId);
    expect(Object.keys(before.roles).sort()).toEqual([...ids]);
    await page.locator('section[data-group="kv"] .events li[data-kind="leader"]').first().waitFor();

    // The task queue's panel: found by its queries, with the three jobs ready.
    const emails = page.locator('section[data-group="jobs"] .panel[data-service="task-queue"] tbody tr', {
      hasText: 'emails',
    });
    await emails.waitFor({ timeout: 30_000 });
    expect((await emails.locator('td').allTextContents()).slice(0, 2)).toEqual(['emails', '3']);

    const old = before.leader;
    await procs.get(old)!.kill9();

    const after = await pageShows(
      page,
      'kv',
      `the page to show a new leader and ${old} unreachable`,
      (v) =>
        /^n[123]$/.test(v.leader) &&
        v.leader !== old &&
        v.roles[v.leader] === 'leader' &&
        v.roles[old] === 'unreachable',
      45_000,
    );
    expect(after.leader).not.toBe(old);
    expect(after.roles[old]).toBe('unreachable');
    expect(after.roles[after.leader]).toBe('leader');
    const events = await page.locator('section[data-group="kv"] .events li').allTextContents();
    expect(events.some((e) => e.includes(`${after.leader} leads in term`) && e.includes(`(was `))).toBe(true);
    expect(events.some((e) => e.includes(`${old} unreachable`))).toBe(true);

    // Commands go on under the new leader; the page keeps up (a few samples
    // more, so the screenshot shows the failover in the charts).
    const surviving = ids.find((id) => id !== old)!;
    for (const n of [1, 2, 3]) {
      const r = await runCli([
        'call',
        'put',
        `["after${n}", "x"]`,
        '-c',
        configs[surviving]!,
        '--group',
        'kv',
      ]);
      expect(r.code).toBe(0);
    }
    await page.waitForTimeout(3000);
    expect(await page.locator('#feed').getAttribute('data-state')).toBe('live');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);

    dashboard.proc.kill('SIGTERM');
    expect(await dashboard.exited).toBe(0);
  }, 240_000);
});

describe('raftline dashboard - the feature-flags and coordinator panels, from real replicas', () => {
  const cluster = unique('dashsvc');
  const tmp = tempDir('dashboard-services');
  let serve: ServeProcess | undefined;
  let nc: NatsConnection | undefined;
  let dash: Dashboard | undefined;

  afterAll(async () => {
    await dash?.close();
    await nc?.close();
    await serve?.kill9();
    await deleteStreams(cluster, ['flags', 'coord', 'kv']);
    tmp.remove();
  });

  it('discovers the groups; shows each flag per environment and each task with its coordinator and epoch; none for a machine of its own', async () => {
    const config = writeFile(
      tmp.dir,
      'n1.yaml',
      [
        'node: n1',
        `cluster: ${cluster}`,
        `nats: { servers: [${NATS_URL}] }`,
        'store: memory',
        'metrics: { port: 0 }',
        'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
        'groups:',
        '  flags: { machine: feature-flags, voters: [n1], mirror: false }',
        '  coord: { machine: coordinator, voters: [n1], mirror: false }',
        `  kv: { machine: ${KV}, voters: [n1], mirror: false }`,
        '',
      ].join('\n'),
    );
    serve = startServe(['-c', config]);
    await serve.waitForLog('raftline serve ready', 90_000);
    const call = async (group: string, name: string, args: unknown[]) => {
      const r = await eventually(`${group} ${name}`, async () => {
        const out = await runCli(['call', name, JSON.stringify(args), '-c', config, '--group', group]);
        return out.code === 0 ? out : undefined;
      });
      return JSON.parse(r.stdout) as unknown;
    };
    const boolFlag = {
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      enabled: true,
    };
    await call('flags', 'setFlag', ['prod', 'new-checkout', boolFlag, { author: 'test' }]);
    await call('flags', 'setFlag', [
      'staging',
      'new-checkout',
      { ...boolFlag, defaultVariant: 'on' },
      { author: 'test' },
    ]);
    await call('coord', 'register', ['agent-a']);
    await call('coord', 'createTask', ['deploy', { leaseMs: 600_000 }]);
    await call('coord', 'campaign', ['deploy', 'agent-a']);

    nc = await connectNats({ servers: NATS_URL });
    dash = await startDashboard({ connection: nc, cluster, groups: [], port: 0, intervalMs: 300 });
    const state = await eventually(
      'the three groups with their panels',
      async () => {
        const s = (await (await fetch(new URL('/api/state', dash!.url))).json()) as DashboardState;
        const by = Object.fromEntries(s.groups.map((g) => [g.group, g]));
        return by.flags?.service?.flags?.length === 2 &&
          by.coord?.service?.tasks?.length === 1 &&
          by.kv?.leaderId
          ? by
          : undefined;
      },
      60_000,
    );
    expect(Object.keys(state).sort()).toEqual(['coord', 'flags', 'kv']);
    expect(state.flags!.service).toMatchObject({
      service: 'feature-flags',
      environments: ['prod', 'staging'],
      flags: [
        {
          environment: 'prod',
          key: 'new-checkout',
          enabled: true,
          defaultVariant: 'off',
          defaultValue: 'false',
        },
        {
          environment: 'staging',
          key: 'new-checkout',
          enabled: true,
          defaultVariant: 'on',
          defaultValue: 'true',
        },
      ],
    });
    const [deploy] = state.coord!.service!.tasks!;
    expect(deploy).toMatchObject({ task: 'deploy', status: 'held', holder: 'agent-a', epoch: 1 });
    expect(deploy!.leaseLeftMs).toBeGreaterThan(0);
    expect(state.kv!.service).toBeUndefined();
    expect(state.kv!.replicas.map((r) => [r.node, r.role])).toEqual([['n1', 'leader']]);
  }, 150_000);
});
