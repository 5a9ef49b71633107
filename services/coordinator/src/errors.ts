/**
 * The named errors of the coordinator, one class per refusal name (see
 * REFUSALS in results.ts). Commands return refusals as values; these classes
 * are for callers who would rather catch: unwrap(result) returns a success
 * and throws the refusal's class otherwise, keeping the refusal (task,
 * current epoch and holder, reason, time) on the error.
 */
import { RaftlineError } from '@raftline/core';
import type { Refusal, RefusalName } from './results';

/** A coordinator command was applied and refused; `refusal` says why, by name. */
export class CoordinatorRefusedError extends RaftlineError {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

/** No task with that id. */
export class UnknownTaskError extends CoordinatorRefusedError {}
/** No registered candidate with that id. */
export class UnknownCandidateError extends CoordinatorRefusedError {}
/** createTask() of an id already in use. */
export class TaskExistsError extends CoordinatorRefusedError {}
/** removeTask() of a task with subtasks. */
export class TaskNotEmptyError extends CoordinatorRefusedError {}
/** The candidate lacks a capability the task requires, so it can never be selected. */
export class IneligibleCandidateError extends CoordinatorRefusedError {}
/** The epoch was superseded: a newer one has been granted. Stop acting. */
export class StaleEpochError extends CoordinatorRefusedError {}
/** The epoch's lease ended by expiry or failure detection. Stop acting; campaign again to come back. */
export class LeaseExpiredError extends CoordinatorRefusedError {}
/** The caller does not hold that epoch (never granted, another's, or ended by a human or by resigning). */
export class NotCoordinatorError extends CoordinatorRefusedError {}
/** The task, or an ancestor, is paused. */
export class TaskPausedError extends CoordinatorRefusedError {}
/** The task waits for a human to approve a checkpoint. */
export class AwaitingApprovalError extends CoordinatorRefusedError {}
/** approve() of a task, or of a checkpoint, that waits for no approval. */
export class NotAwaitingApprovalError extends CoordinatorRefusedError {}
/** A guarded write's ifVersion differs from the resource's version. */
export class VersionMismatchError extends CoordinatorRefusedError {}
/** A bound of the coordinator (tasks, candidates, resources, applicants) is reached. */
export class LimitExceededError extends CoordinatorRefusedError {}

const CLASSES: Record<RefusalName, new (r: Refusal) => CoordinatorRefusedError> = {
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
};

/**
 * The error a refusal stands for.
 * @returns an instance of the class named by refusal.error (CoordinatorRefusedError for a name this version does not know)
 */
export function refusalError(refusal: Refusal): CoordinatorRefusedError {
  const Class = Object.hasOwn(CLASSES, refusal.error) ? CLASSES[refusal.error] : CoordinatorRefusedError;
  return new Class(refusal);
}

/** Whether a command result is a refusal. */
export function isRefusal(result: unknown): result is Refusal {
  return (
    typeof result === 'object' &&
    result !== null &&
    (result as { ok?: unknown }).ok === false &&
    typeof (result as { error?: unknown }).error === 'string'
  );
}

/**
 * The success of a command result.
 * @returns result, narrowed to its successful variants
 * @throws the refusal's named error (StaleEpochError, LeaseExpiredError, …) when it is one
 */
export function unwrap<R extends { readonly ok: boolean }>(result: R): Exclude<R, Refusal> {
  if (isRefusal(result)) throw refusalError(result);
  return result as Exclude<R, Refusal>;
}
