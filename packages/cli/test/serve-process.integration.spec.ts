import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  deleteStreams,
  eventually,
  freePort,
  listening,
  KV,
  NATS_URL,
  parseMetrics,
  runCli,
  startServe,
  tempDir,
  unique,
  writeFile,
  writeServeConfig,
  type ServeProcess,
} from './support/cli';

// One `raftline serve` process with two groups on one embedded PGlite, a
// second process joining one of them, and configurations that must be refused.

const BINDINGS = join(__dirname, 'fixtures/bindings.ts');

describe('raftline serve - several groups in one process, joining, and restarts', () => {
  const cluster = unique('clip');
  const tmp = tempDir('groups');
  const running: ServeProcess[] = [];
  const start = (args: string[]) => {
    const p = startServe(args);
    running.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill9()));
    await deleteStreams(cluster, ['a', 'b']);
    tmp.remove();
  });

  it('serves two groups on one embedded store, with a user logger bound for one; a restart finds both states; a second process joins a group as a voter', async () => {
    const port = await freePort();
    const config = writeFile(
      tmp.dir,
      'n1.yaml',
      [
        'node: n1',
        `cluster: ${cluster}`,
        `nats: { servers: [${NATS_URL}] }`,
        'store: ./data/n1',
        `metrics: { port: ${port} }`,
        'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
        'groups:',
        `  a: { machine: ${KV}, voters: [n1] }`,
        `  b: { machine: ${KV}, voters: [n1], mirror: false, bindings: ${BINDINGS} }`,
        '',
      ].join('\n'),
    );
    const cli = (...args: string[]) => runCli([...args, '-c', config]);
    let n1 = start(['-c', config]);
    const ready = await n1.waitForLog('raftline serve ready', 60_000);
    expect(ready).toMatchObject({ groups: ['a', 'b'], store: 'pglite', metricsPort: port });
    const started = n1.logs.filter((l) => l.msg === 'replica started');
    expect(started.map((l) => [l.group, l.boundParts]).sort()).toEqual([
      ['a', []],
      ['b', ['Logger']],
    ]);
    expect(n1.logs.some((l) => l.msg === 'custom info: raft node started' && l.group === 'b')).toBe(true);

    await eventually('both groups lead', async () => {
      const r = await cli('status', '--json');
      const all = r.code === 0 ? (JSON.parse(r.stdout) as { group: string; leaderId: string }[]) : [];
      return all.length === 2 && all.every((g) => g.leaderId === 'n1') ? all : undefined;
    });
    expect(await cli('call', 'put', '["k","in a"]', '--group', 'a')).toMatchObject({ code: 0 });
    expect(await cli('call', 'put', '["k","in b"]', '--group', 'b')).toMatchObject({ code: 0 });
    const table = await cli('status');
    expect(table.stdout).toMatch(/\| +GROUP +\| +NODE +\|/);
    expect(table.stdout).toMatch(/\| a +\| n1 +\| leader /);
    expect(table.stdout).toMatch(/\| b +\| n1 +\| leader /);
    const ambiguous = await cli('call', 'put', '["k","v"]');
    expect(ambiguous).toMatchObject({
      code: 2,
      stderr: 'raftline call: the config has several groups (a, b): pick one with --group\n',
    });
    const samples = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const applied = samples.filter((s) => s.name === 'raftline_applied_index').map((s) => s.labels.group);
    expect(applied.sort()).toEqual(['a', 'b']);

    expect(await n1.terminate()).toBe(0);
    n1 = start(['-c', config]);
    await n1.waitForLog('raftline serve ready', 60_000);
    for (const [group, value] of [
      ['a', 'in a'],
      ['b', 'in b'],
    ]) {
      const read = await eventually(`group ${group} readable after the restart`, async () => {
        const r = await cli('query', 'get', '"k"', '--group', group!);
        return r.code === 0 ? r : undefined;
      });
      expect(JSON.parse(read.stdout)).toBe(value);
    }

    const n2config = writeFile(
      tmp.dir,
      'n2.yaml',
      [
        'node: n2',
        `cluster: ${cluster}`,
        `nats: { servers: [${NATS_URL}] }`,
        'store: ./data/n2',
        'metrics: { port: 0 }',
        'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
        `groups: { a: { machine: ${KV}, join: voter } }`,
        '',
      ].join('\n'),
    );
    const n2 = start(['-c', n2config]);
    await n2.waitForLog('joined the group', 60_000);
    const members = await eventually('n2 a voter of a', async () => {
      const r = await cli('members', 'list', '--group', 'a', '--json');
      const m =
        r.code === 0 ? (JSON.parse(r.stdout) as { members: { voters: string[] } }).members : undefined;
      return m && m.voters.includes('n2') ? m : undefined;
    });
    expect(members.voters.sort()).toEqual(['n1', 'n2']);
    const fromN2 = await cli('query', 'get', '"k"', '--group', 'a', '--replica', 'n2');
    expect(fromN2).toMatchObject({ code: 0, stdout: '"in a"\n' });
    expect(await n2.terminate()).toBe(0);
    expect(await n1.terminate()).toBe(0);
  }, 150_000);
});

