/**
 * How the task queue refuses a fenced call (extend, ack, nack, release,
 * and each item of extendMany and ackMany), and the errors those refusals
 * become on the caller's side.
 *
 * A refusal is a result value, not a thrown error: a handler runs on every
 * replica and what it throws reaches a remote client only as a
 * CommandFailedError carrying the message (its class and fields are lost
 * on the way), while a result arrives as sent. throwIfRefused() turns a
 * refusal back into a named error where the caller wants one.
 */
import { RaftlineError } from '@raftline/core';
import type { JobRecord } from './records';
import type { JobState } from './types';

/** The names a refusal carries, one per error class below. */
export type RefusalCode = 'StaleTokenError' | 'JobNotFoundError';

/**
 * A fenced call that did not happen, with why. Nothing changed (apart
 * from the expiries every command first processes).
 */
export interface Refusal {
  readonly ok: false;
  readonly error: RefusalCode;
  readonly jobId: string;
  /** The job's state when the call arrived (null for JobNotFoundError). */
  readonly state: JobState | null;
  readonly message: string;
}

/** What a fenced call returns: the outcome or the refusal. */
export type Fenced<T extends object> = ({ readonly ok: true; readonly jobId: string } & T) | Refusal;

/**
 * The token is not the job's current lease token: the lease expired (and
 * maybe went to another worker), or the job was acknowledged, failed, or
 * dead-lettered since. The caller no longer holds the job; whatever it
 * did for it may be done again by another worker.
 */
export class StaleTokenError extends RaftlineError {
  readonly code = 'StaleTokenError';
  constructor(
    readonly jobId: string,
    readonly state: JobState | null,
    message: string,
  ) {
    super(message);
  }
}

/** No job has that id: it never existed, or it was pruned or purged. */
export class JobNotFoundError extends RaftlineError {
  readonly code = 'JobNotFoundError';
  constructor(
    readonly jobId: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error class a refusal stands for. */
export function refusalError(refusal: Refusal): StaleTokenError | JobNotFoundError {
  switch (refusal.error) {
    case 'StaleTokenError':
      return new StaleTokenError(refusal.jobId, refusal.state, refusal.message);
    case 'JobNotFoundError':
      return new JobNotFoundError(refusal.jobId, refusal.message);
  }
}

/**
 * Returns result when it is ok.
 * @throws StaleTokenError or JobNotFoundError, as the refusal names
 */
export function throwIfRefused<T extends { readonly ok: boolean }>(result: T): Exclude<T, Refusal> {
  if (result.ok) return result as Exclude<T, Refusal>;
  throw refusalError(result as unknown as Refusal);
}

/** Whether value is a Refusal (e.g. one item of ackMany's answer). */
export function isRefusal(value: unknown): value is Refusal {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { ok?: unknown }).ok === false &&
    typeof (value as { error?: unknown }).error === 'string'
  );
}

/** The refusal of a fenced call under token on jobId, whose record is job (undefined: none). */
export function refusalFor(job: JobRecord | undefined, jobId: string, token: number): Refusal {
  if (!job) {
    const message = `job ${jobId} does not exist (never enqueued, or pruned or purged)`;
    return { ok: false, error: 'JobNotFoundError', jobId, state: null, message };
  }
  const now =
    job.state === 'leased'
      ? `leased under token ${job.lease!.token}`
      : job.state === 'ready' || job.state === 'delayed'
        ? `${job.state} (the lease ended)`
        : job.state;
  const message = `token ${token} of job ${jobId} is not its current lease: the job is ${now}`;
  return { ok: false, error: 'StaleTokenError', jobId, state: job.state, message };
}
