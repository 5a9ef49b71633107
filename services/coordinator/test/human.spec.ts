import {
  unwrap,
  type ActResult,
  type CampaignResult,
  type CheckpointResult,
  type HistoryPage,
  type TaskView,
} from '../src/index';
import { Machine } from './support/host';

function setup(options: object = {}): Machine {
  const m = new Machine();
  for (const a of ['a1', 'a2', 'a3']) m.cmd('register', a);
  m.cmd('createTask', 't', { leaseMs: 1000, ...options });
  m.cmd('campaign', 't', 'a1');
  return m;
}

const task = (m: Machine, id = 't'): TaskView => m.query<TaskView>('task', id);
const write = { op: 'set', value: 'x' };

describe('coordinator - human control', () => {
  it('designate hands the task over at once with a new epoch, voiding the old coordinator', () => {
    const m = setup();
    m.cmd('checkpoint', 't', 1, { state: 'ctx' });
    unwrap(m.cmd('designate', 't', 'a3', 'alice'));
    expect(task(m)).toMatchObject({
      holder: 'a3',
      epoch: 2,
      designated: 'a3',
      lastEnd: { epoch: 1, reason: 'overridden' },
    });
    expect(m.cmd<ActResult>('act', 't', 1, 'r', write)).toMatchObject({ error: 'StaleEpochError' });
    const r = unwrap(m.cmd<CampaignResult>('campaign', 't', 'a3'));
    expect(r.status === 'elected' && r.checkpoint?.state).toBe('ctx'); // the designated one continues from the checkpoint
  });

  it('designating the current holder keeps its epoch', () => {
    const m = setup();
    unwrap(m.cmd('designate', 't', 'a1', 'alice'));
    expect(task(m)).toMatchObject({ holder: 'a1', epoch: 1 });
  });

  it('designate of an unregistered candidate is refused with UnknownCandidateError', () => {
    const m = setup();
    expect(m.cmd('designate', 't', 'ghost', 'alice')).toMatchObject({
      ok: false,
      error: 'UnknownCandidateError',
    });
    expect(task(m)).toMatchObject({ holder: 'a1', epoch: 1 });
  });

  it('revoke takes the task away and selects the next applicant; the revoked one must campaign again', () => {
    const m = setup();
    m.cmd('campaign', 't', 'a2');
    unwrap(m.cmd('revoke', 't', 'alice', 'looping'));
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2, lastEnd: { epoch: 1, reason: 'revoked' } });
    expect(m.cmd('renew', 't', 1)).toMatchObject({ error: 'StaleEpochError', reason: 'revoked' });
    const ended = m.query<HistoryPage>('history', 't').events.find((e) => e.kind === 'ended')!;
    expect(ended).toMatchObject({ by: 'alice', summary: 'looping' });
    m.cmd('revoke', 't', 'alice');
    expect(task(m)).toMatchObject({ status: 'vacant', holder: null, epoch: 2 });
    expect(m.cmd('revoke', 't', 'alice')).toMatchObject({ ok: false, error: 'NotCoordinatorError' });
  });

  it('revoking a coordinator whose lease just ran out takes nothing from the next applicant', () => {
    const m = setup();
    m.cmd('campaign', 't', 'a2');
    m.advance(1000); // a1's lease is over; no command has noticed yet
    unwrap(m.cmd('revoke', 't', 'alice'));
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2, lastEnd: { epoch: 1, reason: 'expired' } });
  });

  it('pausing grants nobody on the way: a vacant subtask with applicants stays at its epoch', () => {
    const m = setup();
    m.cmd('createTask', 'sub', { parent: 't', gatherMs: 500 });
    m.cmd('campaign', 'sub', 'a2'); // waits for gatherMs
    m.advance(500);
    m.cmd('pause', 't', 'alice');
    expect(task(m, 'sub')).toMatchObject({ status: 'paused', epoch: 0, applicants: ['a2'] });
    m.cmd('resume', 't', 'alice');
    m.advance(500);
    m.cmd('tick');
    expect(task(m, 'sub')).toMatchObject({ status: 'held', holder: 'a2', epoch: 1 });
  });

  it('designating after a lease ran out starts exactly one new epoch', () => {
    const m = setup();
    m.cmd('campaign', 't', 'a2');
    m.advance(1000);
    m.cmd('designate', 't', 'a3', 'alice');
    expect(task(m)).toMatchObject({ holder: 'a3', epoch: 2, applicants: ['a2'] });
  });

  it('pause ends the tenures of the task and its subtasks; nobody is selected until resume', () => {
    const m = setup();
    m.cmd('createTask', 'sub', { parent: 't', leaseMs: 1000 });
    m.cmd('campaign', 'sub', 'a2');
    m.cmd('campaign', 't', 'a3');
    unwrap(m.cmd('pause', 't', 'alice'));
    expect(task(m)).toMatchObject({
      status: 'paused',
      paused: true,
      holder: null,
      lastEnd: { reason: 'paused' },
    });
    expect(task(m, 'sub')).toMatchObject({ status: 'paused', paused: false, holder: null });
    expect(m.cmd('act', 't', 1, 'r', write)).toMatchObject({ error: 'TaskPausedError' });
    expect(m.cmd('act', 'sub', 1, 'r', write)).toMatchObject({ error: 'TaskPausedError' });
    expect(unwrap(m.cmd<CampaignResult>('campaign', 't', 'a2'))).toMatchObject({
      status: 'waiting',
      taskStatus: 'paused',
    });
    m.cmd('createTask', 'sub2', { parent: 't' });
    expect(task(m, 'sub2').status).toBe('paused'); // created under a paused parent
    unwrap(m.cmd('resume', 't', 'alice'));
    expect(task(m)).toMatchObject({ status: 'held', holder: 'a3', epoch: 2 });
    expect(task(m, 'sub')).toMatchObject({ status: 'vacant', epoch: 1 }); // a2 applied to t, not to sub
    expect(task(m, 'sub2').status).toBe('vacant');
  });

  it('resuming a parent leaves a subtask a human paused itself paused', () => {
    const m = setup();
    m.cmd('createTask', 'sub', { parent: 't' });
    m.cmd('pause', 'sub', 'bob');
    m.cmd('pause', 't', 'alice');
    m.cmd('resume', 't', 'alice');
    expect(task(m, 'sub')).toMatchObject({ status: 'paused', paused: true });
    m.cmd('resume', 'sub', 'bob');
    expect(task(m, 'sub').status).toBe('vacant');
  });

  it('a designation made while paused takes effect on resume', () => {
    const m = setup();
    m.cmd('pause', 't', 'alice');
    m.cmd('designate', 't', 'a2', 'alice');
    expect(task(m)).toMatchObject({ status: 'paused', holder: null });
    m.cmd('resume', 't', 'alice');
    expect(task(m)).toMatchObject({ status: 'held', holder: 'a2', epoch: 2 });
  });

  it('an approval task waits at each checkpoint; the approval starts a new epoch, voiding earlier instructions', () => {
    const m = setup({ approval: true });
    const cp = unwrap(
      m.cmd<CheckpointResult>('checkpoint', 't', 1, { state: 'plan', summary: 'plan ready' }),
    );
    expect(cp).toMatchObject({ awaitingApproval: true, checkpoint: { seq: 1 } });
    expect(task(m)).toMatchObject({
      status: 'awaiting-approval',
      holder: null,
      awaiting: { checkpoint: 1, holder: 'a1' },
    });
    expect(m.cmd('act', 't', 1, 'r', write)).toMatchObject({ error: 'AwaitingApprovalError' });
    m.advance(5000); // no lease runs while waiting on a human
    m.cmd('tick');
    expect(task(m).status).toBe('awaiting-approval');
    unwrap(m.cmd('approve', 't', 1, 'alice'));
    expect(task(m)).toMatchObject({ status: 'held', holder: 'a1', epoch: 2, awaiting: null });
    expect(m.cmd('act', 't', 1, 'r', write)).toMatchObject({ error: 'StaleEpochError' }); // issued before approval: void
    expect(m.cmd<ActResult>('act', 't', 2, 'r', write).ok).toBe(true);
    expect(m.query<HistoryPage>('history', 't').events.map((e) => e.kind)).toEqual([
      'created',
      'granted',
      'checkpoint',
      'ended',
      'approved',
      'granted',
    ]);
  });

  it('approve may hand the task to another candidate', () => {
    const m = setup({ approval: true });
    m.cmd('checkpoint', 't', 1, { state: 'plan' });
    unwrap(m.cmd('approve', 't', 1, 'alice', 'a2'));
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2 });
  });

  it('approval of a checkpoint the task does not wait on is refused with NotAwaitingApprovalError', () => {
    const m = setup({ approval: true });
    expect(m.cmd('approve', 't', 1, 'alice')).toMatchObject({ error: 'NotAwaitingApprovalError' });
    m.cmd('checkpoint', 't', 1, { state: 'plan' });
    expect(m.cmd('approve', 't', 2, 'alice')).toMatchObject({
      error: 'NotAwaitingApprovalError',
      message: 'task t awaits approval of checkpoint 1, not 2',
    });
    m.cmd('pause', 't', 'alice');
    expect(m.cmd('approve', 't', 1, 'alice')).toMatchObject({ error: 'TaskPausedError' });
    m.cmd('resume', 't', 'alice');
    expect(task(m).status).toBe('awaiting-approval'); // the wait survives a pause
  });

  it('a resignation with a checkpoint on an approval task waits for approval, then the policy selects', () => {
    const m = setup({ approval: true });
    m.cmd('campaign', 't', 'a2');
    m.cmd('resign', 't', 1, { state: 'done part 1' });
    expect(task(m)).toMatchObject({ status: 'awaiting-approval', awaiting: { checkpoint: 1, holder: null } });
    m.cmd('approve', 't', 1, 'alice');
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2 });
  });

  it('removeTask refuses a task with subtasks, and removes a leaf with its resources', () => {
    const m = setup();
    m.cmd('createTask', 'sub', { parent: 't' });
    expect(m.cmd('removeTask', 't', 'alice')).toMatchObject({ error: 'TaskNotEmptyError' });
    expect(m.cmd('removeTask', 'sub', 'alice')).toMatchObject({ ok: true, removed: 'sub' });
    expect(task(m).children).toEqual([]);
    m.cmd('act', 't', 1, 'r', write);
    m.cmd('removeTask', 't', 'alice');
    expect(m.query('task', 't')).toBeNull();
    expect(m.query('resource', 't', 'r')).toBeNull();
    expect(m.query('candidate', 'a1')).toMatchObject({ holding: 0 });
  });

  it('a fenced subtask is created only while the epoch it names holds the parent', () => {
    const m = setup();
    expect(m.cmd('createTask', 's1', { parent: 't', parentEpoch: 1 })).toMatchObject({ ok: true });
    m.cmd('resign', 't', 1);
    expect(m.cmd('createTask', 's2', { parent: 't', parentEpoch: 1 })).toMatchObject({
      error: 'NotCoordinatorError',
    });
    expect(m.query('task', 's2')).toBeNull();
    expect(task(m).children).toEqual(['s1']);
  });
});