describe('raftline serve - a replica that lost what it acknowledged halts and exits 1', () => {
  const cluster = unique('clamn');
  const tmp = tempDir('amnesia');
  const running: ServeProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill9()));
    tmp.remove();
  });

  it('an in-memory replica restarted under a live leader stops with StateLostError, and the other two serve on', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const configs = new Map(
      ids.map((id) => [
        id,
        writeServeConfig(tmp.dir, id, cluster, [
          'store: memory',
          'metrics: { port: 0 }',
          'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
          `groups: { a: { machine: ${KV}, voters: [${ids.join(', ')}], mirror: false } }`,
        ]),
      ]),
    );
    const start = (id: string) => {
      const p = startServe(['-c', configs.get(id)!]);
      running.push(p);
      return p;
    };
    const procs = new Map(ids.map((id) => [id, start(id)]));
    await Promise.all([...procs.values()].map((p) => p.waitForLog('raftline serve ready', 60_000)));
    const cli = (...args: string[]) => runCli([...args, '-c', configs.get('n1')!]);
    const leader = await eventually('a leader', async () => {
      const r = await cli('status', '--json');
      return r.code === 0 ? (JSON.parse(r.stdout) as { leaderId: string }).leaderId || undefined : undefined;
    });
    for (let i = 0; i < 5; i++) expect(await cli('call', 'put', `["k","v${i}"]`)).toMatchObject({ code: 0 });

    const victim = ids.find((id) => id !== leader)!;
    await procs.get(victim)!.kill9();
    const again = start(victim);
    expect(await again.exited).toBe(1);
    const fatal = again.logs.find((l) => l.msg === 'a replica halted: stopping the others and exiting 1');
    expect(fatal).toMatchObject({ group: 'a', err: { type: 'StateLostError' } });
    expect(String((fatal!.err as { message: string }).message)).toMatch(
      new RegExp(`node ${victim} lost log entries it had acknowledged`),
    );

    expect(await cli('call', 'put', '["k","after"]')).toMatchObject({ code: 0 });
    const read = await cli('query', 'get', '"k"');
    expect(JSON.parse(read.stdout)).toBe('after');
    for (const id of ids.filter((i) => i !== victim)) expect(await procs.get(id)!.terminate()).toBe(0);
  }, 120_000);
});

describe('raftline serve - a bad configuration exits 2 with one line that names the field', () => {
  const tmp = tempDir('bad');
  afterAll(() => tmp.remove());

  it('refuses each bad setting of the file, the environment and the flags, naming it and where it came from', async () => {
    const file = (name: string, lines: string[]) => writeFile(tmp.dir, name, `${lines.join('\n')}\n`);
    const base = ['node: n1', 'store: memory'];
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['-c', file('voters.yaml', [...base, 'groups:', `  kv: { machine: ${KV}, voters: [n2, n3] }`])],
        {},
        /groups\.kv\.voters \(n2,n3\) must include this node \(n1\)/,
      ],
      [
        ['-c', file('typo.yaml', [...base, 'grups: {}'])],
        {},
        /unknown key 'grups' \(did you mean 'groups'\?\)/,
      ],
      [
        ['-c', file('module.yaml', [...base, 'groups:', '  kv: { machine: ./missing.ts, voters: [n1] }'])],
        {},
        /groups\.kv\.machine \(.*missing\.ts\): cannot load the module/,
      ],
      [['-c', file('yaml.yaml', ['node: [n1'])], {}, /config file .*yaml\.yaml is not valid YAML/],
      [
        ['--node', 'n1', '--store', 'memory', '--group', 'kv', '--machine', KV, '--voters', 'n1'],
        { RAFTLINE_METRICS_PORT: 'abc' },
        /metrics\.port \(abc, from RAFTLINE_METRICS_PORT\) must be an integer/,
      ],
      [
        [
          '--node',
          'n1',
          '--store',
          'memory',
          '--group',
          'kv',
          '--machine',
          KV,
          '--voters',
          'n1',
          '--election-timeout-ms',
          '100',
          '--heartbeat-ms',
          '50',
        ],
        {},
        /raft: electionTimeoutMs \(100, from --election-timeout-ms\) must be at least 3 × heartbeatMs \(50, from --heartbeat-ms\)/,
      ],
      [['--node', 'n1', '--store', 'memory', '--machine', KV], {}, /--machine needs a group: pass --group/],
    ];
    const results = await Promise.all(
      cases.map(async ([args, env]) => {
        const p = startServe(args, env);
        return { code: await p.exited, stderr: p.stderr(), logs: p.logs };
      }),
    );
    results.forEach((r, i) => {
      expect([i, r.code]).toEqual([i, 2]);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(/^raftline serve: invalid configuration: /);
      expect(r.stderr).toMatch(cases[i]![2]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.logs).toEqual([]);
    });
  }, 60_000);

  it('serve --check loads a service by name (task-queue) and exits 0 without connecting', async () => {
    const r = await runCli([
      'serve',
      '--check',
      '--node',
      'n1',
      '--store',
      'memory',
      '--group',
      'q',
      '--machine',
      'task-queue',
      '--voters',
      'n1',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout).groups[0]).toMatchObject({
      name: 'q',
      machine: 'task-queue',
      voters: ['n1'],
    });
  }, 30_000);
});

describe('raftline serve - NATS without JetStream', () => {
  it('the mirror refuses to start with one line naming groups.<name>.mirror and how to go without it (exit 1)', async () => {
    const port = await freePort();
    const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    try {
      await eventually('nats-server listening', () => listening(port));
      const p = startServe([
        '--node',
        'n1',
        '--cluster',
        unique('nojs'),
        '--nats',
        `127.0.0.1:${port}`,
        '--store',
        'memory',
        '--metrics-port',
        '0',
        '--group',
        'kv',
        '--machine',
        KV,
        '--voters',
        'n1',
      ]);
      expect(await p.exited).toBe(1);
      const lines = p.stderr().split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^raftline serve: MirrorStartError: groups\.kv\.mirror: the committed stream's JetStream mirror cannot start .*set groups\.kv\.mirror: false/,
      );
    } finally {
      server.kill('SIGKILL');
    }
  }, 60_000);
});
