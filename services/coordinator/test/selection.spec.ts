import { fnv1a, select, unwrap, type Applicant, type CampaignResult, type TaskView } from '../src/index';
import { Machine } from './support/host';

/** A task of `policy` with applicants campaigning in `order` while a0 holds it; a0's lease then runs out. */
function nextHolder(
  policy: string,
  order: string[],
  extra: object = {},
  prepare?: (m: Machine) => void,
): string | null {
  const m = new Machine();
  m.cmd('register', 'a0');
  for (const a of order) if (a !== 'a0') m.cmd('register', a, { capabilities: { code: 1 }, load: 0 });
  prepare?.(m);
  m.cmd('createTask', 't', { leaseMs: 1000, policy: 'first', ...extra });
  m.cmd('campaign', 't', 'a0');
  m.cmd('createTask', 'p', { leaseMs: 1000, policy, ...extra });
  m.cmd('designate', 'p', 'a0', 'alice'); // every policy starts from the same holder
  for (const a of order) m.cmd('campaign', 'p', a);
  m.advance(1000);
  m.cmd('tick');
  return m.query<TaskView>('task', 'p').holder;
}

describe('coordinator - selection policies', () => {
  it("'first' selects the applicant that campaigned first", () => {
    expect(nextHolder('first', ['a2', 'a1', 'a3'])).toBe('a2');
  });

  it("'designated' selects only the designated candidate, and only once it campaigns", () => {
    const m = new Machine();
    for (const a of ['a1', 'a2']) m.cmd('register', a);
    m.cmd('createTask', 't', { policy: 'designated', designated: 'a2' });
    expect(unwrap(m.cmd<CampaignResult>('campaign', 't', 'a1')).status).toBe('waiting');
    expect(unwrap(m.cmd<CampaignResult>('campaign', 't', 'a2')).status).toBe('elected');
    const m2 = new Machine();
    m2.cmd('register', 'a1');
    m2.cmd('createTask', 't', { policy: 'designated' });
    m2.cmd('campaign', 't', 'a1');
    expect(m2.query<TaskView>('task', 't').status).toBe('vacant'); // nobody designated: nobody selected
  });

  it("'capability' leaves out applicants lacking a required capability, then takes the best score", () => {
    const holder = nextHolder(
      'capability',
      ['a1', 'a2', 'a3', 'a4'],
      { requires: ['code', 'review'] },
      (m) => {
        m.cmd('register', 'a0', { capabilities: { code: 1, review: 1 } });
        m.cmd('register', 'a1', { capabilities: { code: 5, review: 1 } });
        m.cmd('register', 'a2', { capabilities: { code: 9, review: 0 } });
        m.cmd('register', 'a3', { capabilities: { code: 3, review: 3 } });
        m.cmd('register', 'a4', { capabilities: { code: 50 } }); // no review: ineligible
      },
    );
    expect(holder).toBe('a2'); // 9 beats 6 (a1, earlier) and 6 (a3)
  });

  it("'capability' breaks a tie by campaign order", () => {
    const holder = nextHolder('capability', ['a3', 'a1'], { requires: ['code'] }, (m) => {
      m.cmd('register', 'a0', { capabilities: { code: 1 } });
    });
    expect(holder).toBe('a3');
  });

  it("'least-loaded' takes the smallest declared load plus tasks held", () => {
    const holder = nextHolder('least-loaded', ['a1', 'a2', 'a3'], {}, (m) => {
      m.cmd('register', 'a1', { load: 3 });
      m.cmd('register', 'a2', { load: 1 });
      m.cmd('register', 'a3', { load: 2 });
      for (const t of ['x', 'y']) {
        m.cmd('createTask', t);
        m.cmd('campaign', t, 'a2'); // a2 now holds two tasks: 1 + 2 = 3
      }
    });
    expect(holder).toBe('a3');
  });

  it("'round-robin' takes the applicant whose id follows the last holder's, wrapping around", () => {
    const input = (lastHolder: string | null) => ({
      policy: 'round-robin' as const,
      task: 't',
      epoch: 2,
      requires: [],
      designated: null,
      lastHolder,
      applicants: ['c', 'a', 'b'].map((id): Applicant => ({ id, capabilities: {}, load: 0, holding: 0 })),
    });
    expect(select(input('a'))).toBe('b');
    expect(select(input('b'))).toBe('c');
    expect(select(input('c'))).toBe('a');
    expect(select(input(null))).toBe('a');
    expect(nextHolder('round-robin', ['a3', 'a1', 'a2'])).toBe('a1'); // after a0
  });

  it("'random' is seeded by the task and the epoch: the same on every replica, spread over applicants", () => {
    const applicants = ['a', 'b', 'c', 'd'].map((id): Applicant => ({
      id,
      capabilities: {},
      load: 0,
      holding: 0,
    }));
    const pick = (task: string, epoch: number, order = applicants) =>
      select({
        policy: 'random',
        task,
        epoch,
        requires: [],
        designated: null,
        lastHolder: null,
        applicants: order,
      });
    expect(pick('t', 7)).toBe(pick('t', 7, [...applicants].reverse())); // campaign order does not matter
    const counts = new Map<string, number>();
    for (let e = 1; e <= 400; e++) counts.set(pick('t', e)!, (counts.get(pick('t', e)!) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(60);
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c); // the published FNV-1a test vector
  });

  it('every policy selects nobody from no applicants', () => {
    for (const policy of [
      'first',
      'designated',
      'capability',
      'least-loaded',
      'round-robin',
      'random',
    ] as const) {
      expect(
        select({
          policy,
          task: 't',
          epoch: 1,
          requires: [],
          designated: 'x',
          lastHolder: null,
          applicants: [],
        }),
      ).toBeNull();
    }
  });

  it('a candidate lacking a required capability is refused with IneligibleCandidateError', () => {
    const m = new Machine();
    m.cmd('register', 'a1', { capabilities: { code: 1 } });
    m.cmd('createTask', 't', { requires: ['code', 'deploy'] });
    expect(m.cmd('campaign', 't', 'a1')).toMatchObject({
      ok: false,
      error: 'IneligibleCandidateError',
      message: 'candidate a1 lacks deploy for task t',
    });
  });
});
