/**
 * A machine's own metrics (queue depths, flag counts, handoffs): an optional
 * capability, detected at run time, that a ReplicatedStateMachine subclass
 * adds by declaring a `metrics()` method. core knows no metrics library:
 * the method returns plain samples with their help text, and whoever serves
 * the replica (`raftline serve`'s /metrics) reads them at scrape time and
 * adds its own `group` and `node` labels.
 *
 * Contract of `metrics()`:
 * - it reads state and changes none (like a @Query handler; this.context is
 *   not available: it runs between applies, outside any handler);
 * - it is cheap: it runs at every scrape on the replica's event loop, so it
 *   costs O(queues), not O(jobs) — keep running counts in the handlers;
 * - gauges are the state as of the last command applied; a counter derived
 *   from applied commands is deterministic (every replica that applied the
 *   same entries reports the same value), and when it is not kept in the
 *   snapshot it counts from the replica's start: it may go back after a
 *   restart or an installed snapshot, which Prometheus reads as a reset;
 * - labels have bounded cardinality: never a key, a job id or a client id;
 *   names users choose (queues, environments) only through boundedLabel(),
 *   and at most MACHINE_METRIC_LIMITS.samples samples per metric.
 */
import { RaftlineError } from '../errors';

/** The kinds of metric a machine may expose (histograms belong to the serving process). */
export type MachineMetricType = 'gauge' | 'counter';

/** One value of a metric, under one set of label values. */
export interface MachineMetricSample {
  /** A value for each of the metric's `labels` (exactly those keys); omit when it has none. */
  readonly labels?: Readonly<Record<string, string>>;
  /** A finite number; a counter's is its total so far, never negative. */
  readonly value: number;
}

/** One metric family: its name, type, help text, label names and samples. */
export interface MachineMetric {
  /**
   * A Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), in base units;
   * a counter's ends in `_total`. Prefix it with the product
   * (`raftline_queue_…` for the sample services).
   */
  readonly name: string;
  /** gauge (a value now) or counter (a total that only grows, but for resets). */
  readonly type: MachineMetricType;
  /** One line saying what it measures. */
  readonly help: string;
  /** Label names besides the serving process's own (RESERVED_METRIC_LABELS). Default none. */
  readonly labels?: readonly string[];
  /** Every sample, each label set at most once (none is allowed: the family shows with no series). */
  readonly samples: readonly MachineMetricSample[];
}

/** A machine that exposes metrics: declare `metrics()` on the subclass. */
export interface MachineMetrics {
  /**
   * The machine's metrics now (see the file comment for the contract).
   * @returns every metric family, each name once
   */
  metrics(): readonly MachineMetric[];
}

/** Bounds readMachineMetrics() enforces on what metrics() returns. */
export const MACHINE_METRIC_LIMITS = {
  /** Metric families per machine. */
  metrics: 64,
  /** Samples per metric family. */
  samples: 1000,
  /** Labels per metric family. */
  labels: 8,
} as const;

/** Labels the serving process adds to every sample: a machine may not use them. */
export const RESERVED_METRIC_LABELS: readonly string[] = ['group', 'node'];

/**
 * The label value boundedLabel() gives to the names past its bound. No
 * queue, environment or task name of the sample services can equal it
 * (they cannot hold parentheses).
 */
export const OTHER_LABEL_VALUE = '(other)';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What a machine's metrics() returned (or threw) cannot be served; problems names every fault. */
export class MachineMetricsError extends RaftlineError {
  /**
   * @param machine the machine's class name
   * @param problems every fault found, each naming the metric (and sample)
   * @param options.cause what metrics() threw, when it threw
   */
  constructor(
    /** The machine's class name. */
    readonly machine: string,
    /** Every fault found, each naming the metric (and sample) at fault. */
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${machine}.metrics(): ${problems.join('; ')}`, options);
  }
}

/** @returns whether machine declares a metrics() method (the MachineMetrics capability) */
export function hasMachineMetrics(machine: unknown): machine is MachineMetrics {
  return (
    typeof machine === 'object' &&
    machine !== null &&
    typeof (machine as { metrics?: unknown }).metrics === 'function'
  );
}

/**
 * Checks what a metrics() returned against MachineMetric's rules and MACHINE_METRIC_LIMITS.
 * @returns every problem found, each naming the metric (and sample) at fault; empty when valid
 */
export function machineMetricProblems(value: unknown): string[] {
  if (!Array.isArray(value)) return ['must return an array of metrics'];
  const problems: string[] = [];
  if (value.length > MACHINE_METRIC_LIMITS.metrics) {
    problems.push(`${value.length} metrics, more than ${MACHINE_METRIC_LIMITS.metrics}`);
  }
  const names = new Set<string>();
  value.forEach((m: unknown, i) => {
    const name = familyName(m);
    const at = name === undefined ? `metrics[${i}]` : name;
    if (name === undefined) {
      problems.push(`metrics[${i}].name must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
    } else if (names.has(name)) {
      problems.push(`${name}: returned twice`);
    } else {
      names.add(name);
    }
    problems.push(...familyProblems(m as Partial<MachineMetric>, at));
  });
  return problems;
}

function familyName(m: unknown): string | undefined {
  const name = (m as { name?: unknown } | null)?.name;
  return typeof name === 'string' && METRIC_NAME.test(name) ? name : undefined;
}

