import {
  ConfigError,
  DivergedError,
  MembershipChangeError,
  NotLeaderError,
  ProposalTimeoutError,
} from '@raftline/core';
import { LastIndexHistory } from '../src/admin-status';
import { verifyReport } from '../src/admin-verify';
import {
  decodeAdminReply,
  decodeAdminRequest,
  encodeAdminError,
  encodeAdminValue,
  reviveAdminError,
} from '../src/admin-wire';
import {
  ADMIN_OPERATIONS,
  AdminRefusedError,
  AdminRequestError,
  AdminTimeoutError,
  groupSubjects,
  RemoteAdminError,
  SubjectTokenError,
} from '../src/index';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('admin subjects - their own token under the group', () => {
  it('names one replica’s and any replica’s admin subject per operation', () => {
    const s = groupSubjects('prod', 'orders');
    expect(s.admin('n1', 'status')).toBe('raftline.prod.orders.admin.n1.status');
    expect(s.adminAny('status')).toBe('raftline.prod.orders.admin.status');
    for (const op of ADMIN_OPERATIONS) expect(s.admin('n2', op)).toBe(`raftline.prod.orders.admin.n2.${op}`);
    expect(() => s.admin('a.b', 'status')).toThrow(SubjectTokenError);
    expect(() => s.admin('n1', '>')).toThrow(/^operation /);
  });
});

describe('admin wire - requests are checked JSON objects', () => {
  it('reads an empty payload as {} and a well-formed request as its fields', () => {
    expect(decodeAdminRequest('status', new Uint8Array())).toEqual({});
    expect(decodeAdminRequest('add-voter', bytes('{"node":"n4","maxLag":0,"timeoutMs":500}'))).toEqual({
      node: 'n4',
      maxLag: 0,
      timeoutMs: 500,
    });
    expect(decodeAdminRequest('transfer', bytes('{}'))).toEqual({});
  });

  it.each([
    ['add-voter', 'nope', 'the payload is not JSON'],
    ['status', '[1]', 'the payload is not a JSON object'],
    ['status', '{"x":1}', 'unknown key "x"'],
    ['remove', '{}', 'node is missing'],
    ['remove', '{"node":5}', 'node must be a node id (a string)'],
    ['remove', '{"node":"a.b"}', "it contains '.'"],
    ['digest', '{"index":0}', 'index (0) must be positive'],
    ['digest', '{"index":1.5}', 'index must be an integer'],
    ['verify', '{"timeoutMs":0}', 'timeoutMs (0) must be between 1 and 300000'],
    ['add-voter', '{"node":"n4","maxLag":-1}', 'maxLag (-1) must not be negative'],
  ] as const)('refuses %s %s with AdminRequestError: %s', (op, payload, problem) => {
    expect(() => decodeAdminRequest(op, bytes(payload))).toThrow(AdminRequestError);
    expect(() => decodeAdminRequest(op, bytes(payload))).toThrow(problem);
  });
});

describe('admin wire - replies carry values and rebuildable errors', () => {
  const roundTrip = (err: unknown, op = 'remove') => {
    const reply = decodeAdminReply(encodeAdminError('n1', err));
    if (!reply || reply.ok) throw new Error('not an error reply');
    return reviveAdminError(op, reply.node, reply.error);
  };

  it('round-trips a value', () => {
    expect(decodeAdminReply(encodeAdminValue('n2', { index: 7 }))).toEqual({
      ok: true,
      node: 'n2',
      value: { index: 7 },
    });
  });

  it('rebuilds admin errors and core errors as their own classes, with their fields', () => {
    const refused = roundTrip(new AdminRefusedError('promote', 'n4 is not a learner'));
    expect(refused).toBeInstanceOf(AdminRefusedError);
    expect(refused).toMatchObject({ operation: 'promote', reason: 'n4 is not a learner' });
    expect(roundTrip(new AdminTimeoutError('add-voter', 'n1', 900))).toMatchObject({
      name: 'AdminTimeoutError',
      nodeId: 'n1',
      timeoutMs: 900,
    });
    const notLeader = roundTrip(new NotLeaderError('n2', 'n3'));
    expect(notLeader).toBeInstanceOf(NotLeaderError);
    expect(notLeader).toMatchObject({ nodeId: 'n2', leaderId: 'n3' });
    expect(roundTrip(new MembershipChangeError('another membership change is still in progress'))).toEqual(
      new MembershipChangeError('another membership change is still in progress'),
    );
    expect(roundTrip(new ProposalTimeoutError(400))).toBeInstanceOf(ProposalTimeoutError);
    const diverged = roundTrip(new DivergedError('n3', 12, 's1:aa', 's1:bb'));
    expect(diverged).toBeInstanceOf(DivergedError);
    expect(diverged).toMatchObject({ index: 12, expected: 's1:aa', actual: 's1:bb' });
    const config = roundTrip(new ConfigError(['snapshotStore is not set', 'and another']));
    expect(config).toBeInstanceOf(ConfigError);
    expect((config as ConfigError).problems).toEqual(['snapshotStore is not set', 'and another']);
  });

  it('names any other error a RemoteAdminError, and a reply that is not one is undefined', () => {
    const other = roundTrip(new TypeError('boom'), 'snapshot');
    expect(other).toBeInstanceOf(RemoteAdminError);
    expect(other.message).toBe('snapshot failed on n1: TypeError: boom');
    expect(decodeAdminReply(bytes('nope'))).toBeUndefined();
    expect(decodeAdminReply(bytes('{"ok":true}'))).toBeUndefined();
    expect(decodeAdminReply(bytes('{"ok":false,"node":"n1","error":{}}'))).toBeUndefined();
  });
});

