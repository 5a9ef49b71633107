import {
  unwrap,
  type CampaignResult,
  type RenewResult,
  type ResignResult,
  type TaskView,
  type TickResult,
  type HistoryPage,
  type Refusal,
} from '../src/index';
import { Machine } from './support/host';

function setup(options: object = {}): Machine {
  const m = new Machine();
  for (const a of ['a1', 'a2', 'a3']) m.cmd('register', a);
  m.cmd('createTask', 't', { leaseMs: 1000, ...options });
  return m;
}

const campaign = (m: Machine, who: string): CampaignResult => m.cmd('campaign', 't', who);
const task = (m: Machine): TaskView => m.query<TaskView>('task', 't');

describe('coordinator - campaign and leases', () => {
  it('the first candidate to campaign for a vacant task holds it with epoch 1, leaseMs from the grant', () => {
    const m = setup();
    const r = unwrap(campaign(m, 'a1'));
    expect(r).toMatchObject({
      status: 'elected',
      lease: { task: 't', epoch: 1, holder: 'a1', grantedAt: 1000, expiresAt: 2000 },
    });
    expect(unwrap(campaign(m, 'a2'))).toMatchObject({
      status: 'waiting',
      epoch: 1,
      holder: 'a1',
      position: 0,
    });
    expect(task(m)).toMatchObject({ status: 'held', holder: 'a1', epoch: 1, applicants: ['a2'] });
  });

  it('campaigning again is idempotent, and is how a waiting candidate learns it was selected', () => {
    const m = setup();
    campaign(m, 'a1');
    campaign(m, 'a2');
    expect(unwrap(campaign(m, 'a2'))).toMatchObject({ status: 'waiting', position: 0 });
    m.advance(1000);
    m.cmd('tick'); // a1's lease ends; a2 is selected by a command it did not send
    expect(unwrap(campaign(m, 'a2'))).toMatchObject({ status: 'elected', lease: { epoch: 2, holder: 'a2' } });
    expect(unwrap(campaign(m, 'a2'))).toMatchObject({ status: 'elected', lease: { epoch: 2 } });
  });

  it('a lease holds until leaseMs after the last renewal and not a millisecond more', () => {
    const m = setup();
    campaign(m, 'a1');
    m.advance(600);
    expect(unwrap(m.cmd<RenewResult>('renew', 't', 1)).lease.expiresAt).toBe(2600);
    m.advance(999); // 2599: one ms left
    expect(m.cmd<RenewResult>('renew', 't', 1).ok).toBe(true);
    m.advance(1000); // exactly at the expiry the renewal gave (3599)
    expect(m.cmd<RenewResult>('renew', 't', 1)).toMatchObject({
      ok: false,
      error: 'LeaseExpiredError',
      reason: 'expired',
    });
  });

  it('an expired lease ends at its expiry, before the next coordinator is granted', () => {
    const m = setup();
    campaign(m, 'a1');
    campaign(m, 'a2');
    m.advance(5000); // noticed long after it ran out
    expect(unwrap(campaign(m, 'a2')).status).toBe('elected');
    const events = m.query<HistoryPage>('history', 't').events;
    const ended = events.find((e) => e.kind === 'ended')!;
    const granted = events.filter((e) => e.kind === 'granted')[1]!;
    expect(ended).toMatchObject({ epoch: 1, candidate: 'a1', reason: 'expired', until: 2000, at: 6000 });
    expect(granted).toMatchObject({ epoch: 2, candidate: 'a2', at: 6000 });
    expect(granted.seq).toBeGreaterThan(ended.seq);
  });

  it('tick ends the expired leases no other command touches, and fills vacancies', () => {
    const m = setup();
    m.cmd('createTask', 'u', { leaseMs: 5000 });
    campaign(m, 'a1');
    m.cmd('campaign', 'u', 'a1');
    campaign(m, 'a3');
    m.advance(1000);
    const r = unwrap(m.cmd<TickResult>('tick'));
    expect(r.ended).toEqual([{ task: 't', epoch: 1, reason: 'expired' }]);
    expect(r.granted).toEqual([{ task: 't', epoch: 2, holder: 'a3' }]);
    expect(m.query<TaskView>('task', 'u')).toMatchObject({ status: 'held', holder: 'a1' });
  });

  it('a query shows an unnoticed expiry as held, with leaseExpiresAt ≤ asOf', () => {
    const m = setup();
    campaign(m, 'a1');
    m.advance(3000);
    m.cmd('register', 'a4'); // a command that does not touch t
    expect(task(m)).toMatchObject({ status: 'held', leaseExpiresAt: 2000, asOf: 4000 });
    expect(m.query('fence', 't', 1)).toMatchObject({ current: false, currentEpoch: 1, asOf: 4000 });
  });

  it('epochs strictly increase across every kind of handoff', () => {
    const m = setup();
    const epochs: number[] = [];
    campaign(m, 'a1');
    epochs.push(task(m).epoch);
    campaign(m, 'a2');
    m.cmd('resign', 't', 1);
    epochs.push(task(m).epoch);
    m.cmd('designate', 't', 'a3', 'alice');
    epochs.push(task(m).epoch);
    campaign(m, 'a1');
    m.cmd('revoke', 't', 'alice');
    epochs.push(task(m).epoch);
    campaign(m, 'a2');
    m.advance(1000);
    m.cmd('tick');
    epochs.push(task(m).epoch);
    expect(epochs).toEqual([1, 2, 3, 4, 5]);
    expect(task(m).holder).toBe('a2');
  });

  it('renewals without progress end the lease after stuckAfterRenewals ("alive but stuck")', () => {
    const m = setup({ stuckAfterRenewals: 3 });
    campaign(m, 'a1');
    campaign(m, 'a2');
    expect(m.cmd<RenewResult>('renew', 't', 1, { marker: 1 }).ok).toBe(true);
    expect(m.cmd<RenewResult>('renew', 't', 1, { marker: 1 }).ok).toBe(true); // idle 1
    expect(m.cmd<RenewResult>('renew', 't', 1, { marker: 2 }).ok).toBe(true); // progress: idle 0
    expect(m.cmd<RenewResult>('renew', 't', 1, { marker: 2 }).ok).toBe(true); // idle 1
    expect(m.cmd<RenewResult>('renew', 't', 1).ok).toBe(true); // idle 2: no marker is no progress
    const stuck = m.cmd<RenewResult>('renew', 't', 1, { marker: 2 }); // idle 3
    // a2 was selected in the same command, so epoch 1 is already stale; the reason says why it ended
    expect(stuck).toMatchObject({ ok: false, error: 'StaleEpochError', reason: 'stuck' });
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2, lastEnd: { epoch: 1, reason: 'stuck' } });
  });

  it('a checkpoint counts as progress for stuck detection', () => {
    const m = setup({ stuckAfterRenewals: 2 });
    campaign(m, 'a1');
    m.cmd('renew', 't', 1);
    m.cmd('checkpoint', 't', 1, { state: 's' });
    expect(m.cmd<RenewResult>('renew', 't', 1).ok).toBe(true);
    expect(m.cmd<RenewResult>('renew', 't', 1)).toMatchObject({
      error: 'LeaseExpiredError',
      reason: 'stuck',
    });
  });

  it('a token budget exceeded ends the lease ("over budget")', () => {
    const m = setup({ budget: { tokens: 100 } });
    campaign(m, 'a1');
    expect(m.cmd<RenewResult>('renew', 't', 1, { tokens: 60 }).ok).toBe(true);
    expect(m.cmd<RenewResult>('renew', 't', 1, { tokens: 40 }).ok).toBe(true); // cumulative: the highest counts
    expect(m.cmd<RenewResult>('renew', 't', 1, { tokens: 101 })).toMatchObject({
      error: 'LeaseExpiredError',
      reason: 'over-budget',
    });
  });

  it('a time budget caps the lease however often it is renewed', () => {
    const m = setup({ budget: { ms: 2500 } });
    campaign(m, 'a1'); // granted at 1000: the tenure ends by 3500
    for (let i = 0; i < 3; i++) {
      m.advance(700);
      expect(unwrap(m.cmd<RenewResult>('renew', 't', 1)).lease.expiresAt).toBe(Math.min(m.time + 1000, 3500));
    }
    m.advance(400); // 3500
    expect(m.cmd<RenewResult>('renew', 't', 1)).toMatchObject({
      error: 'LeaseExpiredError',
      reason: 'over-budget',
    });
  });

  it('a budget is per tenure: the next coordinator starts with a fresh one', () => {
    const m = setup({ budget: { tokens: 10 } });
    campaign(m, 'a1');
    campaign(m, 'a2');
    m.cmd('renew', 't', 1, { tokens: 11 });
    expect(unwrap(m.cmd<RenewResult>('renew', 't', 2, { tokens: 5 })).lease.holder).toBe('a2');
  });

  it('the next coordinator receives the last checkpoint', () => {
    const m = setup();
    campaign(m, 'a1');
    m.cmd('checkpoint', 't', 1, { state: 'step 1', summary: 'one' });
    m.cmd('checkpoint', 't', 1, { state: new Uint8Array([1, 2, 3]), summary: 'two' });
    campaign(m, 'a2');
    m.advance(1000);
    const r = unwrap(campaign(m, 'a2'));
    expect(r.status === 'elected' && r.checkpoint).toMatchObject({
      seq: 2,
      epoch: 1,
      by: 'a1',
      summary: 'two',
    });
    expect(r.status === 'elected' && [...(r.checkpoint!.state as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it('resigning with a checkpoint hands the task and the checkpoint over at once', () => {
    const m = setup({ policy: 'first' });
    campaign(m, 'a1');
    campaign(m, 'a2');
    const r = unwrap(m.cmd<ResignResult>('resign', 't', 1, { state: 'half done', summary: 'halfway' }));
    expect(r).toMatchObject({ epoch: 2, holder: 'a2', checkpoint: { seq: 1, summary: 'halfway', bytes: 9 } });
    const elected = unwrap(campaign(m, 'a2'));
    expect(elected.status === 'elected' && elected.checkpoint?.state).toBe('half done');
  });

  it('a resigned epoch is refused with NotCoordinatorError, a superseded one with StaleEpochError', () => {
    const m = setup();
    campaign(m, 'a1');
    m.cmd('resign', 't', 1);
    expect(m.cmd<Refusal>('renew', 't', 1)).toMatchObject({
      error: 'NotCoordinatorError',
      reason: 'resigned',
      epoch: 1,
    });
    campaign(m, 'a2');
    expect(m.cmd<Refusal>('renew', 't', 1)).toMatchObject({
      error: 'StaleEpochError',
      epoch: 2,
      holder: 'a2',
    });
  });

  it('withdrawing leaves the applicants; the withdrawn candidate is never selected', () => {
    const m = setup();
    campaign(m, 'a1');
    campaign(m, 'a2');
    expect(m.cmd('withdraw', 't', 'a2')).toMatchObject({ withdrawn: true });
    m.advance(1000);
    m.cmd('tick');
    expect(task(m)).toMatchObject({ status: 'vacant', holder: null, epoch: 1 });
  });

  it('gatherMs lets applicants gather before a vacant task selects', () => {
    const m = setup({ gatherMs: 500, policy: 'least-loaded' });
    m.cmd('register', 'a1', { load: 5 });
    expect(unwrap(campaign(m, 'a1')).status).toBe('waiting');
    m.advance(200);
    campaign(m, 'a2');
    m.advance(300);
    m.cmd('tick');
    expect(task(m).holder).toBe('a2'); // the less loaded, although a1 asked first
  });

  it('unregistering ends the tenures a candidate holds and selects the next coordinator', () => {
    const m = setup();
    campaign(m, 'a1');
    campaign(m, 'a2');
    expect(m.cmd('unregister', 'a1')).toMatchObject({ ok: true, ended: ['t'] });
    expect(task(m)).toMatchObject({ holder: 'a2', epoch: 2, lastEnd: { reason: 'unregistered' } });
    expect(m.cmd('campaign', 't', 'a1')).toMatchObject({ ok: false, error: 'UnknownCandidateError' });
  });
});