function familyProblems(m: Partial<MachineMetric>, at: string): string[] {
  if (typeof m !== 'object' || m === null) return [`${at} must be an object`];
  const problems: string[] = [];
  if (m.type !== 'gauge' && m.type !== 'counter') {
    problems.push(`${at}.type (${String(m.type)}) must be gauge or counter`);
  }
  if (m.type === 'counter' && typeof m.name === 'string' && !m.name.endsWith('_total')) {
    problems.push(`${at}: a counter's name must end in _total`);
  }
  if (typeof m.help !== 'string' || m.help.trim() === '')
    problems.push(`${at}.help must be a non-empty string`);
  const labels = m.labels ?? [];
  if (!Array.isArray(labels)) return [...problems, `${at}.labels must be an array of label names`];
  const labelProblems = labelNameProblems(labels, at);
  problems.push(...labelProblems);
  if (!Array.isArray(m.samples)) return [...problems, `${at}.samples must be an array`];
  if (m.samples.length > MACHINE_METRIC_LIMITS.samples) {
    problems.push(`${at}: ${m.samples.length} samples, more than ${MACHINE_METRIC_LIMITS.samples}`);
  }
  if (labelProblems.length > 0) return problems;
  const seen = new Set<string>();
  m.samples.forEach((s: unknown, j) => {
    const problem = sampleProblem(s as MachineMetricSample, labels as string[], m.type, seen);
    if (problem) problems.push(`${at}.samples[${j}]${problem}`);
  });
  return problems;
}

function labelNameProblems(labels: readonly unknown[], at: string): string[] {
  const problems: string[] = [];
  if (labels.length > MACHINE_METRIC_LIMITS.labels) {
    problems.push(`${at}: ${labels.length} labels, more than ${MACHINE_METRIC_LIMITS.labels}`);
  }
  labels.forEach((l, k) => {
    if (typeof l !== 'string' || !LABEL_NAME.test(l) || l.startsWith('__')) {
      problems.push(
        `${at}.labels[${k}] (${String(l)}) must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __…)`,
      );
    } else if (RESERVED_METRIC_LABELS.includes(l)) {
      problems.push(`${at}.labels[${k}] (${l}) is reserved: the serving process adds it`);
    } else if (labels.indexOf(l) !== k) {
      problems.push(`${at}.labels[${k}] (${l}) is named twice`);
    }
  });
  return problems;
}

function sampleProblem(
  s: MachineMetricSample,
  labels: readonly string[],
  type: unknown,
  seen: Set<string>,
): string | undefined {
  if (typeof s !== 'object' || s === null) return ' must be an object';
  if (typeof s.value !== 'number' || !Number.isFinite(s.value)) {
    return `.value (${String(s.value)}) must be a finite number`;
  }
  if (type === 'counter' && s.value < 0) return `.value (${s.value}) of a counter must not be negative`;
  const given = s.labels ?? {};
  if (typeof given !== 'object' || given === null) return '.labels must be an object';
  const keys = Object.keys(given);
  const wrong = keys.filter((k) => !labels.includes(k));
  const missing = labels.filter((l) => !keys.includes(l));
  if (wrong.length > 0) return `.labels: ${wrong.join(', ')} not among the metric's labels`;
  if (missing.length > 0) return `.labels: missing ${missing.join(', ')}`;
  if (keys.some((k) => typeof given[k] !== 'string')) return '.labels: every value must be a string';
  const key = JSON.stringify(labels.map((l) => given[l]));
  if (seen.has(key)) return `: label set ${key} given twice`;
  seen.add(key);
  return undefined;
}

/**
 * Reads a machine's metrics, checked.
 * @returns its metric families, or undefined when it has no metrics() method
 * @throws MachineMetricsError when metrics() throws (its cause) or returns
 *   something machineMetricProblems() refuses (nothing of it should be served)
 */
export function readMachineMetrics(machine: object): readonly MachineMetric[] | undefined {
  if (!hasMachineMetrics(machine)) return undefined;
  const name = machine.constructor?.name || 'machine';
  let value: unknown;
  try {
    value = machine.metrics();
  } catch (cause) {
    throw new MachineMetricsError(
      name,
      [`threw: ${cause instanceof Error ? cause.message : String(cause)}`],
      {
        cause,
      },
    );
  }
  const problems = machineMetricProblems(value);
  if (problems.length > 0) throw new MachineMetricsError(name, problems);
  return value as readonly MachineMetric[];
}

/**
 * Bounds the cardinality of a label whose values users choose (queue or
 * environment names): the first `max` values of `values`, in the order
 * given, keep their own label value; every other maps to
 * OTHER_LABEL_VALUE, so a family has at most max + 1 series for it. Give
 * the values in an order that does not change as state grows (the order
 * names were first used, say) so that a name keeps its series.
 * @returns the label value for a name
 * @throws RangeError when max is not a non-negative integer
 */
export function boundedLabel(values: Iterable<string>, max: number): (value: string) => string {
  if (!Number.isSafeInteger(max) || max < 0)
    throw new RangeError(`max (${max}) must be a non-negative integer`);
  const kept = new Set<string>();
  for (const v of values) {
    if (kept.size >= max) break;
    kept.add(v);
  }
  return (value) => (kept.has(value) ? value : OTHER_LABEL_VALUE);
}
