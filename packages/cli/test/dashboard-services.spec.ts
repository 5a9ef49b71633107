import { RemoteCommandError } from '@raftline/transport-nats';
import {
  detectService,
  loadPanel,
  PANEL_LIMITS,
  PanelDataError,
  type QueryFn,
} from '../src/dashboard/services';

// The service panels, against query functions that answer like each
// service's machine (by name, as a replica would) and like machines of
// their own: a group is recognized by its queries, never by guessing.

const unknown = (name: string) =>
  new RemoteCommandError('UnknownCommandError', `unknown query ${name}`, false);

/** A query function answering the queries given, refusing every other as unknown; records the calls. */
function machine(answers: Record<string, (...args: unknown[]) => unknown>): QueryFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (name: string, args: readonly unknown[]) => {
    calls.push(name);
    const handler = answers[name];
    if (!handler) throw unknown(name);
    return handler(...args);
  };
  return Object.assign(fn, { calls });
}

const now = () => 42;

describe('dashboard service panels - recognized by their queries, loaded by name', () => {
  it('a task queue shows each queue with its depths', async () => {
    const q = machine({
      queues: () => ['emails', 'thumbnails'],
      stats: (queue) => ({
        queue,
        paused: queue === 'thumbnails',
        delayed: 1,
        ready: queue === 'emails' ? 5 : 0,
        leased: 2,
        done: 10,
        dead: 1,
        oldestReadyAgeMs: 1500,
        asOf: 1,
      }),
    });
    expect(await detectService(q)).toBe('task-queue');
    const panel = await loadPanel('task-queue', q, now);
    expect(panel).toEqual({
      service: 'task-queue',
      updatedAt: 42,
      queues: [
        {
          queue: 'emails',
          paused: false,
          ready: 5,
          delayed: 1,
          leased: 2,
          done: 10,
          dead: 1,
          oldestReadyAgeMs: 1500,
        },
        {
          queue: 'thumbnails',
          paused: true,
          ready: 0,
          delayed: 1,
          leased: 2,
          done: 10,
          dead: 1,
          oldestReadyAgeMs: 1500,
        },
      ],
    });
  });

  it('feature flags show every flag of every environment with its default and state', async () => {
    const flag = (key: string, enabled: boolean) => ({
      key,
      version: 3,
      definition: {
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        enabled,
        rules: [{ when: {}, variant: 'on' }],
      },
      createdAt: 0,
      updatedAt: 0,
      updatedBy: 'me',
    });
    const ff = machine({
      listEnvironments: () => ['prod', 'staging'],
      listFlags: (env) =>
        env === 'prod' ? [flag('new-ui', true)] : [flag('new-ui', false), flag('beta', true)],
    });
    expect(await detectService(ff)).toBe('feature-flags');
    expect(ff.calls).toEqual(['queues', 'listEnvironments']);
    const panel = await loadPanel('feature-flags', ff, now);
    expect(panel.environments).toEqual(['prod', 'staging']);
    expect(panel.flags).toEqual([
      {
        environment: 'prod',
        key: 'new-ui',
        type: 'boolean',
        enabled: true,
        defaultVariant: 'off',
        defaultValue: 'false',
        rules: 1,
        version: 3,
      },
      {
        environment: 'staging',
        key: 'new-ui',
        type: 'boolean',
        enabled: false,
        defaultVariant: 'off',
        defaultValue: 'false',
        rules: 1,
        version: 3,
      },
      {
        environment: 'staging',
        key: 'beta',
        type: 'boolean',
        enabled: true,
        defaultVariant: 'off',
        defaultValue: 'false',
        rules: 1,
        version: 3,
      },
    ]);
  });

  it('a coordinator shows each task, its current coordinator, epoch and the lease left as of its last command', async () => {
    const task = (id: string, holder: string | null) => ({
      id,
      status: holder ? 'held' : 'vacant',
      holder,
      epoch: holder ? 4 : 3,
      grantedAt: 1000,
      leaseExpiresAt: 6000,
      applicants: ['b', 'c'],
      asOf: 2500,
    });
    const co = machine({
      tasks: () => ({ tasks: [task('deploy', 'agent-a'), task('triage', null)], next: 'x' }),
    });
    expect(await detectService(co)).toBe('coordinator');
    const panel = await loadPanel('coordinator', co, now);
    expect(panel).toEqual({
      service: 'coordinator',
      updatedAt: 42,
      truncated: true,
      tasks: [
        { task: 'deploy', status: 'held', holder: 'agent-a', epoch: 4, leaseLeftMs: 3500, applicants: 2 },
        { task: 'triage', status: 'vacant', holder: '', epoch: 3, leaseLeftMs: 0, applicants: 2 },
      ],
    });
  });

  it("a machine of one's own answers none of them: no panel", async () => {
    const kv = machine({ get: () => null });
    expect(await detectService(kv)).toBeNull();
    expect(kv.calls).toEqual(['queues', 'listEnvironments', 'tasks']);
  });

  it('a query of the same name with another answer, or refused arguments, is not taken for the service', async () => {
    const other = machine({
      queues: () => 3,
      listEnvironments: () => {
        throw new RemoteCommandError('RangeError', 'bad arguments', false);
      },
      tasks: () => ['not', 'a', 'page'],
    });
    expect(await detectService(other)).toBeNull();
  });

  it('no replica answering is not an answer: detection throws, to be tried again', async () => {
    const silent: QueryFn = async () => {
      throw new RemoteCommandError('ReadNotConfirmedError', 'no leader confirmed the read', false);
    };
    await expect(detectService(silent)).rejects.toThrow('ReadNotConfirmedError');
  });

  it('a panel shows at most its limit of items and says so', async () => {
    const many = Array.from({ length: PANEL_LIMITS.queues + 5 }, (_, i) => `q${i}`);
    const q = machine({ queues: () => many, stats: (queue) => ({ queue }) });
    const panel = await loadPanel('task-queue', q, now);
    expect(panel.queues).toHaveLength(PANEL_LIMITS.queues);
    expect(panel.truncated).toBe(true);
  });

  it('an answer of the wrong shape fails the load with PanelDataError naming the query', async () => {
    const q = machine({ queues: () => ['a'], stats: () => 'nope' });
    await expect(loadPanel('task-queue', q, now)).rejects.toThrow(PanelDataError);
    await expect(loadPanel('task-queue', q, now)).rejects.toThrow(
      /^stats\(a\) answered an unexpected value: "nope"/,
    );
  });
});
