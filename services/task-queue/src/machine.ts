import {
  Command,
  ConfigError,
  Query,
  type MachineMetric,
  type MachineMetrics,
  ReplicatedStateMachine,
  StateMachine,
  Validate,
  checkKnownKeys,
  pack,
  type KnownKeys,
} from '@raftline/core';
import { refusalFor, type Fenced } from './errors';
import { copyOf, jobInfo, type JobRecord } from './records';
import * as s from './schemas';
import { settingsProblems } from './schemas';
import { auditProblems, restoreStore, snapshotOf } from './snapshot';
import { DEFAULT_METRICS_QUEUE_LABELS, queueMetrics } from './metrics';
import { JobStore, type MoveObserver } from './store';
import {
  JOB_STATES,
  type AckItem,
  type ClaimOptions,
  type ClaimedJob,
  type EnqueueItem,
  type EnqueueOptions,
  type JobInfo,
  type JobPage,
  type JobState,
  type ListOptions,
  type Moved,
  type NackOptions,
  type QueueSettings,
  type QueueStats,
  type TickResult,
} from './types';

/** How a TaskQueue is built. Every replica of a group must be built with the same options. */
export interface TaskQueueOptions {
  /** Settings of a queue until it is configured (see QueueSettings for each default). */
  readonly defaults?: Partial<QueueSettings>;
  /** Largest payload of one job, msgpack-encoded. Default 64 KiB. */
  readonly maxPayloadBytes?: number;
  /** Largest result of one ack, msgpack-encoded. Default 16 KiB. */
  readonly maxResultBytes?: number;
  /** Queues that keep their own `queue` label in the metrics (the rest are summed as "(other)"). Default 20. */
  readonly metricsQueueLabels?: number;
}

/** The defaults of QueueSettings, in one place. */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  maxAttempts: 3,
  keepDoneCount: 1000,
  keepDoneMs: 60 * 60 * 1000,
  keepDeadCount: 10_000,
  keepDeadMs: 7 * 24 * 60 * 60 * 1000,
};

/** The defaults of TaskQueueOptions' sizes, in one place. */
export const DEFAULT_TASK_QUEUE_LIMITS = { maxPayloadBytes: 64 * 1024, maxResultBytes: 16 * 1024 } as const;

/** A claim's lease when the claim names none. */
export const DEFAULT_LEASE_MS = 30_000;

/**
 * Attaches an observer of every job move of `machine` (undefined detaches
 * it), kept across restoreState. For JobEventFeed, which runs a machine of
 * its own; not exported from the package. Assigned in TaskQueue's static block.
 */
export let observeMoves: (machine: TaskQueue, observer: MoveObserver | undefined) => void;

const OPTION_KEYS: KnownKeys<TaskQueueOptions> = {
  defaults: true,
  maxPayloadBytes: true,
  maxResultBytes: true,
  metricsQueueLabels: true,
};

/**
 * A replicated work queue (issue 11): named queues of jobs with priority,
 * delay, dedup keys, retries with backoff, deadlines and dead letters,
 * handed to workers under leases with fencing tokens.
 *
 * Time is replicated time (this.context.time, the leader's stamp on each
 * entry): every command first moves the queue to its time, firing what is
 * due (delayed jobs become ready, leases expire, deadlines pass, finished
 * jobs are pruned), and `tick` does only that. No replica reads its own
 * clock, so all of them make the same moves at the same log index.
 *
 * Guarantees (proved on SimCluster by test/sweep.spec.ts):
 * - no job is lost: every acknowledged enqueue is delayed, ready, leased,
 *   done or dead until the queue's keep bounds prune it once finished;
 * - a job is completed at most once: an ack is accepted only under the
 *   job's current lease token, and the first accepted ack ends the lease;
 * - at any replicated time a job has at most one unexpired lease, and only
 *   its token is accepted by extend, ack, nack and release. A caller with another
 *   token gets a StaleTokenError refusal (a result value: see errors.ts).
 * Handlers run at least once per job (a worker that stalls past its lease
 * may still be running when the job is claimed again); completion is
 * exactly once.
 *
 * Arguments are checked before replication (schemas.ts, and the size
 * validators here): a bad one is a CommandRejectedError naming it.
 */
