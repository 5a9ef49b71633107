import { METRIC_NAMES, SERVICE_METRIC_NAMES } from '../src/index';
import {
  dropSchema,
  eventually,
  freePort,
  NATS_URL,
  parseMetrics,
  PG_URL,
  runCli,
  startServe,
  tempDir,
  unique,
  writeFile,
  type CliResult,
  type ServeProcess,
} from './support/cli';

// Three `raftline serve` processes, each running a replica of the three
// sample services (groups jobs: task-queue, flags: feature-flags, coord:
// coordinator) over the machine's NATS and PostgreSQL; the per-service
// commands run as child processes against them, and every replica's
// /metrics shows the services' own metrics.

const ids = ['n1', 'n2', 'n3'] as const;

describe('raftline queue, flags and coord - the services operated from the command line, and their metrics', () => {
  const cluster = unique('clisvc');
  const schema = unique('rl_clisvc_');
  const tmp = tempDir('services');
  const ports: Record<string, number> = {};
  let config = '';
  const procs: ServeProcess[] = [];
  const cli = (group: string, ...args: string[]) => runCli([...args, '-c', config, '-g', group]);
  /** Runs a command that must succeed; its stdout parsed as JSON. */
  const ok = async <T>(group: string, ...args: string[]): Promise<T> => {
    const r = await cli(group, ...args, '--json');
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  /** A failed command's exit code and its one-line error. */
  const failure = (r: CliResult) => ({
    code: r.code,
    lines: r.stderr.trim().split('\n').length,
    stderr: r.stderr,
  });
  const scrape = async (id: string) =>
    parseMetrics(await (await fetch(`http://127.0.0.1:${ports[id]}/metrics`)).text());

  beforeAll(async () => {
    for (const id of ids) {
      ports[id] = await freePort();
      const file = writeFile(
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
          '  jobs: { machine: task-queue, voters: [n1, n2, n3], mirror: false }',
          '  flags: { machine: feature-flags, voters: [n1, n2, n3], mirror: false }',
          '  coord: { machine: coordinator, voters: [n1, n2, n3], mirror: false }',
          '',
        ].join('\n'),
      );
      if (id === 'n1') config = file;
      procs.push(startServe(['-c', file]));
    }
    await Promise.all(procs.map((p) => p.waitForLog('raftline serve ready', 180_000)));
    await eventually(
      'a leader in every group',
      async () => {
        const r = await runCli(['status', '--json', '-c', config]);
        const all = r.code === 0 ? (JSON.parse(r.stdout) as { leaderId: string }[]) : [];
        return all.length === 3 && all.every((g) => g.leaderId) ? all : undefined;
      },
      60_000,
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill9()));
    await dropSchema(schema);
    tmp.remove();
  });

  it('queue: enqueue prints ids, stats counts them, dead lists dead letters and retry revives them; bad input exits 2, a refusal 1', async () => {
    const first = await ok<{ queue: string; id: string }>(
      'jobs',
      'queue',
      'enqueue',
      'emails',
      '{"to":"a@b"}',
    );
    expect(first).toEqual({ queue: 'emails', id: expect.stringMatching(/^\d+$/) });
    const plain = await cli(
      'jobs',
      'queue',
      'enqueue',
      'emails',
      '"two"',
      '--priority',
      '-5',
      '--dedup',
      'k2',
    );
    expect(plain).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\n$/) });
    const again = await cli('jobs', 'queue', 'enqueue', 'emails', '"dup"', '--dedup', 'k2');
    expect(again.stdout).toBe(plain.stdout); // the live job holding the key
    const doomed = await ok<{ id: string }>('jobs', 'queue', 'enqueue', 'emails', 'null', '--ttl', '1');
    await new Promise((r) => setTimeout(r, 20));
    await ok('jobs', 'queue', 'enqueue', 'reports', '1'); // a later command moves the queue past the deadline

    const stats = await ok<{ queue: string; ready: number; dead: number }[]>('jobs', 'queue', 'stats');
    expect(stats.map((s) => [s.queue, s.ready, s.dead])).toEqual([
      ['emails', 2, 1],
      ['reports', 1, 0],
    ]);
    const table = await cli('jobs', 'queue', 'stats', 'emails');
    expect(table.stdout).toMatch(/\| +QUEUE +\| +PAUSED +\| +DELAYED +\| +READY +\|/);
    expect(table.stdout).toMatch(/\| emails +\| no +\| +0 \| +2 \| +0 \| +0 \| +1 \|/);

    const dead = await ok<{ jobs: { id: string; deadReason: string }[] }>('jobs', 'queue', 'dead', 'emails');
    expect(dead.jobs).toEqual([expect.objectContaining({ id: doomed.id, deadReason: 'ttl' })]);
    const refused = await cli('jobs', 'queue', 'retry', 'emails', doomed.id, '999999');
    expect(refused.stdout).toBe('1 dead job of emails ready again\n');
    expect(failure(refused)).toEqual({
      code: 1,
      lines: 1,
      stderr: 'raftline queue: not dead jobs of emails, left as they are: 999999\n',
    });
    expect(
      (await ok<{ ready: number; dead: number }[]>('jobs', 'queue', 'stats', 'emails'))[0],
    ).toMatchObject({
      ready: 3,
      dead: 0,
    });

    expect(failure(await cli('jobs', 'queue', 'enqueue', 'emails', '{bad'))).toMatchObject({
      code: 2,
      lines: 1,
    });
    expect(failure(await cli('jobs', 'queue', 'enqueue', 'emails', '1', '--delay', 'soon'))).toEqual({
      code: 2,
      lines: 1,
      stderr: 'raftline queue: --delay (soon) must be an integer of at least 0\n',
    });
    const badName = failure(await cli('jobs', 'queue', 'enqueue', 'no spaces', '1'));
    expect(badName).toMatchObject({
      code: 1,
      lines: 1,
      stderr: expect.stringContaining('CommandRejectedError'),
    });
    expect(badName.stderr).not.toMatch(/\n\s+at /);

    // A lease that runs out: claimed for 1 ms, then any command expires it.
    await ok('jobs', 'call', 'claim', '["reports","w1",{"leaseMs":1}]');
    await new Promise((r) => setTimeout(r, 20));
    await ok('jobs', 'queue', 'enqueue', 'reports', '2');
  }, 300_000);

  it('flags: set, get, list, the kill switch by compare-and-set, eval, flagd import and export', async () => {
    const definition = writeFile(
      tmp.dir,
      'checkout.json',
      JSON.stringify({
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'on',
        enabled: true,
      }),
    );
    const set = await ok<{ version: number; previousVersion: number }>(
      'flags',
      'flags',
      'set',
      'checkout',
      `@${definition}`,
      '-e',
      'prod',
      '--author',
      'alice',
      '--reason',
      'launch',
    );
    expect(set).toMatchObject({ environment: 'prod', key: 'checkout', previousVersion: 0 });
    const got = await ok<{ version: number; updatedBy: string }>(
      'flags',
      'flags',
      'get',
      'checkout',
      '-e',
      'prod',
    );
    expect(got).toMatchObject({ key: 'checkout', version: set.version, updatedBy: 'alice' });
    const list = await cli('flags', 'flags', 'list', '-e', 'prod');
    expect(list.stdout).toMatch(/\| checkout +\| boolean +\| yes +\| on +\| +0 \|/);

    const off = await cli(
      'flags',
      'flags',
      'set',
      'checkout',
      '--enabled',
      'false',
      '-e',
      'prod',
      '--expected-version',
      String(set.version),
    );
    expect(off).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^prod\/checkout at version \d+ \(was \d+\)\n$/),
    });
    const stale = failure(
      await cli(
        'flags',
        'flags',
        'set',
        'checkout',
        '--enabled',
        'true',
        '-e',
        'prod',
        '--expected-version',
        String(set.version),
      ),
    );
    expect(stale).toMatchObject({
      code: 1,
      lines: 1,
      stderr: expect.stringContaining('VersionConflictError'),
    });

    const evaluated = await ok<{ value: boolean; reason: string }>(
      'flags',
      'flags',
      'eval',
      'checkout',
      '{"targetingKey":"u1"}',
      '-e',
      'prod',
      '--type',
      'boolean',
    );
    expect(evaluated).toMatchObject({ flagKey: 'checkout', value: true, variant: 'on', reason: 'DISABLED' }); // the default variant
    const missing = await cli('flags', 'flags', 'eval', 'nope', '-e', 'prod');
    expect(missing.stdout).toMatch(/\| nope +\| null +\| - +\| ERROR +\| FLAG_NOT_FOUND/);
    expect(failure(missing)).toMatchObject({
      code: 1,
      lines: 1,
      stderr: expect.stringMatching(/^raftline flags: FLAG_NOT_FOUND: /),
    });
    expect(failure(await cli('flags', 'flags', 'get', 'nope', '-e', 'prod'))).toEqual({
      code: 1,
      lines: 1,
      stderr: 'raftline flags: FlagNotFoundError: no flag nope in environment prod\n',
    });
    expect(failure(await cli('flags', 'flags', 'list'))).toMatchObject({ code: 2 });

    const flagd = writeFile(
      tmp.dir,
      'flagd.json',
      JSON.stringify({
        flags: {
          banner: { state: 'ENABLED', variants: { big: 'big', small: 'small' }, defaultVariant: 'small' },
        },
      }),
    );
    const imported = await ok<{ flags: { created: string[] } }>(
      'flags',
      'flags',
      'import',
      flagd,
      '-e',
      'staging',
    );
    expect(imported.flags.created).toEqual(['banner']);
    const exported = await cli('flags', 'flags', 'export', '-e', 'staging');
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({
      flags: {
        banner: { state: 'ENABLED', defaultVariant: 'small', variants: { big: 'big', small: 'small' } },
      },
    });
  }, 300_000);

  it('coord: tasks and show the coordinator, designate hands over, revoke takes it back; refusals exit 1 by name', async () => {
    for (const a of ['a1', 'a2']) await ok('coord', 'call', 'register', JSON.stringify([a]));
    await ok('coord', 'call', 'createTask', '["deploy",{"leaseMs":60000}]');
    await ok('coord', 'call', 'campaign', '["deploy","a1"]');

    const page = await ok<{ tasks: { id: string; status: string; holder: string; epoch: number }[] }>(
      'coord',
      'coord',
      'tasks',
    );
    expect(page.tasks).toEqual([
      expect.objectContaining({ id: 'deploy', status: 'held', holder: 'a1', epoch: 1 }),
    ]);
    const table = await cli('coord', 'coord', 'tasks');
    expect(table.stdout).toMatch(/\| deploy +\| held +\| +1 \| a1 +\| \d+(\.\d)?s left/);

    const handed = await cli('coord', 'coord', 'designate', 'deploy', 'a2', '--by', 'ops');
    expect(handed).toMatchObject({ code: 0, stdout: 'deploy: held by a2 at epoch 2 (designated: a2)\n' });
    const shown = await ok<{
      task: { holder: string };
      history: { events: { kind: string; by: string | null }[] };
    }>('coord', 'coord', 'show', 'deploy');
    expect(shown.task).toMatchObject({ holder: 'a2', epoch: 2 });
    expect(shown.history.events.map((e) => e.kind)).toEqual([
      'created',
      'granted',
      'designated',
      'ended',
      'granted',
    ]);
    const human = await cli('coord', 'coord', 'show', 'deploy');
    expect(human.stdout).toMatch(/^coordinator: +a2$/m);
    expect(human.stdout).toMatch(/\| +\d+ \| \S+ +\| designated +\| +\d+ \| a2 +\| ops /);

    const revoked = await ok<{ ok: boolean; task: { status: string } }>(
      'coord',
      'coord',
      'revoke',
      'deploy',
      '--by',
      'ops',
      '--reason',
      'drill',
    );
    expect(revoked).toMatchObject({ ok: true, task: { holder: null } });

    const notWaiting = failure(await cli('coord', 'coord', 'approve', 'deploy', '1', '--by', 'ops'));
    expect(notWaiting).toMatchObject({
      code: 1,
      lines: 1,
      stderr: expect.stringMatching(/^raftline coord: NotAwaitingApprovalError: /),
    });
    expect(failure(await cli('coord', 'coord', 'designate', 'nope', 'a1'))).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^raftline coord: UnknownTaskError: /),
    });
    expect(failure(await cli('coord', 'coord', 'show', 'nope'))).toEqual({
      code: 1,
      lines: 1,
      stderr: 'raftline coord: UnknownTaskError: no task nope\n',
    });
    expect(failure(await cli('coord', 'coord', 'approve', 'deploy', 'first'))).toMatchObject({ code: 2 });
  }, 300_000);

  it("every replica's /metrics shows the services' own metrics, named as SERVICE_METRICS says", async () => {
    for (const id of ids) {
      const samples = await eventually(`${id} applied what the commands did`, async () => {
        const s = await scrape(id);
        const value = (name: string, labels: Record<string, string>) =>
          s.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
            ?.value;
        const done =
          value('raftline_queue_jobs', { group: 'jobs', queue: 'emails', state: 'ready' }) === 3 &&
          value('raftline_queue_lease_expiries_total', { group: 'jobs' }) === 1 &&
          value('raftline_flags', { group: 'flags', environment: 'staging' }) === 1 &&
          value('raftline_coordinator_handoffs_total', { group: 'coord' }) === 1;
        return done ? s : undefined;
      });
      const of = (name: string) => samples.filter((s) => s.name === name);
      expect(
        of('raftline_queue_jobs')
          .filter((s) => s.labels.queue === 'emails')
          .map((s) => [s.labels.state, s.value])
          .sort(),
      ).toEqual([
        ['dead', 0],
        ['delayed', 0],
        ['leased', 0],
        ['ready', 3],
      ]);
      expect(of('raftline_queues')).toEqual([
        { name: 'raftline_queues', labels: { group: 'jobs', node: id }, value: 2 },
      ]);
      expect(
        of('raftline_flags')
          .map((s) => [s.labels.environment, s.value])
          .sort(),
      ).toEqual([
        ['prod', 1],
        ['staging', 1],
      ]);
      expect(of('raftline_coordinator_tasks').find((s) => s.labels.status === 'vacant')?.value).toBe(1);
      expect(of('raftline_coordinator_candidates')[0]?.value).toBe(2);
      expect(
        of('raftline_machine_metrics_failures_total')
          .map((s) => [s.labels.group, s.value])
          .sort(),
      ).toEqual([
        ['coord', 0],
        ['flags', 0],
        ['jobs', 0],
      ]);
      // Every raftline_ name served is documented, and every service metric is served.
      const served = new Set(
        samples
          .map((s) => s.name.replace(/_(bucket|sum|count)$/, ''))
          .filter((n) => n.startsWith('raftline_')),
      );
      const known = new Set<string>([...METRIC_NAMES, ...SERVICE_METRIC_NAMES]);
      expect([...served].filter((n) => !known.has(n))).toEqual([]);
      expect(SERVICE_METRIC_NAMES.filter((n) => !served.has(n))).toEqual([]);
    }
    // Evaluations are counted where the evaluate query was served: two in all (the two evals above).
    let evaluations = 0;
    for (const id of ids) {
      for (const s of await scrape(id))
        if (s.name === 'raftline_flag_evaluations_total') evaluations += s.value;
    }
    expect(evaluations).toBe(2);
  }, 60_000);
});
