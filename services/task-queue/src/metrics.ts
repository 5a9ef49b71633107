/**
 * The task queue's own metrics (core's MachineMetrics hook), read by the
 * serving process at each scrape: jobs by queue and state, the number of
 * queues, and lease expiries. O(queues) per scrape: the counts are the
 * ones the store keeps up to date as jobs move.
 *
 * Queue names are user data, so the `queue` label is bounded: the first
 * `maxQueueLabels` queues in the order they were first named (the same on
 * every replica, and stable as queues are added) keep their own label; the
 * jobs of every later queue are summed under queue="(other)".
 */
import { boundedLabel, type MachineMetric } from '@raftline/core';
import type { JobStore } from './store';

/** How many queues keep their own `queue` label by default (TaskQueueOptions.metricsQueueLabels). */
export const DEFAULT_METRICS_QUEUE_LABELS = 20;

/** The job states raftline_queue_jobs reports (done jobs are history, not depth). */
export const QUEUE_METRIC_STATES = ['delayed', 'ready', 'leased', 'dead'] as const;

type Depths = Record<(typeof QUEUE_METRIC_STATES)[number], number>;

/**
 * The metric families of a store.
 * @param leaseExpiries leases ended by expiry that this replica applied since it started
 * @returns raftline_queue_jobs, raftline_queues and raftline_queue_lease_expiries_total
 */
export function queueMetrics(store: JobStore, maxQueueLabels: number, leaseExpiries: number): MachineMetric[] {
  const label = boundedLabel(store.queues.keys(), maxQueueLabels);
  const depths = new Map<string, Depths>();
  for (const q of store.queues.values()) {
    const key = label(q.name);
    let d = depths.get(key);
    if (!d) depths.set(key, (d = { delayed: 0, ready: 0, leased: 0, dead: 0 }));
    d.delayed += q.delayed;
    d.ready += q.ready.size;
    d.leased += q.leased;
    d.dead += q.dead.size;
  }
  const samples = [...depths].flatMap(([queue, d]) =>
    QUEUE_METRIC_STATES.map((state) => ({ labels: { queue, state }, value: d[state] })),
  );
  return [
    {
      name: 'raftline_queue_jobs',
      type: 'gauge',
      help: `Jobs by queue and state (delayed, ready, leased, dead); queues past the first ${maxQueueLabels} named are summed under queue="(other)".`,
      labels: ['queue', 'state'],
      samples,
    },
    { name: 'raftline_queues', type: 'gauge', help: 'Queues named so far.', samples: [{ value: store.queues.size }] },
    {
      name: 'raftline_queue_lease_expiries_total',
      type: 'counter',
      help: 'Leases that ended by expiry, applied by this replica since it started.',
      samples: [{ value: leaseExpiries }],
    },
  ];
}
