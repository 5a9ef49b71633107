import { MachineHost, readMachineMetrics, type MachineMetric } from '@raftline/core';
import { Coordinator, unwrap } from '../src/index';
import { Machine } from './support/host';

/** The samples of one family, as `label=value → value` strings, sorted. */
function series(metrics: readonly MachineMetric[] | undefined, name: string): string[] {
  const family = metrics?.find((m) => m.name === name);
  if (!family) throw new Error(`no ${name}`);
  return family.samples
    .map((s) => `${Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')} → ${s.value}`)
    .sort();
}

const metricsOf = (host: MachineHost) => readMachineMetrics(host.machine);

describe('coordinator - metrics', () => {
  it('counts tasks by status, candidates, and one handoff per epoch granted after the first', () => {
    const m = new Machine();
    for (const a of ['a1', 'a2', 'a3']) m.cmd('register', a);
    for (const t of ['t', 'u', 'v']) m.cmd('createTask', t, { leaseMs: 1000 });
    m.cmd('campaign', 't', 'a1'); // epoch 1: a first grant, no handoff
    m.cmd('campaign', 'u', 'a1');
    unwrap(m.cmd('pause', 'v', 'alice'));
    let metrics = metricsOf(m.host);
    expect(series(metrics, 'raftline_coordinator_tasks')).toEqual([
      'status=awaiting-approval → 0',
      'status=held → 2',
      'status=paused → 1',
      'status=vacant → 0',
    ]);
    expect(series(metrics, 'raftline_coordinator_candidates')).toEqual([' → 3']);
    expect(series(metrics, 'raftline_coordinator_handoffs_total')).toEqual([' → 0']);

    unwrap(m.cmd('designate', 't', 'a2', 'alice')); // epoch 2 of t
    m.cmd('campaign', 'u', 'a3');
    m.advance(1000); // a1's lease on u runs out; a3 applied
    m.cmd('tick'); // epoch 2 of u, to a3
    metrics = metricsOf(m.host);
    expect(series(metrics, 'raftline_coordinator_handoffs_total')).toEqual([' → 2']);
    expect(m.query('task', 'u')).toMatchObject({ holder: 'a3', epoch: 2 });

    // A replica restored from a snapshot derives the same handoffs from the epochs.
    const restored = new MachineHost(new Coordinator());
    restored.restore(m.host.snapshot());
    expect(metricsOf(restored)).toEqual(metrics);
  });

  it('a removed task keeps its handoffs in the counter', () => {
    const m = new Machine();
    for (const a of ['a1', 'a2']) m.cmd('register', a);
    m.cmd('createTask', 't', { leaseMs: 1000 });
    m.cmd('campaign', 't', 'a1');
    unwrap(m.cmd('designate', 't', 'a2', 'alice'));
    unwrap(m.cmd('designate', 't', 'a1', 'alice'));
    expect(series(metricsOf(m.host), 'raftline_coordinator_handoffs_total')).toEqual([' → 2']);
    unwrap(m.cmd('removeTask', 't', 'alice'));
    expect(m.cmd('removeTask', 't', 'alice')).toMatchObject({ ok: false, error: 'UnknownTaskError' });
    const metrics = metricsOf(m.host);
    expect(series(metrics, 'raftline_coordinator_handoffs_total')).toEqual([' → 2']);
    expect(series(metrics, 'raftline_coordinator_tasks')).toContain('status=held → 0');
  });
});