@StateMachine('task-queue')
export class TaskQueue extends ReplicatedStateMachine implements MachineMetrics {
  private store: JobStore;
  private observer: MoveObserver | undefined;
  private readonly defaults: QueueSettings;
  private readonly metricsQueueLabels: number;

  static {
    observeMoves = (machine, observer) => {
      machine.observer = observer;
      machine.store.observer = observer;
    };
  }
  private readonly limits: { readonly maxPayloadBytes: number; readonly maxResultBytes: number };

  /** @throws ConfigError naming every invalid or unknown option */
  constructor(options: TaskQueueOptions = {}) {
    super();
    checkKnownKeys(options, OPTION_KEYS, 'TaskQueue options');
    const problems = settingsProblems(options.defaults ?? {}, 'defaults');
    this.limits = { ...DEFAULT_TASK_QUEUE_LIMITS, ...pick(options, ['maxPayloadBytes', 'maxResultBytes']) };
    for (const [key, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value < 1)
        problems.push(`${key} (${value}) must be a positive integer`);
    }
    const labels = options.metricsQueueLabels ?? DEFAULT_METRICS_QUEUE_LABELS;
    if (!Number.isSafeInteger(labels) || labels < 0)
      problems.push(`metricsQueueLabels (${labels}) must be a non-negative integer`);
    this.metricsQueueLabels = labels;
    if (problems.length > 0) throw new ConfigError(problems);
    this.defaults = { ...DEFAULT_QUEUE_SETTINGS, ...options.defaults };
    this.store = new JobStore(this.defaults);
  }

  // --------------------------------------------------------------- producers

  /**
   * Adds a job to queue (created on first use).
   * @returns the job's id; with a dedupKey held by a delayed, ready or
   *   leased job of the queue, that job's id (nothing is added)
   */
  @Command({ args: [s.queueName, s.payload, s.enqueueOptions.optional()] })
  enqueue(queue: string, payload: unknown, options: EnqueueOptions = {}): string {
    this.begin();
    return String(this.store.enqueue(queue, payload, options));
  }

  /** Adds several jobs to queue, in order, in one entry. @returns their ids, as enqueue would */
  @Command({ args: [s.queueName, s.enqueueItems] })
  enqueueMany(queue: string, items: readonly EnqueueItem[]): string[] {
    this.begin();
    return items.map((item) => String(this.store.enqueue(queue, item.payload, item.options ?? {})));
  }

  @Validate('enqueue')
  protected checkEnqueue(_queue: string, payload: unknown): string | undefined {
    return this.sizeProblem('args[1] (payload)', payload, 'maxPayloadBytes');
  }

  @Validate('enqueueMany')
  protected checkEnqueueMany(_queue: string, items: readonly EnqueueItem[]): string | undefined {
    return this.sizesProblem(
      items.map((item) => item.payload),
      (i) => `args[1] (items)[${i}].payload`,
      'maxPayloadBytes',
    );
  }

  // ----------------------------------------------------------------- workers

  /**
   * Leases up to options.max (default 1) ready jobs of queue to workerId, in
   * priority order (lower first), then enqueue order, each for
   * options.leaseMs (default 30 s) of replicated time. The fencing token of
   * every lease is this command's log index. A paused or unknown queue
   * hands out nothing.
   * @returns the jobs, possibly none
   */
  @Command({ args: [s.queueName, s.workerId, s.claimOptions.optional()] })
  claim(queue: string, workerId: string, options: ClaimOptions = {}): ClaimedJob[] {
    this.begin();
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    return this.store.claim(queue, workerId, leaseMs, options.max ?? 1, this.context.index);
  }

