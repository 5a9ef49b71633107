/**
 * The coordinator's own metrics (core's MachineMetrics hook), read by the
 * serving process at each scrape: tasks by status, registered candidates,
 * and handoffs. O(tasks) per scrape, with no label a user names.
 *
 * A handoff is an epoch granted after a task's first: one tenure handed on
 * to the next (the next coordinator receives the last checkpoint). Epochs
 * grow by one per grant, so the handoffs of a live task are epoch − 1:
 * derived from replicated state, the same on every replica and after a
 * snapshot. Removed tasks take their epochs with them; the machine adds
 * theirs from the removals it applied since it started.
 */
import type { MachineMetric } from '@raftline/core';
import type { CandidateRecord, TaskRecord } from './state';
import type { TaskStatus } from './types';

/** Every task status, in the order the gauge's series are listed. */
export const TASK_STATUSES: readonly TaskStatus[] = ['vacant', 'held', 'awaiting-approval', 'paused'];

/** @returns the handoffs a task has seen: epochs granted after its first */
export function handoffsOf(task: Pick<TaskRecord, 'epoch'>): number {
  return Math.max(0, task.epoch - 1);
}

/**
 * The metric families of a coordinator's state.
 * @param removedHandoffs handoffs of the tasks removed since this replica started
 * @returns raftline_coordinator_tasks, raftline_coordinator_candidates and raftline_coordinator_handoffs_total
 */
export function coordinatorMetrics(
  tasks: ReadonlyMap<string, TaskRecord>,
  candidates: ReadonlyMap<string, CandidateRecord>,
  removedHandoffs: number,
): MachineMetric[] {
  const byStatus = new Map<TaskStatus, number>(TASK_STATUSES.map((s) => [s, 0]));
  let handoffs = removedHandoffs;
  for (const t of tasks.values()) {
    byStatus.set(t.status, (byStatus.get(t.status) ?? 0) + 1);
    handoffs += handoffsOf(t);
  }
  return [
    {
      name: 'raftline_coordinator_tasks',
      type: 'gauge',
      help: 'Tasks by status (vacant, held, awaiting-approval, paused); held ones have a coordinator.',
      labels: ['status'],
      samples: [...byStatus].map(([status, value]) => ({ labels: { status }, value })),
    },
    {
      name: 'raftline_coordinator_candidates',
      type: 'gauge',
      help: 'Registered candidates.',
      samples: [{ value: candidates.size }],
    },
    {
      name: 'raftline_coordinator_handoffs_total',
      type: 'counter',
      help: "Handoffs: epochs granted after a task's first, each one tenure handed to the next.",
      samples: [{ value: handoffs }],
    },
  ];
}
