import type { TaskEvent } from '../src';
import { beliefsOf, historyProblems, overlappingBeliefs, writeProblems } from './support/process-checks';

// The process tests' checks (faults.integration.spec.ts) find what they look for.

const ev = (e: Partial<TaskEvent> & Pick<TaskEvent, 'kind' | 'epoch' | 'at' | 'index'>): TaskEvent => ({
  seq: 0,
  candidate: null,
  by: null,
  reason: null,
  until: null,
  expiresAt: null,
  checkpoint: null,
  summary: null,
  ...e,
});

describe('process checks - they fail for runs that break the guarantees', () => {
  it('beliefs: a killed agent believes until its last deadline; overlapping beliefs of two agents are reported', () => {
    const a = beliefsOf('a', [
      { event: 'elected', epoch: 1, t: 100, deadline: 1900 },
      { event: 'renewed', epoch: 1, t: 600, deadline: 2400 },
    ]);
    expect(a).toEqual([{ agent: 'a', epoch: 1, from: 100, to: 2400 }]);
    const lost = beliefsOf('b', [
      { event: 'elected', epoch: 2, t: 3000, deadline: 5000 },
      { event: 'lost', epoch: 2, t: 3500 },
    ]);
    expect(lost).toEqual([{ agent: 'b', epoch: 2, from: 3000, to: 3500 }]);
    expect(overlappingBeliefs([...a, ...lost])).toEqual([]);
    const early = beliefsOf('c', [{ event: 'elected', epoch: 2, t: 2300, deadline: 4000 }]);
    expect(overlappingBeliefs([...a, ...early])).toHaveLength(1);
  });

  it('history: a skipped epoch, a grant while a tenure is open, or before the last lease ended are reported', () => {
    const good = [
      ev({ kind: 'granted', epoch: 1, at: 0, index: 1 }),
      ev({ kind: 'ended', epoch: 1, at: 2500, index: 5, until: 2000 }),
      ev({ kind: 'granted', epoch: 2, at: 2500, index: 5 }),
    ];
    expect(historyProblems(good)).toEqual([]);
    expect(historyProblems([good[0]!, good[1]!, { ...good[2]!, epoch: 3 }])).toHaveLength(1);
    expect(historyProblems([good[0]!, good[2]!])).toHaveLength(1);
    expect(historyProblems([good[0]!, { ...good[1]!, until: 2600 }, good[2]!])).toHaveLength(1);
  });

  it('writes: an applied write outside its tenure, or after its lease, is reported', () => {
    const events = [
      ev({ kind: 'granted', epoch: 1, at: 0, index: 1 }),
      ev({ kind: 'ended', epoch: 1, at: 2500, index: 9, until: 2000 }),
    ];
    const w = { event: 'write', candidate: 'a', step: 1, epoch: 1, ok: true, at: 1000, index: 4 };
    expect(writeProblems([w, { ...w, ok: false, index: 20 }], events)).toEqual([]);
    expect(writeProblems([{ ...w, index: 10 }], events)).toHaveLength(1);
    expect(writeProblems([{ ...w, at: 2100 }], events)).toHaveLength(1);
    expect(writeProblems([{ ...w, epoch: 2 }], events)).toHaveLength(1);
  });
});
