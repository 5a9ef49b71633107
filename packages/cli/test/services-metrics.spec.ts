import type { MachineMetric, NodeStatus } from '@raftline/core';
import { ServeMetrics, type InstrumentedNode } from '../src/metrics/metrics';
import { parseMetrics } from './support/cli';

// A replica's machine metrics (core's metrics() hook) on a serve process's
// registry. The node is a minimal stand-in: only its status is read here.

function node(id: string): InstrumentedNode {
  const status = {
    id,
    term: 1,
    role: 'leader',
    leaderId: id,
    commitIndex: 1,
    appliedIndex: 1,
    lastIndex: 1,
    snapshotIndex: 0,
    verification: { diverged: false, stoppedApplying: false, compared: 0 },
    droppedMessages: 0,
    proposals: { pending: 0, pendingBytes: 0, refused: 0 },
  } as unknown as NodeStatus;
  return {
    id,
    propose: () => Promise.resolve(undefined),
    query: () => Promise.reject(new Error('not here')),
    onRoleChange: () => () => {},
    onDivergence: () => () => {},
    status: () => status,
  } as unknown as InstrumentedNode;
}

class Depths {
  ready = 3;
  metrics(): MachineMetric[] {
    return [
      {
        name: 'demo_jobs',
        type: 'gauge',
        help: 'Jobs.',
        labels: ['queue'],
        samples: [{ labels: { queue: 'a' }, value: this.ready }],
      },
      { name: 'demo_done_total', type: 'counter', help: 'Done.', samples: [{ value: this.ready * 2 }] },
    ];
  }
}

const scrape = async (m: ServeMetrics) => parseMetrics(await m.text());
const values = (samples: Awaited<ReturnType<typeof scrape>>, name: string) =>
  samples
    .filter((s) => s.name === name)
    .map((s) => `${JSON.stringify(s.labels)} ${s.value}`)
    .sort();

describe('raftline serve metrics - the machines own metrics', () => {
  it("serves a machine's gauges and counters with group and node, as they are at each scrape", async () => {
    const m = new ServeMetrics({ processMetrics: false });
    const machine = new Depths();
    m.group('jobs', 'n1').track(node('n1'), undefined, { machine });
    let s = await scrape(m);
    expect(values(s, 'demo_jobs')).toEqual(['{"group":"jobs","node":"n1","queue":"a"} 3']);
    expect(values(s, 'demo_done_total')).toEqual(['{"group":"jobs","node":"n1"} 6']);
    expect(values(s, 'raftline_machine_metrics_failures_total')).toEqual(['{"group":"jobs","node":"n1"} 0']);
    machine.ready = 5;
    s = await scrape(m);
    expect(values(s, 'demo_jobs')).toEqual(['{"group":"jobs","node":"n1","queue":"a"} 5']);
    expect(values(s, 'demo_done_total')).toEqual(['{"group":"jobs","node":"n1"} 10']);
    expect(await m.text()).toMatch(/# TYPE demo_done_total counter\n/);
  });

  it('two groups of the same machine share the families; a stopped replica leaves them', async () => {
    const m = new ServeMetrics({ processMetrics: false });
    const a = m.group('a', 'n1');
    a.track(node('n1'), undefined, { machine: new Depths() });
    m.group('b', 'n1').track(node('n1'), undefined, { machine: new Depths() });
    expect(values(await scrape(m), 'demo_jobs')).toHaveLength(2);
    a.close();
    expect(values(await scrape(m), 'demo_jobs')).toEqual(['{"group":"b","node":"n1","queue":"a"} 3']);
  });

  it('a machine without metrics() adds nothing', async () => {
    const m = new ServeMetrics({ processMetrics: false });
    m.group('kv', 'n1').track(node('n1'), undefined, { machine: {} });
    const s = await scrape(m);
    expect(s.some((x) => x.name.startsWith('demo_'))).toBe(false);
    expect(values(s, 'raftline_machine_metrics_failures_total')).toEqual([]);
  });

  it('a failing or clashing machine is counted and logged once, never breaks the scrape, and the others are served', async () => {
    const m = new ServeMetrics({ processMetrics: false });
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (o: object) => void warnings.push(o) };
    m.group('ok', 'n1').track(node('n1'), undefined, { machine: new Depths() });
    m.group('broken', 'n1').track(node('n1'), undefined, {
      machine: {
        metrics: () => {
          throw new Error('boom');
        },
      },
      logger,
    });
    m.group('clash', 'n1').track(node('n1'), undefined, {
      machine: {
        metrics: (): MachineMetric[] => [
          { name: 'raftline_term', type: 'gauge', help: 'mine', samples: [{ value: 99 }] },
          { name: 'demo_jobs', type: 'gauge', help: 'other', samples: [] },
        ],
      },
      logger,
    });
    await scrape(m);
    const s = await scrape(m);
    expect(values(s, 'raftline_machine_metrics_failures_total')).toEqual([
      '{"group":"broken","node":"n1"} 2',
      '{"group":"clash","node":"n1"} 2',
      '{"group":"ok","node":"n1"} 0',
    ]);
    expect(values(s, 'demo_jobs')).toEqual(['{"group":"ok","node":"n1","queue":"a"} 3']);
    // raftline_term stays the replica's own term (1), not the machine's 99.
    expect(values(s, 'raftline_term').filter((v) => v.includes('clash'))).toEqual([
      '{"group":"clash","node":"n1"} 1',
    ]);
    expect(warnings).toEqual([
      { problem: 'Object.metrics(): threw: boom' },
      { problem: 'raftline_term: is a metric of raftline serve itself' },
      { problem: 'demo_jobs: declared by another replica of this process as a gauge with labels [queue]' },
    ]);
  });
});
