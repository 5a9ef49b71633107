import { join } from 'node:path';
import { TaskQueue } from '@raftline/task-queue';
import { createMachine, loadServeConfig, type ServeSources } from '../src/index';
import { KV, problemsOf, tempDir, writeFile } from './support/cli';

// Where `raftline serve` reads its settings, and how it says what is wrong.

const TWO = join(__dirname, 'fixtures/two-machines.ts');

describe('serve configuration - the file, then RAFTLINE_* variables, then flags', () => {
  const tmp = tempDir('config');
  afterAll(() => tmp.remove());
  const file = writeFile(
    tmp.dir,
    'n1.yaml',
    [
      'node: n1',
      'store: memory',
      'metrics: { port: 1000 }',
      'groups:',
      `  kv: { machine: ${KV}, voters: [n1, n2, n3] }`,
      '',
    ].join('\n'),
  );
  const load = (over: Partial<ServeSources>) =>
    loadServeConfig({ file, env: {}, flags: {}, cwd: tmp.dir, ...over });

  it('a flag overrides the environment, which overrides the file', () => {
    expect(load({}).metrics.port).toBe(1000);
    expect(load({ env: { RAFTLINE_METRICS_PORT: '2000' } }).metrics.port).toBe(2000);
    expect(
      load({ env: { RAFTLINE_METRICS_PORT: '2000' }, flags: { 'metrics.port': '3000' } }).metrics.port,
    ).toBe(3000);
    expect(load({ env: { RAFTLINE_NODE: 'n2' } }).node).toBe('n2');
    expect(load({ flags: { voters: 'n1,n4,n5' } }).groups[0]!.voters).toEqual(['n1', 'n4', 'n5']);
  });

  it('fills in the defaults', () => {
    const c = load({});
    expect(c).toMatchObject({
      cluster: 'raftline',
      nats: { servers: ['127.0.0.1:4222'] },
      store: { kind: 'memory' },
      metrics: { enabled: true, host: '127.0.0.1', readyMaxLagEntries: 1000 },
      log: { level: 'info', pretty: false },
      startup: { waitMs: 30_000 },
      shutdown: { drainTimeoutMs: 5000, timeoutMs: 20_000 },
      clients: { maxInFlightPerClient: 1024, maxInFlight: 8192 },
    });
    expect(c.groups).toEqual([
      { name: 'kv', machine: KV, voters: ['n1', 'n2', 'n3'], raft: {}, mirror: true },
    ]);
  });

  it('overload bounds: clients.* and raft.maxPendingProposals, from the file, a variable or a flag', () => {
    const c = load({
      env: { RAFTLINE_MAX_PENDING_PROPOSALS: '300' },
      flags: { 'clients.maxInFlightPerClient': '64' },
    });
    expect(c.clients).toEqual({ maxInFlightPerClient: 64, maxInFlight: 8192 });
    expect(c.groups[0]!.raft).toEqual({ maxPendingProposals: 300 });
    expect(problemsOf(() => load({ flags: { 'clients.maxInFlightPerClient': '0' } }))).toEqual([
      'clients.maxInFlightPerClient (0, from --max-in-flight-per-client) must be an integer at least 1',
    ]);
  });

  it("a group's sessions settings pass to its MachineHost, each an integer of at least 1", () => {
    const sessions = (yaml: string) => {
      const f = writeFile(
        tmp.dir,
        'sessions.yaml',
        [
          'node: n1',
          'store: memory',
          'groups:',
          `  kv: { machine: ${KV}, voters: [n1], sessions: ${yaml} }`,
          '',
        ].join('\n'),
      );
      return loadServeConfig({ file: f, env: {}, flags: {}, cwd: tmp.dir });
    };
    expect(sessions('{ maxSessions: 10, maxResultsPerSession: 64 }').groups[0]!.sessions).toEqual({
      maxSessions: 10,
      maxResultsPerSession: 64,
    });
    expect(problemsOf(() => sessions('{ maxResultsPerSession: 0 }'))).toEqual([
      'groups.kv.sessions.maxResultsPerSession (0) must be an integer at least 1',
    ]);
  });

  it('store is a postgres URL, an embedded data directory (relative to the file) or memory', () => {
    expect(load({ flags: { store: 'postgres://u@db:5432/raft' } }).store).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db:5432/raft',
      schema: 'raftline',
      poolSize: 8,
      synchronousCommit: 'on',
    });
    expect(load({ env: { RAFTLINE_STORE: './data/n1' } }).store).toEqual({
      kind: 'embedded',
      dataDir: join(tmp.dir, 'data/n1'),
      schema: 'raftline',
    });
    expect(load({ flags: { store: 'memory' } }).store).toEqual({ kind: 'memory' });
  });

  it('names every bad field in one ConfigError, and the variable or flag a value came from', () => {
    const bad = writeFile(
      tmp.dir,
      'bad.yaml',
      [
        'node: "a.b"',
        'nats: { servers: [], user: u }',
        'store: { postgres: mysql://x, dataDir: ./d }',
        'log: { level: loud }',
        'startup: { waitMs: -5 }',
        'shutdown: { drainTimeoutMs: -1 }',
        'raft: { electionTimeout: 100 }',
        'groups:',
        '  kv: { machine: ./kv.ts, voters: [n1, n1], join: maybe, mirror: sometimes }',
        '',
      ].join('\n'),
    );
    const problems = problemsOf(() =>
      loadServeConfig({
        file: bad,
        env: { RAFTLINE_METRICS_HOST: '' },
        flags: { 'metrics.port': 'x' },
        cwd: tmp.dir,
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^node \(a\.b\) must be one NATS subject token/),
        'nats.servers ([]) must name at least one server',
        'nats.user and nats.password must be set together',
        'store must be exactly one of postgres (a URL), dataDir (embedded PGlite) or memory (got store.postgres, store.dataDir)',
        'metrics.port (x, from --metrics-port) must be an integer from 0 to 65535',
        'log.level (loud) must be one of fatal, error, warn, info, debug, trace, silent',
        'startup.waitMs (-5) must be an integer at least 0',
        'shutdown.drainTimeoutMs (-1) must be an integer at least 0',
        "raft: unknown key 'electionTimeout' (did you mean 'electionTimeoutMs'?)",
        'groups.kv.join (maybe) must be one of voter, learner',
        'groups.kv.voters (n1,n1) must not repeat a node',
        'groups.kv.mirror (sometimes) must be true or false',
      ]),
    );
  });

  it('a joining node lists no voters; a bootstrapping one lists itself among them', () => {
    const joining = writeFile(
      tmp.dir,
      'join.yaml',
      ['node: n4', 'store: memory', `groups: { kv: { machine: ${KV}, join: true } }`, ''].join('\n'),
    );
    expect(loadServeConfig({ file: joining, env: {}, flags: {}, cwd: tmp.dir }).groups[0]).toMatchObject({
      voters: [],
      join: 'voter',
    });
    expect(
      problemsOf(() => loadServeConfig({ file: joining, env: {}, flags: { voters: 'n1' }, cwd: tmp.dir })),
    ).toEqual([
      'groups.kv.voters and groups.kv.join must not both be set: a joining node starts outside the configuration',
    ]);
    expect(problemsOf(() => load({ env: { RAFTLINE_NODE: 'n9' } }))).toEqual([
      'groups.kv.voters (n1,n2,n3) must include this node (n9), or set groups.kv.join',
    ]);
  });

  it('resolves relative machine and bindings paths from the file, and keeps service names as they are', () => {
    const rel = writeFile(
      tmp.dir,
      'rel.yaml',
      [
        'node: n1',
        'store: memory',
        'groups:',
        '  a: { machine: ./m.ts, voters: [n1], bindings: ./b.ts }',
        '  q: { machine: task-queue, voters: [n1] }',
        '',
      ].join('\n'),
    );
    const [a, q] = loadServeConfig({ file: rel, env: {}, flags: {}, cwd: '/' }).groups;
    expect(a).toMatchObject({ machine: join(tmp.dir, 'm.ts'), bindings: join(tmp.dir, 'b.ts') });
    expect(q!.machine).toBe('task-queue');
  });
});

