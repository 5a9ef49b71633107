import {
  MACHINE_METRIC_LIMITS,
  MachineMetricsError,
  OTHER_LABEL_VALUE,
  boundedLabel,
  hasMachineMetrics,
  machineMetricProblems,
  readMachineMetrics,
  type MachineMetric,
} from '../../src/index';

const depth = (samples: MachineMetric['samples']): MachineMetric => ({
  name: 'demo_jobs',
  type: 'gauge',
  help: 'Jobs by state.',
  labels: ['state'],
  samples,
});

describe('machine metrics - the optional metrics() capability', () => {
  it('a machine without metrics() has none: readMachineMetrics answers undefined', () => {
    expect(hasMachineMetrics({})).toBe(false);
    expect(readMachineMetrics({})).toBeUndefined();
  });

  it('a machine with metrics() is read as it returns, samples and all', () => {
    class Demo {
      count = 2;
      metrics(): MachineMetric[] {
        return [
          depth([{ labels: { state: 'ready' }, value: this.count }]),
          { name: 'demo_done_total', type: 'counter', help: 'Done.', samples: [{ value: 7 }] },
        ];
      }
    }
    const demo = new Demo();
    expect(hasMachineMetrics(demo)).toBe(true);
    expect(readMachineMetrics(demo)).toEqual(demo.metrics());
    demo.count = 5;
    expect(readMachineMetrics(demo)![0]!.samples[0]!.value).toBe(5);
  });

  it('a metrics() that throws is a MachineMetricsError naming the class, with the cause', () => {
    const cause = new Error('boom');
    class Broken {
      metrics(): never {
        throw cause;
      }
    }
    let err: unknown;
    try {
      readMachineMetrics(new Broken());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MachineMetricsError);
    expect(err).toMatchObject({ name: 'MachineMetricsError', machine: 'Broken', cause });
    expect((err as Error).message).toBe('Broken.metrics(): threw: boom');
  });

  it('refuses what Prometheus could not serve, naming the metric and sample at fault', () => {
    expect(machineMetricProblems('nope')).toEqual(['must return an array of metrics']);
    expect(
      machineMetricProblems([
        { name: '9bad', type: 'gauge', help: 'x', samples: [] },
        { name: 'c', type: 'counter', help: 'x', samples: [{ value: -1 }] },
        { name: 'h', type: 'histogram', help: '', samples: [] },
        { name: 'l', type: 'gauge', help: 'x', labels: ['node', 'a', 'a', '__x'], samples: [] },
        depth([{ labels: { state: 'ready' }, value: 1 }, { labels: { state: 'ready' }, value: 2 }]),
        depth([{ labels: { other: 'x' }, value: Number.NaN }]),
      ]),
    ).toEqual([
      'metrics[0].name must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)',
      "c: a counter's name must end in _total",
      'c.samples[0].value (-1) of a counter must not be negative',
      'h.type (histogram) must be gauge or counter',
      'h.help must be a non-empty string',
      'l.labels[0] (node) is reserved: the serving process adds it',
      'l.labels[2] (a) is named twice',
      'l.labels[3] (__x) must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __…)',
      'demo_jobs.samples[1]: label set ["ready"] given twice',
      'demo_jobs: returned twice',
      'demo_jobs.samples[0].value (NaN) must be a finite number',
    ]);
    expect(machineMetricProblems([depth([{ labels: { other: 'x' }, value: 1 }])])).toEqual([
      "demo_jobs.samples[0].labels: other not among the metric's labels",
    ]);
    expect(machineMetricProblems([depth([{ value: 1 }])])).toEqual([
      'demo_jobs.samples[0].labels: missing state',
    ]);
  });

  it('bounds the families and samples one machine may return', () => {
    const many = Array.from({ length: MACHINE_METRIC_LIMITS.samples + 1 }, (_, i) => ({
      labels: { state: `s${i}` },
      value: i,
    }));
    expect(machineMetricProblems([depth(many)])).toEqual([
      `demo_jobs: ${many.length} samples, more than ${MACHINE_METRIC_LIMITS.samples}`,
    ]);
    const families = Array.from({ length: MACHINE_METRIC_LIMITS.metrics + 1 }, (_, i) => ({
      name: `m${i}`,
      type: 'gauge',
      help: 'x',
      samples: [],
    }));
    expect(machineMetricProblems(families)).toEqual([
      `${families.length} metrics, more than ${MACHINE_METRIC_LIMITS.metrics}`,
    ]);
  });

  it('an invalid return is a MachineMetricsError listing every problem', () => {
    const machine = { metrics: () => [{ name: 'x', type: 'gauge', help: 'x', samples: [{ value: 'one' }] }] };
    expect(() => readMachineMetrics(machine)).toThrow(
      'Object.metrics(): x.samples[0].value (one) must be a finite number',
    );
  });
});

describe('boundedLabel - user-chosen names as labels, at most max + 1 series', () => {
  it('keeps the first max names in the order given and maps the rest to OTHER_LABEL_VALUE', () => {
    const label = boundedLabel(['a', 'b', 'c', 'd'], 2);
    expect(['a', 'b', 'c', 'd', 'never-seen'].map(label)).toEqual([
      'a',
      'b',
      OTHER_LABEL_VALUE,
      OTHER_LABEL_VALUE,
      OTHER_LABEL_VALUE,
    ]);
    expect(OTHER_LABEL_VALUE).toBe('(other)');
  });

  it('with max 0 every name is aggregated; a bad max is a RangeError', () => {
    expect(boundedLabel(['a'], 0)('a')).toBe(OTHER_LABEL_VALUE);
    expect(() => boundedLabel([], -1)).toThrow(RangeError);
    expect(() => boundedLabel([], 1.5)).toThrow('max (1.5) must be a non-negative integer');
  });
});
