import { MachineHost } from '@raftline/core';
import { Coordinator, type CandidateView, type HistoryPage, type TaskView } from '../src/index';
import { Machine } from './support/host';

/** A little of everything: candidates, a task tree, grants, checkpoints, writes, an override, a pause. */
function busy(m: Machine): void {
  m.cmd('register', 'a1', { capabilities: { code: 2 }, load: 1 });
  m.cmd('register', 'a2', { capabilities: { code: 1 } });
  m.cmd('createTask', 'root', { leaseMs: 1000, policy: 'capability', requires: ['code'] });
  m.cmd('createTask', 'root/a', { parent: 'root', approval: true });
  m.cmd('campaign', 'root', 'a2');
  m.cmd('campaign', 'root', 'a1');
  m.cmd('checkpoint', 'root', 1, { state: new Uint8Array([7, 7]), summary: 's' });
  m.cmd('act', 'root', 1, 'doc', { op: 'set', value: { lines: ['x'], at: new Date(5) } });
  m.cmd('campaign', 'root/a', 'a1');
  m.cmd('checkpoint', 'root/a', 1, { state: 'wait' });
  m.advance(700);
  m.cmd('designate', 'root', 'a1', 'alice');
  m.cmd('pause', 'root/a', 'bob');
}

describe('coordinator - state, queries and snapshots', () => {
  it('the history records coordinator changes, checkpoints and overrides in order', () => {
    const m = new Machine();
    busy(m);
    const page = m.query<HistoryPage>('history', 'root');
    expect(page.events.map((e) => [e.kind, e.epoch, e.candidate, e.reason])).toEqual([
      ['created', 0, null, null],
      ['granted', 1, 'a2', null],
      ['checkpoint', 1, 'a2', null],
      ['designated', 1, 'a1', null],
      ['ended', 1, 'a2', 'overridden'],
      ['granted', 2, 'a1', null],
    ]);
    expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(m.query<HistoryPage>('history', 'root', 4).events.map((e) => e.seq)).toEqual([5, 6]);
    expect(m.query('history', 'nope')).toBeNull();
  });

  it('the history is bounded by historyLimit; firstSeq says where it starts', () => {
    const m = new Machine({ historyLimit: 3 });
    m.cmd('register', 'a1');
    m.cmd('createTask', 't');
    m.cmd('campaign', 't', 'a1');
    for (let i = 0; i < 5; i++) m.cmd('checkpoint', 't', 1, { state: String(i) });
    const page = m.query<HistoryPage>('history', 't');
    expect(page).toMatchObject({ firstSeq: 5, lastSeq: 7 });
    expect(page.events.map((e) => e.checkpoint)).toEqual([3, 4, 5]);
  });

  it('tasks() pages through root tasks or one task’s subtasks in id order', () => {
    const m = new Machine();
    for (const id of ['c', 'a', 'b']) m.cmd('createTask', id);
    for (const id of ['a/2', 'a/1']) m.cmd('createTask', id, { parent: 'a' });
    const first = m.query<{ tasks: TaskView[]; next: string | null }>('tasks', { limit: 2 });
    expect(first.tasks.map((t) => t.id)).toEqual(['a', 'b']);
    expect(first.next).toBe('b');
    expect(m.query<{ tasks: TaskView[] }>('tasks', { after: 'b' }).tasks.map((t) => t.id)).toEqual(['c']);
    expect(m.query<{ tasks: TaskView[] }>('tasks', { parent: 'a' }).tasks.map((t) => t.id)).toEqual([
      'a/1',
      'a/2',
    ]);
    expect(m.query<TaskView>('task', 'a').children).toEqual(['a/2', 'a/1']);
  });

  it('candidates() lists the registered candidates with the tasks each holds', () => {
    const m = new Machine();
    busy(m);
    expect(m.query<CandidateView[]>('candidates').map((c) => [c.id, c.holding, c.load])).toEqual([
      ['a1', 1, 1],
      ['a2', 0, 0],
    ]);
  });

  it('a candidate registers with capabilities and load, and registering again updates them', () => {
    const m = new Machine();
    expect(m.cmd('register', 'a1', { capabilities: { code: 2 }, load: 3 })).toMatchObject({
      ok: true,
      candidate: { id: 'a1', capabilities: { code: 2 }, load: 3, holding: 0, registeredAt: 1000 },
    });
    m.advance(10);
    m.cmd('register', 'a1', { load: 1 });
    expect(m.query('candidate', 'a1')).toEqual({
      id: 'a1',
      capabilities: { code: 2 },
      load: 1,
      holding: 0,
      registeredAt: 1000,
    });
    expect(m.query('candidate', 'nobody')).toBeNull();
  });

  it('lastCheckpoint returns the last checkpoint with its state; task views carry only its size', () => {
    const m = new Machine();
    busy(m);
    expect(m.query('lastCheckpoint', 'root')).toMatchObject({
      seq: 1,
      epoch: 1,
      by: 'a2',
      summary: 's',
      state: new Uint8Array([7, 7]),
    });
    expect(m.query<TaskView>('task', 'root').checkpoint).toEqual({
      seq: 1,
      epoch: 1,
      by: 'a2',
      at: 1000,
      index: 7,
      summary: 's',
      bytes: 2,
    });
    expect(m.query('lastCheckpoint', 'nope')).toBeNull();
  });

  it('subtasks nest at most MAX_DEPTH deep', () => {
    const m = new Machine();
    m.cmd('createTask', 'd0');
    for (let d = 1; d <= 16; d++)
      expect(m.cmd('createTask', `d${d}`, { parent: `d${d - 1}` })).toMatchObject({ ok: true });
    expect(m.cmd('createTask', 'd17', { parent: 'd16' })).toMatchObject({
      ok: false,
      error: 'LimitExceededError',
    });
  });

  it('bounds on tasks, candidates and applicants are refusals', () => {
    const m = new Machine({ maxTasks: 1, maxCandidates: 2, maxApplicants: 1 });
    m.cmd('createTask', 't');
    expect(m.cmd('createTask', 'u')).toMatchObject({
      error: 'LimitExceededError',
      message: '1 tasks exist (maxTasks)',
    });
    m.cmd('register', 'a1');
    m.cmd('register', 'a2');
    expect(m.cmd('register', 'a3')).toMatchObject({ error: 'LimitExceededError' });
    m.cmd('createTask', 't', { gatherMs: 10_000 }); // exists: refused, t stays as it was
    m.cmd('campaign', 't', 'a1'); // held at once (gatherMs 0)
    m.cmd('campaign', 't', 'a2');
    m.cmd('register', 'a1'); // re-registering is no new candidate
    expect(m.query<TaskView>('task', 't').applicants).toEqual(['a2']);
  });

  it('a replica restored from a snapshot holds the same state and decides as the original', () => {
    const a = new Machine();
    busy(a);
    const b = new Machine();
    b.host.restore(a.host.snapshot());
    expect(b.host.digest()).toBe(a.host.digest());
    expect(b.query('task', 'root')).toEqual(a.query('task', 'root'));
    expect(b.query('resource', 'root', 'doc')).toEqual(a.query('resource', 'root', 'doc'));
    // the same commands next, on both
    const [index, time] = [a.host.appliedIndex, a.time + 5000];
    for (const m of [a, b]) {
      (m as unknown as { index: number }).index = index;
      m.time = time;
      m.cmd('register', 'a3', { capabilities: { code: 9 } });
      m.cmd('campaign', 'root', 'a3');
      m.cmd('tick');
      m.cmd('resume', 'root/a', 'bob');
      m.cmd('approve', 'root/a', 1, 'bob');
    }
    expect(b.host.digest()).toBe(a.host.digest());
    expect(a.query<TaskView>('task', 'root')).toMatchObject({ holder: 'a3', epoch: 3 });
    expect(a.query<TaskView>('task', 'root/a')).toMatchObject({ holder: 'a1', epoch: 2 });
  });

  it('a snapshot of another machine or version is refused', () => {
    const host = new MachineHost(new Coordinator());
    expect(() => host.machine.restoreState({ version: 0 })).toThrow(/not a version-1 coordinator state/);
  });
});
