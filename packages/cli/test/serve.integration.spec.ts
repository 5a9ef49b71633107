import { METRIC_NAMES, METRICS } from '../src/index';
import {
  deleteStreams,
  dropSchema,
  eventually,
  freePort,
  KV,
  NATS_URL,
  parseMetrics,
  PG_URL,
  runCli,
  startServe,
  tempDir,
  unique,
  writeFile,
  type ServeProcess,
} from './support/cli';

// Three `raftline serve` processes from config files, over the machine's NATS
// and PostgreSQL (one schema of this run), driven by the `raftline` commands.

const ids = ['n1', 'n2', 'n3'] as const;

describe('raftline serve ×3 and the commands - a replicated group run and operated from the command line', () => {
  const cluster = unique('cli');
  const schema = unique('rl_cli_');
  const tmp = tempDir('serve');
  const ports: Record<string, number> = {};
  const configs: Record<string, string> = {};
  const procs = new Map<string, ServeProcess>();
  const cli = (...args: string[]) => runCli([...args, '-c', configs.n1!]);
  const status = async () => {
    const r = await cli('status', '--json');
    if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as {
      leaderId: string;
      replicas: { node: string; reachable: boolean; status?: { role: string } }[];
    };
  };
  const leaderOf = (s: Awaited<ReturnType<typeof status>>) =>
    s.leaderId && s.replicas.find((r) => r.node === s.leaderId)?.status?.role === 'leader'
      ? s.leaderId
      : undefined;

  beforeAll(async () => {
    for (const id of ids) {
      ports[id] = await freePort();
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
          `metrics: { port: ${ports[id]} }`,
          'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
          'groups:',
          '  kv:',
          `    machine: ${KV}`,
          '    voters: [n1, n2, n3]',
          '',
        ].join('\n'),
      );
    }
    for (const id of ids) procs.set(id, startServe(['-c', configs[id]!]));
    await Promise.all([...procs.values()].map((p) => p.waitForLog('raftline serve ready', 60_000)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.kill9()));
    await deleteStreams(cluster, ['kv']);
    await dropSchema(schema);
    tmp.remove();
  });

  it('status --json shows one leader; call and query round-trip; tail lists the commands; verify agrees', async () => {
    const first = await eventually('a leader', async () => leaderOf(await status()));
    expect(ids).toContain(first);

    const put = await cli('call', 'put', '["color","blue"]');
    expect(put).toMatchObject({ code: 0, stdout: 'null\n' });
    const again = await cli('call', 'put', '["color","green"]', '-w', 'json');
    expect(JSON.parse(again.stdout)).toMatchObject({ value: 'blue' });
    const read = await cli(
      'query',
      'get',
      '"color"',
      '--consistency',
      'linearizable',
      '--replica',
      'n2',
      '--json',
    );
    expect(JSON.parse(read.stdout)).toMatchObject({ value: 'green', replica: 'n2' });

    const failed = await cli('call', 'fail', '"boom"');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(
      'raftline call: CommandFailedError: command fail failed while applying: boom\n',
    );

    const tail = await eventually('the mirrored commands', async () => {
      const r = await cli('tail', '--all', '-w', 'json');
      const lines = r.stdout.trim().split('\n').filter(Boolean);
      return lines.length >= 3
        ? lines.map((l) => JSON.parse(l) as { name: string; args: unknown[] })
        : undefined;
    });
    expect(tail.map((r) => [r.name, r.args])).toEqual([
      ['put', ['color', 'blue']],
      ['put', ['color', 'green']],
      ['fail', ['boom']],
    ]);

    const verify = await cli('verify');
    expect(verify).toMatchObject({ code: 0 });
    expect(verify.stdout).toContain('all 3 replicas agree');
    expect(verify.stdout.match(/\| yes/g)).toHaveLength(3);
  }, 60_000);

  it('transfer moves leadership to the voter named, and members add-learner then remove change the membership', async () => {
    const before = await eventually('a leader', async () => leaderOf(await status()));
    const to = ids.find((id) => id !== before)!;
    const moved = await cli('transfer', to);
    expect(moved).toMatchObject({ code: 0, stdout: `leadership moved to ${to}\n` });
    expect(
      await eventually(`${to} leading`, async () => ((await status()).leaderId === to ? to : undefined)),
    ).toBe(to);
    expect((await cli('transfer', to)).stdout).toBe(`${to} already leads: nothing changed\n`);

    expect(await cli('members', 'add-learner', 'n4')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('n4 added as a learner'),
    });
    const listed = await cli('members', 'list', '--json');
    expect(JSON.parse(listed.stdout).members.learners).toEqual(['n4']);
    expect(await cli('members', 'remove', 'n4')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('n4 removed'),
    });
    expect(await cli('members', 'remove', 'n4')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('n4 is not a member: nothing changed'),
    });
  }, 60_000);

  it('every replica serves /metrics with every documented name, and /readyz says 200 on a ready replica', async () => {
    const bench = await cli('bench', 'put', '["k{n}","v"]', '--count', '40', '--concurrency', '4', '--json');
    expect(bench).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(bench.stdout)).toMatchObject({ ok: 40, errors: {} });
    for (const id of ids) {
      const res = await fetch(`http://127.0.0.1:${ports[id]}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      const samples = parseMetrics(text);
      const types = [...text.matchAll(/^# TYPE (raftline_\w+) (\w+)$/gm)].map((m) => [m[1], m[2]]).sort();
      expect(types).toEqual(METRIC_NAMES.map((name) => [name, METRICS[name].type]));
      const term = samples.find((s) => s.name === 'raftline_term' && s.labels.node === id);
      expect(term?.labels.group).toBe('kv');
      expect(term?.value).toBeGreaterThan(0);
      const ready = await eventually(`${id} ready`, async () => {
        const r = await fetch(`http://127.0.0.1:${ports[id]}/readyz`);
        return r.status === 200 ? ((await r.json()) as { ready: boolean }) : undefined;
      });
      expect(ready.ready).toBe(true);
      expect((await fetch(`http://127.0.0.1:${ports[id]}/healthz`)).status).toBe(200);
    }
    const leader = (await status()).leaderId;
    const text = await (await fetch(`http://127.0.0.1:${ports[leader]}/metrics`)).text();
    const lag = parseMetrics(text).filter((s) => s.name === 'raftline_follower_match_lag_entries');
    expect(lag.map((s) => s.labels.node).sort()).toEqual(ids.filter((id) => id !== leader));
    const proposals = parseMetrics(text).find((s) => s.name === 'raftline_proposals_total');
    expect(proposals?.value).toBeGreaterThanOrEqual(40);
    const snap = await cli('snapshot');
    expect(snap).toMatchObject({ code: 0 });
    const snapped = parseMetrics(await (await fetch(`http://127.0.0.1:${ports[leader]}/metrics`)).text());
    expect(snapped.find((s) => s.name === 'raftline_snapshots_total')?.value).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('after the leader process is killed with SIGKILL, status shows a new leader, and SIGTERM stops a replica cleanly (exit 0)', async () => {
    const old = await eventually('a leader', async () => leaderOf(await status()));
    await procs.get(old)!.kill9();
    const next = await eventually(
      'a new leader',
      async () => {
        const s = await status();
        const l = leaderOf(s);
        return l && l !== old ? { l, s } : undefined;
      },
      30_000,
    );
    expect(next.l).not.toBe(old);
    expect(next.s.replicas.find((r) => r.node === old)?.reachable).toBe(false);
    const table = await cli('status');
    expect(table.stdout).toMatch(new RegExp(`\\| ${old} +\\| unreachable`));
    expect(table.stdout).toMatch(new RegExp(`\\| ${next.l} +\\| leader `));

    const survivor = procs.get(ids.find((id) => id !== old && id !== next.l)!)!;
    expect(await survivor.terminate()).toBe(0);
    expect(survivor.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'replica stopped', 'raftline serve stopped']),
    );
    expect(survivor.stderr()).toBe('');
  }, 60_000);
});