  /**
   * Extends the lease of token on jobId to leaseMs from now (replicated time).
   * @returns the new expiry, or a refusal: StaleTokenError when token is not
   *   the job's current lease, JobNotFoundError when there is no such job
   */
  @Command({ args: [s.jobId, s.token, s.leaseMs] })
  extend(jobId: string, token: number, leaseMs: number): Fenced<{ leaseExpiresAt: number; at: number }> {
    const at = this.begin();
    const job = this.store.holder(Number(jobId), token);
    if (!job) return refusalFor(this.store.jobs.get(Number(jobId)), jobId, token);
    return { ok: true, jobId, leaseExpiresAt: this.store.extend(job, leaseMs), at };
  }

  /** Extends several leases in one entry (a worker's heartbeat). @returns one answer per item, as extend would */
  @Command({ args: [s.leases, s.leaseMs] })
  extendMany(
    items: readonly { jobId: string; token: number }[],
    leaseMs: number,
  ): Fenced<{ leaseExpiresAt: number; at: number }>[] {
    const at = this.begin();
    return items.map(({ jobId, token }) => {
      const job = this.store.holder(Number(jobId), token);
      if (!job) return refusalFor(this.store.jobs.get(Number(jobId)), jobId, token);
      return { ok: true, jobId, leaseExpiresAt: this.store.extend(job, leaseMs), at };
    });
  }

  /**
   * Gives jobId back unfinished (a worker shutting down): it is ready at
   * once and the attempt does not count, so its next claim has the same
   * attempt number. Use nack for a failure.
   * @returns ok, or a refusal (see extend)
   */
  @Command({ args: [s.jobId, s.token] })
  release(jobId: string, token: number): Fenced<{ at: number }> {
    const at = this.begin();
    const job = this.store.holder(Number(jobId), token);
    if (!job) return refusalFor(this.store.jobs.get(Number(jobId)), jobId, token);
    this.store.release(job);
    return { ok: true, jobId, at };
  }

  /**
   * Completes jobId under token, keeping result. The first accepted ack
   * ends the lease, so a job is completed once.
   * @returns ok, or a refusal (see extend)
   */
  @Command({ args: [s.jobId, s.token, s.result] })
  ack(jobId: string, token: number, result?: unknown): Fenced<{ at: number }> {
    const at = this.begin();
    return this.ackOne(jobId, token, result, at);
  }

  /** Acks several jobs in one entry. @returns one answer per item, as ack would, in order */
  @Command({ args: [s.ackItems] })
  ackMany(items: readonly AckItem[]): Fenced<{ at: number }>[] {
    const at = this.begin();
    return items.map((item) => this.ackOne(item.jobId, item.token, item.result, at));
  }

  @Validate('ack')
  protected checkAck(_jobId: string, _token: number, result?: unknown): string | undefined {
    return this.sizeProblem('args[2] (result)', result, 'maxResultBytes');
  }

  @Validate('ackMany')
  protected checkAckMany(items: readonly AckItem[]): string | undefined {
    return this.sizesProblem(
      items.map((item) => item.result),
      (i) => `args[0] (items)[${i}].result`,
      'maxResultBytes',
    );
  }

  /**
   * Ends the attempt of token on jobId as failed: the job is retried after
   * options.retryInMs (default: its backoff, or at once), unless it has used
   * its attempts or its deadline would pass first; then it is dead.
   * @returns where the job went, or a refusal (see extend)
   */
  @Command({ args: [s.jobId, s.token, s.nackOptions.optional()] })
  nack(
    jobId: string,
    token: number,
    options: NackOptions = {},
  ): Fenced<{ state: JobState; readyAt: number | null; at: number }> {
    const at = this.begin();
    const job = this.store.holder(Number(jobId), token);
    if (!job) return refusalFor(this.store.jobs.get(Number(jobId)), jobId, token);
    this.store.nack(job, options.error ?? 'nack', options.retryInMs);
    const readyAt = job.state === 'delayed' || job.state === 'ready' ? job.readyAt : null;
    return { ok: true, jobId, state: job.state, readyAt, at };
  }

  // ---------------------------------------------------------------- controls

