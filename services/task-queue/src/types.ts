/**
 * The task queue's public data: what commands take and what they and the
 * queries return. Everything here is plain data (it crosses the wire and
 * is kept in snapshots); absent values are null, never undefined, so that
 * a replica restored from a snapshot holds exactly what one that applied
 * the whole log holds.
 */

/**
 * Where a job is in its life:
 * - `delayed`: waiting for its time (a delay, or a backoff after a failure);
 * - `ready`: claimable, in priority then enqueue order;
 * - `leased`: handed to one worker until its lease expires;
 * - `done`: acknowledged (kept for the queue's keepDone* bounds, then pruned);
 * - `dead`: out of attempts, or past its deadline (in the dead-letter list
 *   until retried, purged or pruned by the keepDead* bounds).
 */
export type JobState = 'delayed' | 'ready' | 'leased' | 'done' | 'dead';

/** Every JobState, in life order. */
export const JOB_STATES: readonly JobState[] = ['delayed', 'ready', 'leased', 'done', 'dead'];

/**
 * The wait before attempt n + 1 after n failed attempts: `fixed` waits
 * delayMs every time; `exponential` waits delayMs × 2^(n−1), at most maxMs.
 */
export interface Backoff {
  readonly type: 'fixed' | 'exponential';
  readonly delayMs: number;
  /** Upper bound of an exponential wait (default: none). */
  readonly maxMs?: number;
}

/** Options of enqueue; every field is optional. */
export interface EnqueueOptions {
  /** Lower runs first (BullMQ, River, graphile-worker). Default 0. */
  readonly priority?: number;
  /** The job becomes ready this long after the enqueue (replicated time). Default 0. */
  readonly delayMs?: number;
  /** While a job of this queue with this key is delayed, ready or leased, enqueue returns its id instead. */
  readonly dedupKey?: string;
  /** Claims a job may get before it is dead; default: the queue's maxAttempts setting. */
  readonly maxAttempts?: number;
  /** Wait between a failed attempt (nack without retryInMs) and the next. Default: none. */
  readonly backoff?: Backoff;
  /**
   * The job must be claimed within this long after the enqueue: a job still
   * delayed or ready at enqueue time + ttlMs, or that fails or loses its lease
   * after it, goes to the dead letters (reason 'ttl'). A lease held at the
   * deadline runs to its end. Default: no deadline.
   */
  readonly ttlMs?: number;
}

/** One job of an enqueueMany batch. */
export interface EnqueueItem {
  readonly payload: unknown;
  readonly options?: EnqueueOptions;
}

/** Options of claim. */
export interface ClaimOptions {
  /** Length of each lease, in replicated time. Default 30 000. */
  readonly leaseMs?: number;
  /** At most this many jobs are handed out (default 1). */
  readonly max?: number;
}

/** Options of nack. */
export interface NackOptions {
  /** Why the attempt failed; kept as the job's lastError. */
  readonly error?: string;
  /** Retry after this long instead of the job's backoff (0: at once). */
  readonly retryInMs?: number;
}

/** One item of an ackMany batch. */
export interface AckItem {
  readonly jobId: string;
  readonly token: number;
  readonly result?: unknown;
}

/** A job handed to a worker by claim. */
export interface ClaimedJob {
  readonly id: string;
  readonly queue: string;
  readonly payload: unknown;
  readonly priority: number;
  /**
   * The fencing token of this lease: the claim's log index. A job's tokens
   * strictly increase from claim to claim; only the current one is accepted
   * by extend, ack, nack and release, and an external system may refuse writes that
   * carry a token lower than one it has seen.
   */
  readonly token: number;
  /** 1 for the first claim of the job, 2 for the second, … */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Replicated time of the claim. */
  readonly claimedAt: number;
  /** The lease ends at this replicated time unless extended. */
  readonly leaseExpiresAt: number;
  readonly enqueuedAt: number;
}

/** A job's lease, as getJob shows it. */
export interface Lease {
  readonly workerId: string;
  readonly token: number;
  readonly claimedAt: number;
  readonly expiresAt: number;
}

/** Why a job is dead: it used its attempts, or its deadline (ttlMs) passed. */
export type DeadReason = 'attempts' | 'ttl';

/** A job as getJob and listJobs show it (a copy: changing it changes nothing). */
export interface JobInfo {
  readonly id: string;
  readonly queue: string;
  readonly state: JobState;
  readonly payload: unknown;
  readonly priority: number;
  /** Claims so far. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly backoff: Backoff | null;
  readonly dedupKey: string | null;
  readonly enqueuedAt: number;
  /** When a delayed job becomes ready (or a ready one became ready). */
  readonly readyAt: number;
  /** enqueue time + ttlMs, or null. */
  readonly deadline: number | null;
  readonly lease: Lease | null;
  /** What the last failed attempt reported (a nack's error, or 'lease expired'). */
  readonly lastError: string | null;
  /** What the ack carried, for a done job. */
  readonly result: unknown;
  /** Replicated time the job became done or dead. */
  readonly finishedAt: number | null;
  readonly deadReason: DeadReason | null;
}

/**
 * A queue's settings (configure). A queue that was never configured uses
 * the defaults the TaskQueue was built with.
 */
