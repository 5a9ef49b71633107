import { OTHER_LABEL_VALUE, readMachineMetrics, type MachineMetric } from '@raftline/core';
import { TaskQueue } from '../src/index';
import { Harness } from './support/harness';

/** The samples of one family, as `label=value,… → value` strings, sorted. */
function series(metrics: readonly MachineMetric[] | undefined, name: string): string[] {
  const family = metrics?.find((m) => m.name === name);
  if (!family) throw new Error(`no ${name}`);
  return family.samples
    .map((s) => `${Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')} → ${s.value}`)
    .sort();
}

describe('task queue - metrics', () => {
  it('reports each queue by state as jobs move, and counts lease expiries', () => {
    const h = new Harness().at(0);
    h.cmd.enqueue('emails', 'a');
    const b = h.cmd.enqueue('emails', 'b', { maxAttempts: 1 });
    h.cmd.enqueue('emails', 'later', { delayMs: 1000 });
    h.cmd.enqueue('reports', 'r');
    const [claimed] = h.cmd.claim('emails', 'w1', { leaseMs: 100 });
    expect(claimed!.id).not.toBe(b);
    h.cmd.claim('emails', 'w2', { leaseMs: 100 }); // b, with one attempt: it dies when its lease expires
    let m = readMachineMetrics(h.machine);
    expect(series(m, 'raftline_queue_jobs')).toEqual([
      'queue=emails,state=dead → 0',
      'queue=emails,state=delayed → 1',
      'queue=emails,state=leased → 2',
      'queue=emails,state=ready → 0',
      'queue=reports,state=dead → 0',
      'queue=reports,state=delayed → 0',
      'queue=reports,state=leased → 0',
      'queue=reports,state=ready → 1',
    ]);
    expect(series(m, 'raftline_queues')).toEqual([' → 2']);
    expect(series(m, 'raftline_queue_lease_expiries_total')).toEqual([' → 0']);

    h.at(100).cmd.tick(); // both leases expire: a is ready again, b is dead
    m = readMachineMetrics(h.machine);
    expect(series(m, 'raftline_queue_lease_expiries_total')).toEqual([' → 2']);
    expect(series(m, 'raftline_queue_jobs').filter((s) => s.startsWith('queue=emails'))).toEqual([
      'queue=emails,state=dead → 1',
      'queue=emails,state=delayed → 1',
      'queue=emails,state=leased → 0',
      'queue=emails,state=ready → 1',
    ]);
  });

  it('queue names are user data: past metricsQueueLabels queues, jobs are summed under (other)', () => {
    const h = new Harness({ metricsQueueLabels: 2 }).at(0);
    for (const q of ['first', 'second', 'third', 'fourth']) h.cmd.enqueue(q, q);
    h.cmd.enqueue('fourth', 'again');
    const m = readMachineMetrics(h.machine);
    expect(series(m, 'raftline_queue_jobs').filter((s) => s.includes('state=ready'))).toEqual([
      `queue=${OTHER_LABEL_VALUE},state=ready → 3`,
      'queue=first,state=ready → 1',
      'queue=second,state=ready → 1',
    ]);
    expect(series(m, 'raftline_queues')).toEqual([' → 4']);
    expect(() => new TaskQueue({ metricsQueueLabels: -1 })).toThrow(
      'metricsQueueLabels (-1) must be a non-negative integer',
    );
  });

  it('replicas that applied the same commands report the same metrics, and a restored snapshot the same gauges', () => {
    const a = new Harness().at(0);
    const b = new Harness().at(0);
    for (const h of [a, b]) {
      h.cmd.enqueue('q', 1);
      h.cmd.claim('q', 'w', { leaseMs: 10 });
      h.at(50).cmd.tick();
    }
    expect(readMachineMetrics(a.machine)).toEqual(readMachineMetrics(b.machine));
    const restored = new Harness();
    restored.host.restore(a.host.snapshot());
    const gauges = (h: { machine: object }) =>
      readMachineMetrics(h.machine)!.filter((f) => f.type === 'gauge');
    expect(gauges(restored)).toEqual(gauges(a));
    // The expiry counter is this replica's count since it started: a restored one has not applied them.
    expect(series(readMachineMetrics(restored.machine), 'raftline_queue_lease_expiries_total')).toEqual([
      ' → 0',
    ]);
    // Not replicated state: the digests agree all the same.
    expect(restored.host.digest()).toBe(a.host.digest());
    // ... and a replica installing a snapshot keeps what it counted.
    a.host.restore(b.host.snapshot());
    expect(series(readMachineMetrics(a.machine), 'raftline_queue_lease_expiries_total')).toEqual([' → 1']);
  });
});
