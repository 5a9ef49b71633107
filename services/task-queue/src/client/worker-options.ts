/**
 * What a Worker takes and emits: its options (checked, with their
 * defaults), the job its handler gets, its events.
 */
import { ConfigError, RaftlineError, type KnownKeys } from '@raftline/core';
import type { JobNotFoundError, StaleTokenError } from '../errors';
import { DEFAULT_LEASE_MS } from '../machine';
import { LIMITS } from '../schemas';
import type { ClaimedJob, JobState } from '../types';
import { CONNECTION_KEYS, definedOf, type QueueConnectionOptions } from './connection';
import { AUTO_PREFETCH_MAX } from './prefetch';

/** A job as a Worker hands it to its handler. */
export interface Job<P = unknown> extends Omit<ClaimedJob, 'payload'> {
  readonly payload: P;
  /** The worker that holds the lease. */
  readonly workerId: string;
  /**
   * Aborted when the worker no longer holds the job: its lease was lost
   * (another worker may be running it now) or close() released it. The
   * handler should stop; whatever it returns then is not acked.
   */
  readonly signal: AbortSignal;
}

/** What a Worker runs for each job: its value becomes the ack's result; a throw nacks the job. */
export type Handler<P = unknown, R = unknown> = (job: Job<P>) => Promise<R> | R;

/** How a Worker reaches its group, and how it works. */
export interface WorkerOptions extends QueueConnectionOptions {
  /** Handlers running at once (default 1, at most 1000). */
  readonly concurrency?: number;
  /** Lease of each claim, in replicated time (default 30 000 ms); heartbeats extend it while the handler runs. */
  readonly leaseMs?: number;
  /**
   * Jobs claimed beyond concurrency, held (leased, their leases extended)
   * until a slot frees: fewer, larger claims for short handlers. A number
   * holds that many; `'auto'` (the default) sizes it from what the worker
   * measures, so that its slots never idle while a claim is on its way:
   * 0 while handlers take far longer than a claim's round trip (20 times or
   * more), up to 256 for handlers that take next to nothing; a held job then
   * waits about two claim round trips at most. `0` is BullMQ's behaviour:
   * one claim's round trip between jobs when the slots are full. A held job
   * another worker could run meanwhile waits for this one.
   */
  readonly prefetch?: number | 'auto';
  /** Most jobs one claim takes (default: concurrency + prefetch, with auto its most); a claim never takes more than the free slots. */
  readonly batch?: number;
  /** How often the held leases are extended, in one extendMany (default leaseMs / 3). */
  readonly heartbeatMs?: number;
  /** While idle, a claim this often (default 1000 ms); a producer's ready hint wakes the worker at once. */
  readonly pollMs?: number;
  /** The id leases are held under (default host:pid:random). */
  readonly workerId?: string;
  /** Start claiming at once (default true); otherwise call run(). */
  readonly autorun?: boolean;
}

export const WORKER_KEYS: KnownKeys<WorkerOptions> = {
  ...CONNECTION_KEYS,
  concurrency: true,
  leaseMs: true,
  prefetch: true,
  batch: true,
  heartbeatMs: true,
  pollMs: true,
  workerId: true,
  autorun: true,
};

/** Where a nacked job went, as the nack's answer says. */
export interface FailedNext {
  readonly state: JobState;
  /** When it will be claimable again (null: dead). */
  readonly readyAt: number | null;
}

/** The events a Worker emits, with their arguments. */
export interface WorkerEvents<P = unknown, R = unknown> {
  /** A job was claimed and its handler started. */
  active: [job: Job<P>];
  /** The handler returned and the ack was accepted: the job is done. */
  completed: [job: Job<P>, result: R];
  /** The handler threw and the nack was accepted; next says where the job went. */
  failed: [job: Job<P>, error: unknown, next: FailedNext];
  /** The worker no longer holds the job (an extend, ack or nack was refused): another may run it. */
  lost: [job: Job<P>, error: StaleTokenError | JobNotFoundError];
  /** A claim returned nothing after jobs had been handled: the queue is empty. */
  drained: [];
  /** A call to the group failed (the worker carries on: it claims again, resends acks, heartbeats again). */
  error: [error: unknown];
  /** close() finished. */
  closed: [];
}

/** The handler of a job no longer held was stopped because its worker closed. */
export class WorkerClosedError extends RaftlineError {
  constructor(readonly jobId: string) {
    super(`worker closed: job ${jobId} was released before its handler finished`);
  }
}

/** A Worker's options with their defaults. */
export type ResolvedWorkerOptions = ReturnType<typeof resolveWorkerOptions>;

/** The options with their defaults, checked. @throws ConfigError naming every bad one */
export function resolveWorkerOptions(options: WorkerOptions) {
  const given = definedOf(options);
  const concurrency = given.concurrency ?? 1;
  const prefetch = given.prefetch ?? 'auto';
  const leaseMs = given.leaseMs ?? DEFAULT_LEASE_MS;
  const most = prefetch === 'auto' ? AUTO_PREFETCH_MAX : prefetch;
  const o = {
    concurrency,
    prefetch,
    leaseMs,
    batch: given.batch ?? Math.min(concurrency + most, LIMITS.batch),
    heartbeatMs: given.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)),
    pollMs: given.pollMs ?? 1000,
  };
  const problems: string[] = [];
  const int = (key: Exclude<keyof typeof o, 'prefetch'>, min: number, max: number): void => {
    const v = o[key];
    if (!Number.isSafeInteger(v) || v < min || v > max)
      problems.push(`${key} (${v}) must be an integer from ${min} to ${max}`);
  };
  int('concurrency', 1, LIMITS.batch);
  if (prefetch !== 'auto' && (!Number.isSafeInteger(prefetch) || prefetch < 0 || prefetch > LIMITS.batch))
    problems.push(`prefetch (${String(prefetch)}) must be 'auto' or an integer from 0 to ${LIMITS.batch}`);
  int('leaseMs', 1, LIMITS.leaseMs);
  if (given.batch !== undefined) int('batch', 1, LIMITS.batch);
  int('heartbeatMs', 1, LIMITS.leaseMs);
  int('pollMs', 1, LIMITS.leaseMs);
  if (o.heartbeatMs >= o.leaseMs)
    problems.push(`heartbeatMs (${o.heartbeatMs}) must be less than leaseMs (${o.leaseMs})`);
  const id = options.workerId;
  if (id !== undefined && (typeof id !== 'string' || id.length < 1 || id.length > LIMITS.workerId))
    problems.push(`workerId must be a string of 1 to ${LIMITS.workerId} characters`);
  if (problems.length > 0) throw new ConfigError(problems);
  return o;
}