export interface QueueSettings {
  /** Attempts of a job that names none. Default 3. */
  readonly maxAttempts: number;
  /** At most this many done jobs are kept (the oldest go first). Default 1 000. */
  readonly keepDoneCount: number;
  /** A done job is pruned this long after it was done. Default 1 hour. */
  readonly keepDoneMs: number;
  /** At most this many dead jobs are kept (the oldest go first). Default 10 000. */
  readonly keepDeadCount: number;
  /** A dead job is pruned this long after it died. Default 7 days. */
  readonly keepDeadMs: number;
}

/** A queue's counts, as of the replicated time `asOf` of the last applied command. */
export interface QueueStats {
  readonly queue: string;
  readonly paused: boolean;
  readonly delayed: number;
  readonly ready: number;
  readonly leased: number;
  readonly done: number;
  readonly dead: number;
  /** asOf minus the time the longest-waiting ready job became ready; 0 when none is ready. */
  readonly oldestReadyAgeMs: number;
  /**
   * Replicated time of the last command applied. Jobs move (delayed →
   * ready, expired leases back to ready, prunes) only when a command is
   * applied, so the counts hold as of this time; a `tick` brings it forward.
   */
  readonly asOf: number;
}

/** Options of listJobs. */
export interface ListOptions {
  /** Start after this job id (the previous page's `next`). */
  readonly after?: string;
  /** At most this many jobs (default 100, at most 1 000). */
  readonly limit?: number;
}

/** One page of listJobs: jobs in id (enqueue) order, and the cursor of the next page (null: no more). */
export interface JobPage {
  readonly jobs: readonly JobInfo[];
  readonly next: string | null;
}

/** What purge, retryDead and purgeDead did. */
export interface Moved {
  /** Jobs moved (or removed). */
  readonly count: number;
  /** The ids asked for that were not in the state the command acts on (unknown, pruned, or elsewhere). */
  readonly skipped: readonly string[];
}

/** What one tick (or the expiry pass that starts every command) moved. */
export interface TickResult {
  /** Replicated time the tick was applied at. */
  readonly at: number;
  /** Delayed jobs that became ready, leases that expired, deadlines that passed, finished jobs pruned. */
  readonly moved: number;
}

/** What every job event carries. */
interface JobEventBase {
  /** Log index of the command that made the move (a timer fires at the first command at or after its time). */
  readonly index: number;
  /** Replicated time of the move: the command's, or the timer's own (a lease's expiry, a deadline). */
  readonly at: number;
  readonly jobId: string;
  readonly queue: string;
}

/** A job was added (a dedup hit adds nothing, and makes no event). */
export interface JobEnqueued extends JobEventBase {
  readonly type: 'enqueued';
  /** ready, or delayed until readyAt. */
  readonly state: 'ready' | 'delayed';
  readonly readyAt: number;
  readonly priority: number;
  readonly dedupKey: string | null;
}

/** A worker leased the job. */
export interface JobClaimed extends JobEventBase {
  readonly type: 'claimed';
  readonly workerId: string;
  readonly token: number;
  readonly attempt: number;
  readonly leaseExpiresAt: number;
}

/** The lease holder acked the job: it is done (exactly once per job). */
export interface JobCompleted extends JobEventBase {
  readonly type: 'completed';
  readonly workerId: string;
  readonly token: number;
  readonly attempt: number;
}

/**
 * An attempt ended without success: a nack, or the lease expired
 * (`expired`). `next` says where the job went: back to ready, delayed until
 * readyAt, or dead (a `dead` event follows).
 */
export interface JobFailed extends JobEventBase {
  readonly type: 'failed';
  readonly workerId: string;
  readonly token: number;
  readonly attempt: number;
  readonly error: string;
  readonly expired: boolean;
  readonly next: 'ready' | 'delayed' | 'dead';
  readonly readyAt: number | null;
}

/** The job went to the dead letters: out of attempts, or past its deadline. */
export interface JobDead extends JobEventBase {
  readonly type: 'dead';
  readonly reason: DeadReason;
  readonly attempts: number;
  readonly lastError: string | null;
}

/** The lease holder handed the job back unfinished (release): ready, the attempt not counted. */
export interface JobReleased extends JobEventBase {
  readonly type: 'released';
  readonly workerId: string;
  readonly token: number;
}

/** A dead job was moved back to ready (retryDead). */
export interface JobRetried extends JobEventBase {
  readonly type: 'retried';
}

/** The job is gone: purged while waiting, pruned once finished (the keep bounds), or discarded from the dead letters. */
export interface JobRemoved extends JobEventBase {
  readonly type: 'removed';
  readonly reason: 'purged' | 'pruned' | 'discarded';
}

/**
 * One move of one job, as the committed stream implies it (see
 * JobEventFeed): what a UI or an audit log follows.
 */
export type JobEvent =
  JobEnqueued | JobClaimed | JobCompleted | JobFailed | JobDead | JobReleased | JobRetried | JobRemoved;

/** The kinds of JobEvent, in one place. */
export const JOB_EVENT_TYPES: readonly JobEvent['type'][] = [
  'enqueued',
  'claimed',
  'completed',
  'failed',
  'dead',
  'released',
  'retried',
  'removed',
];

/** A JobEvent before the log index is put on it (what the store reports). */
export type JobMove = JobEvent extends infer E ? (E extends JobEvent ? Omit<E, 'index'> : never) : never;
