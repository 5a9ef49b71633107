/**
 * A replicated work queue on raftline (see README.md).
 *
 * @module @raftline/task-queue
 */
export { TaskQueue, DEFAULT_QUEUE_SETTINGS, DEFAULT_TASK_QUEUE_LIMITS, DEFAULT_LEASE_MS } from './machine';
// The machine class under the name `raftline serve` (packages/cli) and other loaders look for.
export { TaskQueue as machine } from './machine';
export { StaleTokenError, JobNotFoundError, refusalError, throwIfRefused, isRefusal } from './errors';
export { LIMITS, QUEUE_NAME, JOB_ID } from './schemas';
export { JOB_STATES, JOB_EVENT_TYPES } from './types';
export { JobEventFeed, JobEventsError, jobEvents } from './events';
export { Producer, DEFAULT_PRODUCER_OPTIONS } from './client/producer';
export { Worker, WorkerClosedError } from './client/worker';
export { readySubject } from './client/connection';
export { serveTaskQueue } from './serve';
export type { TaskQueueOptions } from './machine';
export type { CommittedCommand } from './events';
export type { ProducerOptions } from './client/producer';
export type { Job, Handler, WorkerOptions, WorkerEvents, FailedNext } from './client/worker';
export type { QueueConnectionOptions } from './client/connection';
export type { TaskQueueReplicaOptions, TaskQueueReplica } from './serve';
export type { Fenced, Refusal, RefusalCode } from './errors';
export type {
  AckItem,
  Backoff,
  ClaimOptions,
  ClaimedJob,
  DeadReason,
  EnqueueItem,
  EnqueueOptions,
  JobClaimed,
  JobCompleted,
  JobDead,
  JobEnqueued,
  JobEvent,
  JobFailed,
  JobInfo,
  JobReleased,
  JobRemoved,
  JobRetried,
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