describe('serve configuration - the machine a group runs', () => {
  const group = (machine: string, extra: object = {}) => ({
    name: 'g',
    machine,
    voters: ['n1'],
    raft: {},
    mirror: true,
    ...extra,
  });

  it('a service name runs its package, a module its one ReplicatedStateMachine subclass', () => {
    expect(createMachine(group('task-queue'))).toBeInstanceOf(TaskQueue);
    expect(createMachine(group(KV)).constructor.name).toBe('Kv');
  });

  it('a module with several machine classes needs export, and names them', () => {
    expect(problemsOf(() => createMachine(group(TWO)))).toEqual([
      `groups.g.machine (${TWO}): the module exports several machine classes (First, Second); set groups.g.export`,
    ]);
    expect(createMachine(group(TWO, { export: 'Second' })).constructor.name).toBe('Second');
    expect(problemsOf(() => createMachine(group(TWO, { export: 'notAMachine' })))).toEqual([
      `groups.g.export (notAMachine): ${TWO} exports no ReplicatedStateMachine subclass named notAMachine`,
    ]);
  });

  it('options the constructor refuses are a ConfigError naming groups.<name>.options', () => {
    const problems = problemsOf(() => createMachine(group('task-queue', { options: { nonsense: true } })));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^groups\.g\.options: TaskQueue refused them: /);
  });
});