describe('lag in ms - the leader’s own samples of its last index', () => {
  it('is the age of the first sample that held the entry after the follower’s match index', () => {
    const h = new LastIndexHistory(10_000, 0);
    h.record(0, 5);
    h.record(100, 5);
    h.record(200, 8);
    h.record(300, 12);
    expect(h.ageOf(1000, 9)).toEqual({ ms: 700, atLeast: false }); // index 9 first held at 300
    expect(h.ageOf(1000, 8)).toEqual({ ms: 800, atLeast: false });
    expect(h.ageOf(1000, 13)).toEqual({ ms: 0, atLeast: false }); // not held yet
    // Held from the first sample on: as old as sampling, a lower bound.
    expect(h.ageOf(1000, 3)).toEqual({ ms: 1000, atLeast: true });
  });

  it('keeps one sample older than the window and caps what it can tell at the window', () => {
    const h = new LastIndexHistory(1000, 0);
    for (let t = 0; t <= 5000; t += 100) h.record(t, t / 100);
    expect(h.ageOf(5000, 45)).toEqual({ ms: 500, atLeast: false });
    const old = h.ageOf(5000, 10);
    expect(old.atLeast).toBe(true);
    expect(old.ms).toBeGreaterThanOrEqual(1000);
    expect(old.ms).toBeLessThanOrEqual(1100);
  });

  it('forgets samples above a truncated last index', () => {
    const h = new LastIndexHistory(10_000, 0);
    h.record(0, 1);
    h.record(100, 10);
    h.record(200, 4); // the log was truncated back to 4
    h.record(300, 6);
    expect(h.ageOf(400, 6)).toEqual({ ms: 100, atLeast: false });
    expect(h.ageOf(400, 4)).toEqual({ ms: 200, atLeast: false });
  });
});

describe('verify report - the digest most replicas hold is the reference', () => {
  const result = { index: 9, digest: 's1:L', reportIndex: 10 };

  it('names the one replica that differs, the leader included', () => {
    const r = verifyReport(result, 'n1', [
      { node: 'n1', digest: 's1:L' },
      { node: 'n2', digest: 's1:X' },
      { node: 'n3', digest: 's1:X' },
    ]);
    expect(r).toMatchObject({ index: 9, leaderId: 'n1', digest: 's1:X', agree: false, disagreeing: ['n1'] });
  });

  it('takes the leader’s digest on a tie, and lists replicas without a digest as missing', () => {
    const r = verifyReport(result, 'n1', [
      { node: 'n1', digest: 's1:L' },
      { node: 'n2', digest: 's1:X' },
      { node: 'n3', reason: 'nobody serves its admin subject' },
    ]);
    expect(r).toMatchObject({ digest: 's1:L', agree: false, disagreeing: ['n2'], missing: ['n3'] });
    const all = verifyReport(result, 'n1', [
      { node: 'n1', digest: 's1:L' },
      { node: 'n2', digest: 's1:L' },
    ]);
    expect(all).toMatchObject({ agree: true, disagreeing: [], missing: [] });
  });
});
