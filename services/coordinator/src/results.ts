/**
 * What the coordinator's commands return. A command that cannot do what it
 * was asked returns a Refusal, a result value with a stable error name,
 * rather than throwing: a throw in a handler reaches the caller as
 * CommandFailedError with only its message (on every replica, and as a
 * failed entry on the committed stream), while a refusal is an ordinary
 * outcome, such as a stale coordinator's write being turned away, that the
 * caller must be able to tell apart by name. unwrap() (errors.ts) turns a
 * refusal into the named error class for callers who prefer to catch.
 */
import type {
  CandidateView,
  Checkpoint,
  CheckpointMeta,
  EndReason,
  Lease,
  ResourceView,
  TaskStatus,
  TaskView,
} from './types';

/**
 * Every refusal a command may return, by name:
 * - UnknownTaskError / UnknownCandidateError: no such task / registered candidate;
 * - TaskExistsError: createTask() of an id in use;
 * - TaskNotEmptyError: removeTask() of a task that has subtasks;
 * - IneligibleCandidateError: campaign() by a candidate lacking a capability the task requires;
 * - StaleEpochError: the epoch was superseded: a newer one has been granted;
 * - LeaseExpiredError: the epoch is the latest, but its lease ended by
 *   expiry or failure detection (reason: expired, stuck, over-budget) and
 *   nobody newer holds the task yet;
 * - NotCoordinatorError: the caller does not hold that epoch: it was never
 *   granted, it belongs to another candidate, or a human or the holder
 *   itself ended it (reason says which);
 * - TaskPausedError: the task (or an ancestor) is paused;
 * - AwaitingApprovalError: the task waits for approval of a checkpoint;
 * - NotAwaitingApprovalError: approve() of a task (or a checkpoint) that waits for none;
 * - VersionMismatchError: a guarded write's ifVersion is not the resource's version;
 * - LimitExceededError: a bound (tasks, candidates, resources, applicants) is reached.
 */
export const REFUSALS = [
  'UnknownTaskError',
  'UnknownCandidateError',
  'TaskExistsError',
  'TaskNotEmptyError',
  'IneligibleCandidateError',
  'StaleEpochError',
  'LeaseExpiredError',
  'NotCoordinatorError',
  'TaskPausedError',
  'AwaitingApprovalError',
  'NotAwaitingApprovalError',
  'VersionMismatchError',
  'LimitExceededError',
] as const;
export type RefusalName = (typeof REFUSALS)[number];

/** A command that was applied but refused: nothing it asked for happened (lease expiries it noticed did). */
export interface Refusal {
  readonly ok: false;
  readonly error: RefusalName;
  readonly message: string;
  readonly task: string | null;
  /** The task's current epoch and holder when the refusal was decided (null: no such task). */
  readonly epoch: number | null;
  readonly holder: string | null;
  /** For LeaseExpiredError and NotCoordinatorError: how the caller's epoch ended, when it did. */
  readonly reason: EndReason | null;
  /** Replicated time and log index of the command. */
  readonly at: number;
  readonly index: number;
}

/** Every successful result carries the replicated time and the log index of its command. */
interface Done {
  readonly ok: true;
  readonly at: number;
  readonly index: number;
}

/** A candidate's registration. */
export type RegisterResult = (Done & { readonly candidate: CandidateView }) | Refusal;

/** unregister(): the tasks whose tenure it ended. */
export type UnregisterResult = (Done & { readonly ended: readonly string[] }) | Refusal;

/** createTask(), and the human operations: the task as it is afterwards. */
export type TaskResult = (Done & { readonly task: TaskView }) | Refusal;

/** removeTask(). */
export type RemoveResult = (Done & { readonly removed: string }) | Refusal;

/**
 * campaign(): 'elected' when the candidate holds the task after this
 * command (selected now, earlier, or by another command since it campaigned:
 * campaigning again is how a selected candidate learns it), with the last
 * checkpoint to continue from; otherwise 'waiting', with its place among the applicants.
 */
export type CampaignResult =
  | (Done & { readonly status: 'elected'; readonly lease: Lease; readonly checkpoint: Checkpoint | null })
  | (Done & {
      readonly status: 'waiting';
      readonly taskStatus: TaskStatus;
      readonly epoch: number;
      readonly holder: string | null;
      /** 0-based place in campaign order. */
      readonly position: number;
    })
  | Refusal;

/** withdraw(): whether the candidate was an applicant. */
export type WithdrawResult = (Done & { readonly withdrawn: boolean }) | Refusal;

/** renew(): the lease extended to `leaseMs` from this command's time (capped by the time budget). */
export type RenewResult = (Done & { readonly lease: Lease }) | Refusal;

/** resign(): the epoch ended; who holds the task now (selected at once, if anybody applied). */
export type ResignResult =
  | (Done & {
      readonly epoch: number;
      readonly holder: string | null;
      readonly checkpoint: CheckpointMeta | null;
    })
  | Refusal;

/**
 * checkpoint(): the stored checkpoint; with approval, the lease ended and
 * the task waits (awaitingApproval true): the coordinator must stop until approved.
 */
export type CheckpointResult =
  (Done & { readonly checkpoint: CheckpointMeta; readonly awaitingApproval: boolean }) | Refusal;

/** act(): the resource after the guarded write. */
export type ActResult = (Done & { readonly resource: ResourceView }) | Refusal;

/** tick(): the tenures it ended and the grants it made. */
export type TickResult =
  | (Done & {
      readonly ended: readonly {
        readonly task: string;
        readonly epoch: number;
        readonly reason: EndReason;
      }[];
      readonly granted: readonly { readonly task: string; readonly epoch: number; readonly holder: string }[];
    })
  | Refusal;