  /** Stops claims from queue (enqueues and held leases go on). @returns whether it was running */
  @Command({ args: [s.queueName] })
  pause(queue: string): boolean {
    this.begin();
    const q = this.store.queue(queue);
    const was = q.paused;
    q.paused = true;
    return !was;
  }

  /** Lets claims take from queue again. @returns whether it was paused */
  @Command({ args: [s.queueName] })
  resume(queue: string): boolean {
    this.begin();
    const q = this.store.queues.get(queue);
    const was = q?.paused ?? false;
    if (q) q.paused = false;
    return was;
  }

  /** Removes queue's ready and delayed jobs (leased ones finish as they will). @returns how many */
  @Command({ args: [s.queueName] })
  purge(queue: string): Moved {
    this.begin();
    return { count: this.store.purge(queue), skipped: [] };
  }

  /** Moves dead jobs of queue (these ids, default all) back to ready, with fresh attempts and no deadline. */
  @Command({ args: [s.queueName, s.jobIds.optional()] })
  retryDead(queue: string, jobIds?: readonly string[]): Moved {
    this.begin();
    return this.eachDead(queue, jobIds, (job) => this.store.revive(job));
  }

  /** Removes dead jobs of queue (these ids, default all). */
  @Command({ args: [s.queueName, s.jobIds.optional()] })
  purgeDead(queue: string, jobIds?: readonly string[]): Moved {
    this.begin();
    return this.eachDead(queue, jobIds, (job) => this.store.discard(job));
  }

  /** Changes queue's settings (the others stay); the keep bounds apply to finished jobs at once. @returns all its settings */
  @Command({ args: [s.queueName, s.queueSettings] })
  configure(queue: string, settings: Partial<QueueSettings>): QueueSettings {
    this.begin();
    const next = { ...this.store.queue(queue).settings, ...settings };
    this.store.configure(queue, next);
    return { ...next };
  }

  /**
   * Does only what every command does first: moves the queues to this
   * entry's replicated time. Propose it periodically (from the leader, or a
   * worker) so that expiries show in queries without other traffic.
   */
  @Command({ args: [] })
  tick(): TickResult {
    const at = this.context.time;
    return { at, moved: this.store.advance(at) };
  }

  // ----------------------------------------------------------------- queries

  /** Counts of queue, as of the last command applied (an unknown queue counts zero). */
  @Query()
  stats(queue: string): QueueStats {
    const q = this.store.queues.get(queue);
    const asOf = this.store.now;
    if (!q)
      return {
        queue,
        paused: false,
        delayed: 0,
        ready: 0,
        leased: 0,
        done: 0,
        dead: 0,
        oldestReadyAgeMs: 0,
        asOf,
      };
    const since = q.readySince.peekKey();
    return {
      queue,
      paused: q.paused,
      delayed: q.delayed,
      ready: q.ready.size,
      leased: q.leased,
      done: q.done.size,
      dead: q.dead.size,
      oldestReadyAgeMs: since === undefined ? 0 : asOf - since,
      asOf,
    };
  }

  /** Every queue named so far, in name order. */
  @Query()
  queues(): string[] {
    return [...this.store.queues.keys()].sort();
  }

  /** A queue's settings (the defaults for an unknown queue). */
  @Query()
  settings(queue: string): QueueSettings {
    return { ...(this.store.queues.get(queue)?.settings ?? this.defaults) };
  }

  /** @returns a copy of the job, or null when there is none (never enqueued, pruned or purged) */
  @Query()
  getJob(jobId: string): JobInfo | null {
    const job = this.store.jobs.get(Number(jobId));
    return job && String(job.seq) === jobId ? jobInfo(job) : null;
  }

