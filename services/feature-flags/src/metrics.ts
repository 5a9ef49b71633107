/**
 * The flag store's own metrics (core's MachineMetrics hook), read by the
 * serving process at each scrape: flags and segments by environment, and
 * the evaluations this replica's evaluate query served, by reason.
 *
 * Environment names are user data, so the `environment` label is bounded:
 * the first `maxEnvironmentLabels` environments in the order they were
 * first written (the same on every replica) keep their own label; later
 * ones are summed under environment="(other)".
 */
import { boundedLabel, type MachineMetric } from '@raftline/core';
import type { StoreState } from './store';
import type { EvaluationReason } from './types';

/** Environments that keep their own `environment` label. */
export const METRICS_ENVIRONMENT_LABELS = 20;

/** Every evaluation reason, in the order the counter's series are listed. */
export const EVALUATION_REASONS: readonly EvaluationReason[] = [
  'STATIC',
  'TARGETING_MATCH',
  'SPLIT',
  'DISABLED',
  'DEFAULT',
  'ERROR',
];

/** Evaluations served, by reason: a local count (not replicated, not in snapshots). */
export type EvaluationCounts = Record<EvaluationReason, number>;

/** @returns a count of 0 for every reason */
export function noEvaluations(): EvaluationCounts {
  return { STATIC: 0, TARGETING_MATCH: 0, SPLIT: 0, DISABLED: 0, DEFAULT: 0, ERROR: 0 };
}

/**
 * The metric families of a store.
 * @returns raftline_flags, raftline_flag_segments and raftline_flag_evaluations_total
 */
export function flagMetrics(
  state: StoreState,
  evaluations: EvaluationCounts,
  maxEnvironmentLabels = METRICS_ENVIRONMENT_LABELS,
): MachineMetric[] {
  const label = boundedLabel(state.envs.keys(), maxEnvironmentLabels);
  const flags = new Map<string, number>();
  const segments = new Map<string, number>();
  for (const [name, env] of state.envs) {
    const key = label(name);
    flags.set(key, (flags.get(key) ?? 0) + env.flags.size);
    segments.set(key, (segments.get(key) ?? 0) + env.segments.size);
  }
  const byEnvironment = (counts: Map<string, number>) =>
    [...counts].map(([environment, value]) => ({ labels: { environment }, value }));
  return [
    {
      name: 'raftline_flags',
      type: 'gauge',
      help: `Flags defined, by environment; environments past the first ${maxEnvironmentLabels} written are summed under environment="(other)".`,
      labels: ['environment'],
      samples: byEnvironment(flags),
    },
    {
      name: 'raftline_flag_segments',
      type: 'gauge',
      help: 'Segments defined, by environment (bounded as raftline_flags).',
      labels: ['environment'],
      samples: byEnvironment(segments),
    },
    {
      name: 'raftline_flag_evaluations_total',
      type: 'counter',
      help: "Evaluations this replica's evaluate query served since it started, by reason.",
      labels: ['reason'],
      samples: EVALUATION_REASONS.map((reason) => ({ labels: { reason }, value: evaluations[reason] })),
    },
  ];
}
