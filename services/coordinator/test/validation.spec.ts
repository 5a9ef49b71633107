import { CommandRejectedError, ConfigError, RaftlineError } from '@raftline/core';
import {
  Coordinator,
  CoordinatorRefusedError,
  LeaseExpiredError,
  REFUSALS,
  StaleEpochError,
  isRefusal,
  refusalError,
  unwrap,
  type Refusal,
  type RenewResult,
} from '../src/index';
import { Machine } from './support/host';

function setup(options: object = {}): Machine {
  const m = new Machine(options);
  m.cmd('register', 'a1');
  m.cmd('createTask', 't');
  m.cmd('campaign', 't', 'a1');
  return m;
}

/** The reason validation gives for refusing name(args), or undefined when it accepts. */
function rejection(m: Machine, name: string, ...args: unknown[]): string | undefined {
  try {
    m.host.validate({ name, args });
    return undefined;
  } catch (err) {
    if (!(err instanceof CommandRejectedError)) throw err;
    return err.reason;
  }
}

describe('coordinator - validation before replication', () => {
  it('malformed ids are refused, naming the argument', () => {
    const m = setup();
    expect(rejection(m, 'campaign', 't', '')).toMatch(/^args\[1\] \(candidate\): must be 1–128 characters/);
    expect(rejection(m, 'campaign', 'has space', 'a1')).toMatch(/^args\[0\] \(task\): must be 1–128/);
    expect(rejection(m, 'campaign', 'x'.repeat(129), 'a1')).toMatch(/^args\[0\] \(task\)/);
    expect(rejection(m, 'campaign', 't')).toMatch(/^args\[1\] \(candidate\): must be a string/);
    expect(rejection(m, 'register', 42)).toMatch(/^args\[0\] \(candidate\): must be a string/);
    expect(rejection(m, 'campaign', 't', 'a1')).toBeUndefined();
  });

  it('an epoch must be a positive integer', () => {
    const m = setup();
    expect(rejection(m, 'renew', 't', 0)).toMatch(/^args\[1\] \(epoch\): must be a positive integer/);
    expect(rejection(m, 'renew', 't', 1.5)).toMatch(/^args\[1\] \(epoch\): must be a positive integer/);
    expect(rejection(m, 'act', 't', '1', 'r', { op: 'delete' })).toMatch(
      /^args\[1\] \(epoch\): must be a number/,
    );
  });

  it('task options are checked field by field: an unknown policy, a bad lease, an unknown key', () => {
    const m = setup();
    expect(rejection(m, 'createTask', 'u', { policy: 'loudest' })).toMatch(
      /^args\[1\] \(options\)\.policy: must be one of first, designated/,
    );
    expect(rejection(m, 'createTask', 'u', { leaseMs: -5 })).toMatch(
      /^args\[1\] \(options\)\.leaseMs: leaseMs must be positive/,
    );
    expect(rejection(m, 'createTask', 'u', { leaseMS: 5 })).toMatch(
      /^args\[1\] \(options\): Unrecognized key: "leaseMS"/,
    );
    expect(rejection(m, 'createTask', 'u', { parentEpoch: 1 })).toMatch(/parentEpoch needs parent/);
    expect(rejection(m, 'createTask', 'u', { leaseMs: 25 * 3600_000 })).toMatch(
      /^args\[1\] \(options\): leaseMs \(90000000\) exceeds maxLeaseMs/,
    );
    expect(
      rejection(m, 'createTask', 'u', { policy: 'random', leaseMs: 500, requires: ['code'] }),
    ).toBeUndefined();
  });

  it('a guarded write must say set or delete, and a set carries a value within maxResourceBytes', () => {
    const m = setup({ maxResourceBytes: 100 });
    expect(rejection(m, 'act', 't', 1, 'r', { op: 'put', value: 1 })).toMatch(/^args\[3\] \(write\)\.op: /);
    expect(rejection(m, 'act', 't', 1, 'r', { op: 'set' })).toMatch(/value is required/);
    expect(rejection(m, 'act', 't', 1, 'r', { op: 'set', value: 'x'.repeat(200) })).toMatch(
      /^args\[3\] \(write\): value is 20\d bytes encoded; at most 100/,
    );
    expect(rejection(m, 'act', 't', 1, 'bad name', { op: 'delete' })).toMatch(/^args\[2\] \(resource\)/);
  });

  it('a checkpoint larger than maxCheckpointBytes, or with a long summary, is refused before replication', () => {
    const m = setup({ maxCheckpointBytes: 8, maxSummaryBytes: 4 });
    expect(rejection(m, 'checkpoint', 't', 1, { state: 'ééééé' })).toBe(
      'args[2] (checkpoint): checkpoint state is 10 bytes; at most 8',
    );
    expect(rejection(m, 'checkpoint', 't', 1, { state: new Uint8Array(9) })).toMatch(/9 bytes; at most 8/);
    expect(rejection(m, 'resign', 't', 1, { state: 'ok', summary: 'too long' })).toMatch(
      /summary is 8 bytes; at most 4/,
    );
    expect(rejection(m, 'checkpoint', 't', 1, { state: 42 })).toMatch(
      /state must be a string or a Uint8Array/,
    );
    expect(rejection(m, 'checkpoint', 't', 1, { state: 'ok', summary: 'fine' })).toBeUndefined();
  });

  it('capabilities and load must be scores ≥ 0; progress must be a marker and a token count', () => {
    const m = setup();
    expect(rejection(m, 'register', 'a2', { capabilities: { code: -1 } })).toMatch(
      /^args\[1\] \(info\)\.capabilities\.code: a capability score must be ≥ 0/,
    );
    expect(rejection(m, 'register', 'a2', { load: Infinity })).toMatch(
      /^args\[1\] \(info\)\.load: must be a finite number/,
    );
    expect(rejection(m, 'renew', 't', 1, { marker: {} })).toMatch(/^args\[2\] \(progress\)\.marker/);
    expect(rejection(m, 'renew', 't', 1, { tokens: -1 })).toMatch(/tokens must be ≥ 0/);
  });

  it('more arguments than a command takes are refused', () => {
    const m = setup();
    expect(rejection(m, 'tick', 1)).toMatch(/expected at most 0 arguments/);
  });

  it('a refused command never reaches the log, so it changes nothing', () => {
    const m = setup();
    expect(() => m.cmd('renew', 't', -1)).toThrow(CommandRejectedError);
    expect(m.host.appliedIndex).toBe(3);
  });

  it('bad Coordinator options are a ConfigError naming each', () => {
    expect(() => new Coordinator({ maxTasks: 0, historyLimit: 1.5 })).toThrow(ConfigError);
    expect(() => new Coordinator({ maxTasks: 0, historyLimit: 1.5 })).toThrow(
      'invalid configuration: maxTasks (0) must be a positive integer; historyLimit (1.5) must be a positive integer',
    );
    expect(() => new Coordinator({ maxTask: 5 } as object)).toThrow(
      "unknown key 'maxTask' (did you mean 'maxTasks'?)",
    );
  });
});