  /**
   * Jobs of queue in state (default: every state), in id order, a page at a
   * time. It scans the queue's jobs from the cursor: an inspection tool, not
   * a worker's path.
   * @throws RangeError for an unknown state or a bad limit
   */
  @Query()
  listJobs(queue: string, state?: JobState | null, options: ListOptions = {}): JobPage {
    if (state != null && !JOB_STATES.includes(state))
      throw new RangeError(`unknown job state ${String(state)}`);
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > s.LIMITS.page) {
      throw new RangeError(`limit (${limit}) must be an integer from 1 to ${s.LIMITS.page}`);
    }
    const after = options.after === undefined ? 0 : Number(options.after);
    const q = this.store.queues.get(queue);
    const jobs: JobInfo[] = [];
    if (!q) return { jobs, next: null };
    for (const seq of q.members) {
      if (seq <= after) continue;
      const job = this.store.jobs.get(seq)!;
      if (state != null && job.state !== state) continue;
      if (jobs.length === limit) return { jobs, next: jobs[jobs.length - 1]!.id };
      jobs.push(jobInfo(job));
    }
    return { jobs, next: null };
  }

  // --------------------------------------------------------------- framework

  /** The job records and queue settings; the indexes are rebuilt on restore (snapshot.ts). */
  override snapshotState(): unknown {
    return snapshotOf(this.store);
  }

  override restoreState(state: unknown): void {
    const { leaseExpiries } = this.store;
    this.store = restoreStore(state, this.defaults);
    this.store.observer = this.observer;
    this.store.leaseExpiries = leaseExpiries;
  }

  /** Jobs by queue and state, queues, lease expiries (metrics.ts): read by raftline serve's /metrics. */
  metrics(): MachineMetric[] {
    return queueMetrics(this.store, this.metricsQueueLabels, this.store.leaseExpiries);
  }

  /**
   * Every index that disagrees with the job records, every broken job
   * invariant; empty when all is well. For tests and diagnosis (it rebuilds
   * the whole state): not a query, not replicated.
   */
  protected auditState(): string[] {
    return auditProblems(this.store);
  }

  // ---------------------------------------------------------------- helpers

  /** Moves the queues to this command's time. @returns that time */
  private begin(): number {
    const at = this.context.time;
    this.store.advance(at);
    return at;
  }

  private ackOne(jobId: string, token: number, result: unknown, at: number): Fenced<{ at: number }> {
    const job = this.store.holder(Number(jobId), token);
    if (!job) return refusalFor(this.store.jobs.get(Number(jobId)), jobId, token);
    this.store.ack(job, copyOf(result));
    return { ok: true, jobId, at };
  }

  private eachDead(queue: string, ids: readonly string[] | undefined, act: (job: JobRecord) => void): Moved {
    const q = this.store.queues.get(queue);
    const targets: JobRecord[] = [];
    const skipped: string[] = [];
    if (ids === undefined) {
      for (const seq of q?.dead ?? []) targets.push(this.store.jobs.get(seq)!);
    } else {
      for (const id of ids) {
        const job = this.store.jobs.get(Number(id));
        if (job && job.queue === queue && job.state === 'dead' && !targets.includes(job)) targets.push(job);
        else skipped.push(id);
      }
    }
    for (const job of targets) act(job);
    return { count: targets.length, skipped };
  }

  /**
   * sizeProblem for each of values, in one encode when they fit together:
   * an array encodes as a header and its items' encodings, so a list within
   * the limit has no item past it. Only a longer list is checked item by item.
   */
  private sizesProblem(
    values: readonly unknown[],
    where: (i: number) => string,
    limit: 'maxPayloadBytes' | 'maxResultBytes',
  ): string | undefined {
    try {
      if (pack(values).byteLength <= this.limits[limit]) return undefined;
    } catch {
      // One of them cannot be encoded: the loop names it.
    }
    for (let i = 0; i < values.length; i++) {
      const problem = this.sizeProblem(where(i), values[i], limit);
      if (problem) return problem;
    }
    return undefined;
  }

  private sizeProblem(
    where: string,
    value: unknown,
    limit: 'maxPayloadBytes' | 'maxResultBytes',
  ): string | undefined {
    let bytes: number;
    try {
      bytes = pack(value).byteLength;
    } catch (err) {
      return `${where}: cannot be encoded: ${err instanceof Error ? err.message : String(err)}`;
    }
    const max = this.limits[limit];
    return bytes > max ? `${where}: ${bytes} bytes encoded, more than ${limit} (${max})` : undefined;
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
