/**
 * Who decides. Coordinator leases with epochs and
 * fencing, selection policies, checkpoints and human override.
 *
 * @module @raftline/coordinator
 */

// the state machine
export { Coordinator, MAX_PAGE, TICK_EVERY_MS } from './coordinator';
export { DEFAULT_COORDINATOR_OPTIONS, DEFAULT_LEASE_MS, resolveCoordinatorOptions } from './options';
export { MAX_DEPTH } from './registry-ops';
export { POLICIES, END_REASONS, GRANT_CAUSES } from './types';
export { REFUSALS } from './results';
export { select, fnv1a } from './selection';
export type { CoordinatorOptions } from './options';
export type { Applicant, SelectionInput } from './selection';

// argument schemas (Standard Schema, checked before replication)
export {
  ID_PATTERN,
  MAX_CAPABILITIES,
  idSchema,
  epochSchema,
  taskOptionsSchema,
  candidateInfoSchema,
  progressSchema,
  checkpointSchema,
  writeSchema,
} from './schemas';

// errors
export {
  CoordinatorRefusedError,
  UnknownTaskError,
  UnknownCandidateError,
  TaskExistsError,
  TaskNotEmptyError,
  IneligibleCandidateError,
  StaleEpochError,
  LeaseExpiredError,
  NotCoordinatorError,
  TaskPausedError,
  AwaitingApprovalError,
  NotAwaitingApprovalError,
  VersionMismatchError,
  LimitExceededError,
  refusalError,
  isRefusal,
  unwrap,
} from './errors';

export type {
  ActResult,
  CampaignResult,
  CheckpointResult,
  Refusal,
  RefusalName,
  RegisterResult,
  RemoveResult,
  RenewResult,
  ResignResult,
  TaskResult,
  TickResult,
  UnregisterResult,
  WithdrawResult,
} from './results';
export type {
  Budget,
  CandidateInfo,
  CandidateView,
  Checkpoint,
  CheckpointInput,
  CheckpointMeta,
  EndReason,
  FenceAnswer,
  GrantCause,
  HistoryPage,
  ObservedEvent,
  Lease,
  Policy,
  Progress,
  ResolvedTaskOptions,
  ResourceView,
  ResourceWrite,
  TaskEvent,
  TaskOptions,
  TaskStatus,
  TaskView,
} from './types';

// the agent helper (over NATS)
export { CoordinatorAgent, NotHoldingError } from './client/agent';
export type {
  CoordinatorAgentEvents,
  CoordinatorAgentOptions,
  ElectedEvent,
  LostEvent,
  RenewedEvent,
} from './client/agent';

// the typed client and observe() (over NATS, or any TaskEventSource)
export { CoordinatorClient } from './client/client';
export { observeTask } from './client/observe';
export { HistoryTruncatedError } from './client/task-cursor';
export type { CoordinatorClientOptions } from './client/client';
export type { ObserveOptions, TaskEventSource } from './client/observe';
export type { CommittedCommand, HistoryAnswer } from './client/task-cursor';
