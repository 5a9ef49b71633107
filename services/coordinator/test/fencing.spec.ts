import { unwrap, type ActResult, type FenceAnswer, type ResourceView } from '../src/index';
import { Machine } from './support/host';

/** a1 holds epoch 1 of t (lease 1000 ms), a2 waits. */
function setup(options: object = {}): Machine {
  const m = new Machine(options);
  for (const a of ['a1', 'a2']) m.cmd('register', a);
  m.cmd('createTask', 't', { leaseMs: 1000 });
  m.cmd('campaign', 't', 'a1');
  m.cmd('campaign', 't', 'a2');
  return m;
}

const set = (value: unknown, ifVersion?: number) => ({
  op: 'set',
  value,
  ...(ifVersion !== undefined ? { ifVersion } : {}),
});

describe('coordinator - fencing and guarded writes', () => {
  it('a write by the current epoch within its lease is applied, and the resource keeps its epoch', () => {
    const m = setup();
    const r = unwrap(m.cmd<ActResult>('act', 't', 1, 'plan', set({ step: 1 })));
    expect(r.resource).toMatchObject({
      task: 't',
      name: 'plan',
      value: { step: 1 },
      version: 1,
      epoch: 1,
      writer: 'a1',
    });
    expect(m.query<ResourceView>('resource', 't', 'plan')).toEqual(r.resource);
  });

  it('a write with a stale epoch is refused', () => {
    const m = setup();
    m.cmd('act', 't', 1, 'plan', set('from a1'));
    m.advance(1000); // a1's lease ends; a2 gets epoch 2 in the same command
    const stale = m.cmd<ActResult>('act', 't', 1, 'plan', set('late write from a1'));
    expect(stale).toMatchObject({
      ok: false,
      error: 'StaleEpochError',
      epoch: 2,
      holder: 'a2',
      reason: 'expired',
    });
    expect(m.query<ResourceView>('resource', 't', 'plan')).toMatchObject({
      value: 'from a1',
      version: 1,
      epoch: 1,
    });
  });

  it('a write after the lease expired, with nobody newer yet, is refused with LeaseExpiredError', () => {
    const m = setup();
    m.cmd('withdraw', 't', 'a2');
    m.advance(999);
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set(1)).ok).toBe(true);
    m.advance(1);
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set(2))).toMatchObject({
      error: 'LeaseExpiredError',
      reason: 'expired',
    });
    expect(m.query<ResourceView>('resource', 't', 'x')).toMatchObject({ value: 1 });
  });

  it('a write of an epoch never granted is refused with NotCoordinatorError', () => {
    const m = setup();
    expect(m.cmd<ActResult>('act', 't', 2, 'x', set(1))).toMatchObject({
      error: 'NotCoordinatorError',
      epoch: 1,
    });
    expect(m.query('resource', 't', 'x')).toBeNull();
  });

  it('a write to an unknown task is refused with UnknownTaskError', () => {
    const m = setup();
    expect(m.cmd<ActResult>('act', 'nope', 1, 'x', set(1))).toMatchObject({
      error: 'UnknownTaskError',
      task: 'nope',
    });
  });

  it("a resource's epoch never decreases: every applied write carries the task's current epoch", () => {
    const m = setup();
    m.cmd('act', 't', 1, 'x', set('a'));
    m.cmd('resign', 't', 1);
    m.cmd('act', 't', 2, 'x', set('b'));
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set('c')).ok).toBe(false);
    expect(m.query<ResourceView>('resource', 't', 'x')).toMatchObject({
      value: 'b',
      version: 2,
      epoch: 2,
      writer: 'a2',
    });
  });

  it('ifVersion applies a write only at that version (0: absent)', () => {
    const m = setup();
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set('a', 1))).toMatchObject({
      error: 'VersionMismatchError',
    });
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set('a', 0)).ok).toBe(true);
    expect(m.cmd<ActResult>('act', 't', 1, 'x', set('b', 0))).toMatchObject({
      error: 'VersionMismatchError',
    });
    expect(m.cmd<ActResult>('act', 't', 1, 'x', { op: 'delete', ifVersion: 1 }).ok).toBe(true);
    expect(m.query<ResourceView>('resource', 't', 'x')).toMatchObject({
      deleted: true,
      value: null,
      version: 2,
    });
  });

  it('deleting an absent resource stores nothing', () => {
    const m = setup();
    expect(unwrap(m.cmd<ActResult>('act', 't', 1, 'x', { op: 'delete' })).resource).toMatchObject({
      version: 0,
      deleted: true,
    });
    expect(m.query('resources', 't')).toEqual([]);
  });

  it('a task keeps at most maxResources resources', () => {
    const m = setup({ maxResources: 2 });
    m.cmd('act', 't', 1, 'a', set(1));
    m.cmd('act', 't', 1, 'b', set(1));
    expect(m.cmd<ActResult>('act', 't', 1, 'c', set(1))).toMatchObject({ error: 'LimitExceededError' });
    expect(m.cmd<ActResult>('act', 't', 1, 'a', set(2)).ok).toBe(true); // an existing one may still change
    expect(m.query<ResourceView[]>('resources', 't').map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('fence answers whether an epoch is current as of the last applied command', () => {
    const m = setup();
    expect(m.query<FenceAnswer>('fence', 't', 1)).toMatchObject({
      exists: true,
      current: true,
      currentEpoch: 1,
      holder: 'a1',
      asOf: 1000,
    });
    expect(m.query<FenceAnswer>('fence', 't', 2)).toMatchObject({ current: false });
    m.advance(1000);
    m.cmd('tick');
    expect(m.query<FenceAnswer>('fence', 't', 1)).toMatchObject({
      current: false,
      currentEpoch: 2,
      holder: 'a2',
    });
    expect(m.query<FenceAnswer>('fence', 't', 2)).toMatchObject({ current: true });
    expect(m.query<FenceAnswer>('fence', 'nope', 1)).toMatchObject({
      exists: false,
      current: false,
      currentEpoch: 0,
    });
  });
});
