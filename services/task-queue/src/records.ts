/**
 * The task queue's internal state: job records (plain data, what snapshots
 * hold) and each queue's indexes (derived from the records, rebuilt on
 * restore). Only JobStore changes them.
 */
import { KeyedHeap } from './heap';
import type { Backoff, ClaimedJob, DeadReason, JobInfo, JobState, Lease, QueueSettings } from './types';

/** One job as the store keeps it. Absent values are null (see types.ts). */
export interface JobRecord {
  /** The job's number: its id is String(seq); enqueue order. */
  readonly seq: number;
  readonly queue: string;
  state: JobState;
  readonly payload: unknown;
  readonly priority: number;
  attempts: number;
  readonly maxAttempts: number;
  readonly backoff: Backoff | null;
  dedupKey: string | null;
  readonly enqueuedAt: number;
  readyAt: number;
  deadline: number | null;
  lease: Lease | null;
  lastError: string | null;
  result: unknown;
  finishedAt: number | null;
  /** Order among finished jobs (done or dead); the oldest is pruned first. */
  finishSeq: number | null;
  /** When a finished job is pruned. */
  pruneAt: number | null;
  deadReason: DeadReason | null;
}

/**
 * The timers of a job, at most one of each kind: DUE (a delayed job becomes
 * ready), LEASE (a lease expires), TTL (a waiting job reaches its
 * deadline), PRUNE (a finished job is dropped). A timer's id in the timer
 * heap is seq × 4 + kind, so timers due at the same time fire in job order,
 * then kind order.
 */
export const TIMER = { DUE: 0, LEASE: 1, TTL: 2, PRUNE: 3 } as const;
export type TimerKind = (typeof TIMER)[keyof typeof TIMER];

export const timerId = (seq: number, kind: TimerKind): number => seq * 4 + kind;

/** The indexes of one queue. Invariants in JobStore.audit(). */
export class QueueState {
  paused = false;
  /** Ready jobs by (priority, seq): claim order. */
  readonly ready = new KeyedHeap();
  /** Ready jobs by (readyAt, seq): the longest-waiting first. */
  readonly readySince = new KeyedHeap();
  /** Every job of the queue, in seq order (jobs are added in that order and never re-added). */
  readonly members = new Set<number>();
  /** Done jobs, in finish order. */
  readonly done = new Set<number>();
  /** Dead jobs, in finish order. */
  readonly dead = new Set<number>();
  /** dedupKey → seq of the delayed, ready or leased job that holds it. */
  readonly dedup = new Map<string, number>();
  delayed = 0;
  leased = 0;

  constructor(
    readonly name: string,
    public settings: QueueSettings,
  ) {}
}

/**
 * A deep copy of plain data (objects, arrays, Map, Set, Date, typed
 * arrays), so that callers never hold a reference into replicated state.
 * Anything else is kept as it is. (Not structuredClone: its objects come
 * from the host realm, which a vm context such as jest's does not take for
 * plain objects.)
 */
export function copyOf<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copy);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [copy(k), copy(v)]));
  if (value instanceof Set) return new Set([...value].map(copy));
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof DataView) {
    return new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  }
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(): unknown }).slice();
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  for (const [k, v] of Object.entries(value)) out[k] = copy(v);
  return out;
}

/** The public view of a job record. */
export function jobInfo(job: JobRecord): JobInfo {
  return {
    id: String(job.seq),
    queue: job.queue,
    state: job.state,
    payload: copyOf(job.payload),
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff ? { ...job.backoff } : null,
    dedupKey: job.dedupKey,
    enqueuedAt: job.enqueuedAt,
    readyAt: job.readyAt,
    deadline: job.deadline,
    lease: job.lease ? { ...job.lease } : null,
    lastError: job.lastError,
    result: copyOf(job.result),
    finishedAt: job.finishedAt,
    deadReason: job.deadReason,
  };
}

/** What claim hands a worker for a job it just leased. */
export function claimedJob(job: JobRecord, lease: Lease): ClaimedJob {
  return {
    id: String(job.seq),
    queue: job.queue,
    payload: copyOf(job.payload),
    priority: job.priority,
    token: lease.token,
    attempt: job.attempts,
    maxAttempts: job.maxAttempts,
    claimedAt: lease.claimedAt,
    leaseExpiresAt: lease.expiresAt,
    enqueuedAt: job.enqueuedAt,
  };
}
