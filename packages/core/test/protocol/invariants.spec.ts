import type { Entry, NodeId } from '../../src/index';
import { InvariantViolation, SafetyChecker, type NodeObservation } from '../support/invariants';
import { encoder } from '../support/schedule-cluster';

// ------------------------------------------- the checker must be able to fail

describe('test support - SafetyChecker rejects broken histories', () => {
  const entry = (index: number, term: number, data = `${index}.${term}`): Entry => ({
    index,
    term,
    type: 'normal',
    data: encoder.encode(data),
  });
  const log = (...terms: number[]): Entry[] => terms.map((t, k) => entry(k + 1, t));
  const node = (id: NodeId, fields: Partial<NodeObservation> = {}): NodeObservation => ({
    id,
    incarnation: 0,
    role: 'follower',
    term: 3,
    commitIndex: 0,
    appliedIndex: 0,
    entries: [],
    ...fields,
  });
  /** Runs `f` and returns the property it reported violated. */
  const violated = (f: () => void): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof InvariantViolation) return e.property;
      throw e;
    }
    throw new Error('no violation reported');
  };

  it('accepts a consistent history: a stale leader may lack what a later term committed', () => {
    const checker = new SafetyChecker();
    checker.check([
      node('a', { role: 'leader', term: 1, entries: log(1) }),
      node('b', { term: 1, entries: log(1) }),
    ]);
    checker.check([
      node('a', { role: 'leader', term: 1, entries: log(1) }), // deposed, does not know yet
      node('b', { role: 'leader', term: 2, entries: log(1, 2, 2), commitIndex: 3, appliedIndex: 2 }),
      node('c', { term: 2, entries: log(1, 2), commitIndex: 2 }),
    ]);
    checker.recordApplied('b', 0, log(1, 2));
    checker.recordApplied('b', 0, log(1, 2, 2).slice(2));
  });

  it('election safety: two leaders of one term, even at different times', () => {
    const checker = new SafetyChecker();
    checker.check([node('a', { role: 'leader', term: 2 })]);
    expect(violated(() => checker.check([node('b', { role: 'leader', term: 2 })]))).toBe('election safety');
  });

  it('log matching: an entry with the same index and term over different prefixes', () => {
    const a = node('a', { entries: [entry(1, 1, 'x'), entry(2, 2)] });
    const b = node('b', { entries: [entry(1, 1, 'y'), entry(2, 2)] });
    expect(violated(() => new SafetyChecker().check([a, b]))).toBe('log matching');
    const c = node('c', { entries: [entry(1, 1), entry(2, 2, 'z')] });
    expect(violated(() => new SafetyChecker().check([node('a', { entries: log(1, 2) }), c]))).toBe(
      'log matching',
    );
  });

  it('leader completeness: a leader of a later term lacks a committed entry', () => {
    const checker = new SafetyChecker();
    checker.check([node('a', { term: 2, entries: log(1, 2), commitIndex: 2 })]);
    const leader = node('b', { role: 'leader', term: 3, entries: log(1, 3) });
    expect(violated(() => checker.check([leader]))).toBe('leader completeness');
  });

  it('state-machine safety: two entries applied, or committed, at one index', () => {
    const applied = new SafetyChecker();
    applied.recordApplied('a', 0, [entry(1, 1, 'x')]);
    expect(violated(() => applied.recordApplied('b', 0, [entry(1, 1, 'y')]))).toBe('state-machine safety');
    const committed = new SafetyChecker();
    committed.check([node('a', { entries: [entry(1, 1, 'x')], commitIndex: 1 })]);
    const other = node('b', { entries: [entry(1, 2, 'y')], commitIndex: 1 });
    expect(violated(() => committed.check([other]))).toBe('state-machine safety');
  });

  it('commit monotonicity within an incarnation; a restart may start lower', () => {
    const checker = new SafetyChecker();
    checker.check([node('a', { entries: log(1, 1), commitIndex: 2 })]);
    checker.check([node('a', { incarnation: 1, entries: log(1, 1), commitIndex: 1 })]);
    expect(violated(() => checker.check([node('a', { incarnation: 1, entries: log(1, 1) })]))).toBe(
      'commit monotonicity',
    );
  });

  it('applied ≤ committed, and apply order without gaps', () => {
    const checker = new SafetyChecker();
    const ahead = node('a', { entries: log(1, 1), commitIndex: 1, appliedIndex: 2 });
    expect(violated(() => checker.check([ahead]))).toBe('applied ≤ committed');
    checker.recordApplied('b', 0, log(1));
    expect(violated(() => checker.recordApplied('b', 0, log(1, 1, 1).slice(2)))).toBe('apply order');
  });

  it('log shape: gaps, decreasing terms, terms above the node', () => {
    expect(
      violated(() => new SafetyChecker().check([node('a', { entries: [entry(1, 1), entry(3, 1)] })])),
    ).toBe('log shape');
    expect(violated(() => new SafetyChecker().check([node('a', { entries: log(2, 1) })]))).toBe('log shape');
    expect(violated(() => new SafetyChecker().check([node('a', { term: 1, entries: log(2) })]))).toBe(
      'log shape',
    );
  });
});
