// @raftline/task-queue: a replicated work queue on raftline (see README.md).
export { TaskQueue, DEFAULT_QUEUE_SETTINGS, DEFAULT_TASK_QUEUE_LIMITS, DEFAULT_LEASE_MS } from './machine';
export { StaleTokenError, JobNotFoundError, refusalError, throwIfRefused, isRefusal } from './errors';
export { LIMITS, QUEUE_NAME, JOB_ID } from './schemas';
export { JOB_STATES } from './types';
export type { TaskQueueOptions } from './machine';
export type { Fenced, Refusal, RefusalCode } from './errors';
export type {
  AckItem,
  Backoff,
  ClaimOptions,
  ClaimedJob,
  DeadReason,
  EnqueueItem,
  EnqueueOptions,
  JobInfo,
  JobPage,
  JobState,
  Lease,
  ListOptions,
  Moved,
  NackOptions,
  QueueSettings,
  QueueStats,
  TickResult,
} from './types';
