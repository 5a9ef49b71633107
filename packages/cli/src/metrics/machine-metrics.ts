/**
 * The machines' own metrics on a serve process's /metrics: at each scrape,
 * every tracked replica's machine metrics() (core's MachineMetrics hook) is
 * read, checked, and written into prom-client gauges and counters labelled
 * with the replica's group and node besides the machine's own labels.
 *
 * Each family's series are rebuilt at every scrape, so a label value the
 * machine stops reporting (a queue past the bound, a stopped replica)
 * disappears. A family is refused, and counted in
 * raftline_machine_metrics_failures_total, when metrics() throws or returns
 * something invalid (nothing of that replica is served then), when its name
 * is one of the process's own metrics, or when another replica of the
 * process declares the same name with another type or other labels.
 */
import { readMachineMetrics, type Logger, type MachineMetric } from '@raftline/core';
import { Counter, Gauge, type Registry } from 'prom-client';

/** A replica whose machine may have metrics. */
export interface MachineMetricsSource {
  readonly labels: { readonly group: string; readonly node: string };
  readonly machine: object;
  /** Told, once per scrape, of every problem of that scrape (when there is any). */
  readonly failed: (problems: readonly string[]) => void;
}

interface Family {
  readonly type: MachineMetric['type'];
  readonly labels: readonly string[];
  readonly metric: Gauge | Counter;
}

/** The machine metric families of one registry. */
export class MachineMetricsCollector {
  private readonly families = new Map<string, Family>();
  private readonly sources = new Set<MachineMetricsSource>();

  /** @param registry the process's registry, whose other metrics a machine may not shadow */
  constructor(private readonly registry: Registry) {}

  /** Starts reading source's machine at each refresh. @returns a function that stops it */
  add(source: MachineMetricsSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** Rebuilds every machine family from each source's metrics() now. Never throws. */
  refresh(): void {
    for (const f of this.families.values()) f.metric.reset();
    for (const source of this.sources) {
      const problems: string[] = [];
      try {
        for (const family of readMachineMetrics(source.machine) ?? []) {
          const problem = this.write(source, family);
          if (problem) problems.push(problem);
        }
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
      if (problems.length > 0) source.failed(problems);
    }
  }

  /** @returns why m cannot be written, or undefined once it is */
  private write(source: MachineMetricsSource, m: MachineMetric): string | undefined {
    const labels = m.labels ?? [];
    const family = this.familyFor(m, labels);
    if (typeof family === 'string') return `${m.name}: ${family}`;
    for (const s of m.samples) {
      const values = { ...source.labels, ...s.labels };
      if (family.metric instanceof Counter) family.metric.inc(values, s.value);
      else family.metric.set(values, s.value);
    }
    return undefined;
  }

  /** @returns the family m is written to, or why it cannot be */
  private familyFor(m: MachineMetric, labels: readonly string[]): Family | string {
    const known = this.families.get(m.name);
    if (known) {
      if (known.type !== m.type || known.labels.join() !== labels.join()) {
        return `declared by another replica of this process as a ${known.type} with labels [${known.labels.join(', ')}]`;
      }
      return known;
    }
    if (this.registry.getSingleMetric(m.name)) return 'is a metric of raftline serve itself';
    const options = {
      name: m.name,
      help: m.help,
      labelNames: ['group', 'node', ...labels],
      registers: [this.registry],
    };
    const family: Family = {
      type: m.type,
      labels: [...labels],
      metric: m.type === 'counter' ? new Counter(options) : new Gauge(options),
    };
    this.families.set(m.name, family);
    return family;
  }
}

/**
 * A failure reporter for one replica: counts each failed scrape with
 * count() and logs the first `maxLogged` distinct problems as warnings.
 */
export function failureReporter(
  count: () => void,
  logger: Logger | undefined,
  maxLogged = 10,
): (problems: readonly string[]) => void {
  const logged = new Set<string>();
  return (problems) => {
    count();
    for (const problem of problems) {
      if (!logger || logged.has(problem) || logged.size >= maxLogged) continue;
      logged.add(problem);
      logger.warn({ problem }, 'machine metrics not served');
    }
  };
}
