import { singleFaultGaps, summarizeGaps } from './support/availability';
import { appliedOnceProblems, toOperations } from './support/checks';
import type { FaultRecord } from './support/faults';
import { staleReadProblems } from './support/kv-target';
import type { HistoryEntry } from './support/workload';
import type { KvInput, KvOutput } from '@raftline/testing';

type Entry = HistoryEntry<KvInput, KvOutput>;

const put = (
  client: number,
  n: number,
  key: string,
  value: string,
  call: number,
  ret?: number,
  outcome = 'ok',
): Entry => ({
  client,
  n,
  kind: 'command',
  name: 'put',
  args: [key, value],
  writeId: value,
  input: { op: 'put', key, value },
  call,
  ...(ret !== undefined ? { return: ret } : {}),
  outcome: outcome as Entry['outcome'],
  ...(outcome === 'ok' ? { output: null } : {}),
});

const get = (
  client: number,
  key: string,
  output: string | null,
  call: number,
  ret: number,
  consistency = 'linearizable',
): Entry => ({
  client,
  n: 0,
  kind: 'query',
  name: 'get',
  args: [key],
  consistency,
  input: { op: 'get', key },
  call,
  return: ret,
  outcome: 'ok',
  output,
});

describe('robustness checks - what a history must show', () => {
  it('toOperations: unknown commands stay pending, refused and failed ones are left out, stale reads set apart', () => {
    const entries = [
      put(0, 0, 'k', 'a', 0, 1),
      put(0, 1, 'k', 'b', 2, undefined, 'unknown'),
      put(1, 0, 'k', 'c', 3, 4, 'refused'),
      get(1, 'k', 'a', 5, 6),
      get(2, 'k', 'a', 5, 6, 'stale'),
    ];
    const { ordered, unordered } = toOperations(entries);
    expect(ordered.map((o) => [o.input.op, o.return])).toEqual([
      ['put', 1],
      ['put', undefined],
      ['get', 6],
    ]);
    expect(unordered).toHaveLength(1);
  });

  it('applied once: an acknowledged write ran once, an unknown one at most once, a refused one never', () => {
    const entries = [
      put(0, 0, 'k', 'a', 0, 1),
      put(0, 1, 'k', 'b', 2, undefined, 'unknown'),
      put(1, 0, 'k', 'c', 3, 4, 'refused'),
    ];
    expect(appliedOnceProblems(entries as HistoryEntry[], { r1: { a: 1, b: 1 }, r2: { a: 1 } })).toEqual([]);
    expect(appliedOnceProblems(entries as HistoryEntry[], { r1: { a: 2, b: 2, c: 1, z: 1 } })).toEqual([
      'r1: put a (ok) ran 2 times',
      'r1: put b (unknown) ran 2 times',
      'r1: put c (refused) ran 1 times',
      'r1: a write z nobody sent ran 1 times',
    ]);
    expect(appliedOnceProblems(entries as HistoryEntry[], { r3: {} })).toEqual([
      'r3: put a (ok) ran 0 times',
    ]);
  });

  it('a stale read may be old, never invented', () => {
    const history = toOperations([put(0, 0, 'k', 'a', 10, 11)]).ordered;
    const reads = toOperations([
      get(1, 'k', null, 0, 1, 'stale'),
      get(1, 'k', 'a', 12, 13, 'stale'),
      get(1, 'k', 'a', 1, 2, 'stale'), // before anybody asked for 'a'
      get(1, 'k', 'zz', 12, 13, 'stale'),
    ]).unordered;
    const problems = staleReadProblems(history, reads);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('returned "a"');
    expect(problems[1]).toContain('returned "zz"');
  });

  it('availability: a single fault is measured from its start (leader kill) or end; overlapping ones are not', () => {
    const records: FaultRecord[] = [
      { kind: 'kill-leader', plan: '1.0s kill-leader for 1000 ms', start: 1000, end: 2500, targets: ['r1'] },
      { kind: 'isolate', plan: '5.0s isolate (cut) for 2000 ms', start: 5000, end: 7000, targets: ['r2'] },
      { kind: 'pause', plan: '9.0s pause (leader) for 2000 ms', start: 9000, end: 11_000, targets: ['r3'] },
      { kind: 'latency', plan: '10.0s latency for 3000 ms', start: 10_000, end: 13_000, targets: [] },
      { kind: 'transfer', plan: '20.0s transfer', targets: [], skipped: 'no leader' },
      {
        kind: 'nats-restart',
        plan: '30.0s nats-restart for 500 ms',
        start: 30_000,
        end: 30_500,
        targets: [],
      },
    ];
    const acks = [
      { call: 400, return: 500 },
      // Called before the leader's kill, answered just after it (on its way): not counted.
      { call: 990, return: 1010 },
      { call: 1500, return: 2100 },
      { call: 7200, return: 7300 },
      { call: 7350, return: 7400 },
      { call: 11_500, return: 12_000 },
    ];
    const gaps = singleFaultGaps(records, acks);
    expect(gaps).toEqual([
      { label: 'kill-leader', ms: 1100 },
      { label: 'isolate (cut)', ms: 300 },
      { label: 'nats-restart', ms: Infinity },
    ]);
    expect(
      summarizeGaps([...gaps, { label: 'isolate (cut)', ms: 500 }, { label: 'isolate (cut)', ms: 100 }]),
    ).toEqual({
      'isolate (cut)': { count: 3, medianMs: 300, maxMs: 500 },
      'kill-leader': { count: 1, medianMs: 1100, maxMs: 1100 },
      'nats-restart': { count: 1, medianMs: Infinity, maxMs: Infinity },
    });
  });
});