describe('coordinator - refusals are values with stable names', () => {
  it('a refusal names its error, the task, its current epoch and holder, and the time', () => {
    const m = setup();
    m.advance(20_000);
    const r = m.cmd<RenewResult>('renew', 't', 1);
    expect(r).toEqual({
      ok: false,
      error: 'LeaseExpiredError',
      message: 'task t: epoch 1 ended (expired): its lease is over',
      task: 't',
      epoch: 1,
      holder: null,
      reason: 'expired',
      at: 21_000,
      index: 4,
    });
    expect(isRefusal(r)).toBe(true);
  });

  it('unwrap returns a success and throws the refusal as its named error class', () => {
    const m = setup();
    expect(unwrap(m.cmd<RenewResult>('renew', 't', 1)).lease.epoch).toBe(1);
    m.advance(20_000);
    m.cmd('register', 'a2');
    m.cmd('campaign', 't', 'a2');
    const stale = m.cmd<RenewResult>('renew', 't', 1);
    let caught: unknown;
    try {
      unwrap(stale);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StaleEpochError);
    expect(caught).toBeInstanceOf(CoordinatorRefusedError);
    expect(caught).toBeInstanceOf(RaftlineError);
    expect(caught).toMatchObject({ name: 'StaleEpochError', refusal: { epoch: 2, holder: 'a2' } });
  });

  it('every refusal name has its own error class of that name', () => {
    for (const error of REFUSALS) {
      const e = refusalError({
        ok: false,
        error,
        message: 'm',
        task: null,
        epoch: null,
        holder: null,
        reason: null,
        at: 0,
        index: 0,
      });
      expect(e.name).toBe(error);
    }
    const future = { error: 'SomethingNewError' } as unknown as Refusal;
    expect(refusalError({ ...future, message: 'm' }).name).toBe('CoordinatorRefusedError');
    expect(refusalError({ ...future, error: 'LeaseExpiredError' })).toBeInstanceOf(LeaseExpiredError);
  });
});
