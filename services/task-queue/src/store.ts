/**
 * The task queue's state and every transition of a job, deterministic and
 * synchronous: time enters only as the `now` each call is given (the
 * command's replicated time), so every replica that applies the same log
 * makes the same moves.
 *
 *   enqueue ─▶ delayed ──(due)──▶ ready ──claim──▶ leased ──ack──▶ done ──(prune)──▶ ∅
 *                  ▲                ▲                 │
 *                  └──(backoff)─────┴──nack / expiry──┤
 *                                                     └──(out of attempts, deadline)──▶ dead
 *
 * Timers (a delayed job's due time, a lease's expiry, a deadline, a
 * finished job's prune time) sit in one heap keyed by time; advance(now)
 * fires every timer due at or before now, in (time, job, kind) order.
 * Claims pop a per-queue heap keyed by (priority, seq). So a command costs
 * O((k + 1) log n) for the k jobs it moves, never a scan of the queue.
 */
import { KeyedHeap } from './heap';
import { QueueState, TIMER, claimedJob, timerId, type JobRecord, type TimerKind } from './records';
import { LIMITS } from './schemas';
import type {
  Backoff,
  ClaimedJob,
  DeadReason,
  EnqueueOptions,
  JobMove,
  JobRemoved,
  Lease,
  QueueSettings,
} from './types';

/** Receives every move of every job as the store makes it (JobEventFeed's source); not replicated state. */
export type MoveObserver = (move: JobMove) => void;

/** The wait before the next attempt after `failures` failed attempts (see Backoff). */
export function backoffDelay(backoff: Backoff | null, failures: number): number {
  if (!backoff) return 0;
  if (backoff.type === 'fixed') return backoff.delayMs;
  const wait = backoff.delayMs * 2 ** Math.max(0, failures - 1);
  return Math.min(wait, backoff.maxMs ?? LIMITS.delayMs, LIMITS.delayMs);
}

export class JobStore {
  /** Every job, by seq, in seq order. */
  readonly jobs = new Map<number, JobRecord>();
  /** Every queue, in the order they were first named. */
  readonly queues = new Map<string, QueueState>();
  /** Every pending timer: id timerId(seq, kind), key its time. */
  readonly timers = new KeyedHeap();
  /** Replicated time of the last command applied. */
  now = 0;
  nextSeq = 1;
  finishCount = 0;
  /** Leases ended by expiry since this store was built: a metric (metrics.ts), not replicated state. */
  leaseExpiries = 0;
  /**
   * Told of every move, when set. Only an observer: it changes nothing, is
   * not in snapshots, and replicas run without one.
   */
  observer: MoveObserver | undefined;

  constructor(readonly defaults: QueueSettings) {}

  /** The queue called name, created with the default settings on first use. */
  queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new QueueState(name, { ...this.defaults })));
    return q;
  }

  /**
   * Moves replicated time to now and fires every timer due by then.
   * @returns how many timers fired
   */
  advance(now: number): number {
    this.now = Math.max(this.now, now);
    let fired = 0;
    for (;;) {
      const id = this.timers.peek();
      const at = this.timers.peekKey();
      if (id === undefined || at === undefined || at > this.now) return fired;
      this.timers.pop();
      fired++;
      this.fire(Math.floor(id / 4), (id % 4) as TimerKind, at);
    }
  }

  private fire(seq: number, kind: TimerKind, at: number): void {
    const job = this.jobs.get(seq);
    // Invariant: a timer exists only for a job that exists (audit() checks it).
    if (!job) throw new Error(`task queue: timer ${kind} fired for job ${seq}, which does not exist`);
    const q = this.queue(job.queue);
    switch (kind) {
      case TIMER.DUE:
        this.leaveDelayed(job, q);
        return this.toReady(job, q, at);
      case TIMER.LEASE: {
        const lease = job.lease!;
        this.leaseExpiries++;
        this.leaveLeased(job, q);
        const why = `lease expired (worker ${lease.workerId}, token ${lease.token})`;
        return this.failAttempt(job, q, at, why, at, lease, true);
      }
      case TIMER.TTL:
        if (job.state === 'ready') this.leaveReady(job, q);
        else this.leaveDelayed(job, q);
        return this.finish(job, q, 'dead', at, 'ttl');
      case TIMER.PRUNE:
        this.leaveFinished(job, q);
        return this.remove(job, q, 'pruned', at);
    }
  }

  // --------------------------------------------------------------- commands

  /** Adds a job (or finds the live one holding its dedup key). @returns the job's seq */
  enqueue(name: string, payload: unknown, o: EnqueueOptions): number {
    const q = this.queue(name);
    const held = o.dedupKey === undefined ? undefined : q.dedup.get(o.dedupKey);
    if (held !== undefined) return held;
    const now = this.now;
    const job: JobRecord = {
      seq: this.nextSeq++,
      queue: name,
      state: 'ready',
      payload,
      priority: o.priority ?? 0,
      attempts: 0,
      maxAttempts: o.maxAttempts ?? q.settings.maxAttempts,
      backoff: o.backoff ? normalBackoff(o.backoff) : null,
      dedupKey: o.dedupKey ?? null,
      enqueuedAt: now,
      readyAt: now,
      deadline: o.ttlMs === undefined ? null : now + o.ttlMs,
      lease: null,
      lastError: null,
      result: null,
      finishedAt: null,
      finishSeq: null,
      pruneAt: null,
      deadReason: null,
    };
    this.jobs.set(job.seq, job);
    q.members.add(job.seq);
    if (job.dedupKey !== null) q.dedup.set(job.dedupKey, job.seq);
    const delay = o.delayMs ?? 0;
    if (delay > 0) this.toDelayed(job, q, now + delay);
    else this.toReady(job, q, now);
    if (this.observer) {
      const { readyAt, priority, dedupKey } = job;
      const state = delay > 0 ? 'delayed' : 'ready';
      this.observer({ type: 'enqueued', ...this.about(job, now), state, readyAt, priority, dedupKey });
    }
    return job.seq;
  }

  /** Leases up to max ready jobs of the queue (none while it is paused), in (priority, seq) order. */
  claim(name: string, workerId: string, leaseMs: number, max: number, token: number): ClaimedJob[] {
    const q = this.queues.get(name);
    if (!q || q.paused) return [];
    const claimed: ClaimedJob[] = [];
    while (claimed.length < max) {
      const seq = q.ready.peek();
      if (seq === undefined) break;
      const job = this.jobs.get(seq)!;
      this.leaveReady(job, q);
      job.attempts++;
      const lease: Lease = { workerId, token, claimedAt: this.now, expiresAt: this.now + leaseMs };
      this.toLeased(job, q, lease);
      claimed.push(claimedJob(job, lease));
      if (this.observer) {
        const { expiresAt: leaseExpiresAt } = lease;
        const about = this.about(job, this.now);
        this.observer({ type: 'claimed', ...about, workerId, token, attempt: job.attempts, leaseExpiresAt });
      }
    }
    return claimed;
  }

  /** The job seq names, when it is leased under token; otherwise undefined. */
  holder(seq: number, token: number): JobRecord | undefined {
    const job = this.jobs.get(seq);
    return job && job.state === 'leased' && job.lease!.token === token ? job : undefined;
  }

  /** Moves a leased job's lease expiry to now + leaseMs. @returns the new expiry */
  extend(job: JobRecord, leaseMs: number): number {
    const expiresAt = this.now + leaseMs;
    job.lease = { ...job.lease!, expiresAt };
    this.timers.update(timerId(job.seq, TIMER.LEASE), expiresAt);
    return expiresAt;
  }

  /** Gives a leased job back: ready at once, its attempt not counted. */
  release(job: JobRecord): void {
    const q = this.queue(job.queue);
    const { workerId, token } = job.lease!;
    this.leaveLeased(job, q);
    job.attempts--;
    this.toReady(job, q, this.now);
    this.observer?.({ type: 'released', ...this.about(job, this.now), workerId, token });
  }

  /** Completes a leased job with result. */
  ack(job: JobRecord, result: unknown): void {
    const q = this.queue(job.queue);
    const { workerId, token } = job.lease!;
    this.leaveLeased(job, q);
    this.observer?.({
      type: 'completed',
      ...this.about(job, this.now),
      workerId,
      token,
      attempt: job.attempts,
    });
    job.result = result === undefined ? null : result;
    this.finish(job, q, 'done', this.now, null);
  }

  /**
   * Ends a leased job's attempt as failed: it is retried after retryInMs (or
   * its backoff), unless it is out of attempts or its deadline is passed.
   */
  nack(job: JobRecord, error: string, retryInMs: number | undefined): void {
    const q = this.queue(job.queue);
    const lease = job.lease!;
    this.leaveLeased(job, q);
    const wait = retryInMs ?? backoffDelay(job.backoff, job.attempts);
    this.failAttempt(job, q, this.now, error, this.now + wait, lease, false);
  }

  /** Removes the queue's ready and delayed jobs. @returns how many */
  purge(name: string): number {
    const q = this.queues.get(name);
    if (!q) return 0;
    let count = 0;
    for (const seq of [...q.members]) {
      const job = this.jobs.get(seq)!;
      if (job.state === 'ready') this.leaveReady(job, q);
      else if (job.state === 'delayed') this.leaveDelayed(job, q);
      else continue;
      this.remove(job, q, 'purged', this.now);
      count++;
    }
    return count;
  }

  /** Moves a dead job back to ready, with fresh attempts and no deadline. */
  revive(job: JobRecord): void {
    const q = this.queue(job.queue);
    this.leaveFinished(job, q);
    job.attempts = 0;
    job.deadline = null;
    job.deadReason = null;
    // The key is the job's again if no live job took it meanwhile; otherwise the job no longer dedups.
    if (job.dedupKey !== null) {
      if (q.dedup.has(job.dedupKey)) job.dedupKey = null;
      else q.dedup.set(job.dedupKey, job.seq);
    }
    this.toReady(job, q, this.now);
    this.observer?.({ type: 'retried', ...this.about(job, this.now) });
  }

  /** Drops a dead job from the dead letters. */
  discard(job: JobRecord): void {
    const q = this.queue(job.queue);
    this.leaveFinished(job, q);
    this.remove(job, q, 'discarded', this.now);
  }

  /** Replaces a queue's settings; finished jobs are re-timed and re-counted by the new bounds. */
  configure(name: string, settings: QueueSettings): void {
    const q = this.queue(name);
    q.settings = settings;
    for (const [set, keepMs] of [
      [q.done, settings.keepDoneMs],
      [q.dead, settings.keepDeadMs],
    ] as const) {
      for (const seq of set) {
        const job = this.jobs.get(seq)!;
        job.pruneAt = job.finishedAt! + keepMs;
        this.timers.update(timerId(seq, TIMER.PRUNE), job.pruneAt);
      }
    }
    this.trim(q);
    this.advance(this.now); // prunes what the new times make due
  }

  // ------------------------------------------------------------ transitions

  private toReady(job: JobRecord, q: QueueState, since: number): void {
    job.state = 'ready';
    job.readyAt = since;
    q.ready.push(job.seq, job.priority);
    q.readySince.push(job.seq, since);
    if (job.deadline !== null) this.timers.push(timerId(job.seq, TIMER.TTL), job.deadline);
  }

  private leaveReady(job: JobRecord, q: QueueState): void {
    q.ready.remove(job.seq);
    q.readySince.remove(job.seq);
    this.timers.remove(timerId(job.seq, TIMER.TTL));
  }

  private toDelayed(job: JobRecord, q: QueueState, at: number): void {
    job.state = 'delayed';
    job.readyAt = at;
    q.delayed++;
    this.timers.push(timerId(job.seq, TIMER.DUE), at);
    if (job.deadline !== null) this.timers.push(timerId(job.seq, TIMER.TTL), job.deadline);
  }

  private leaveDelayed(job: JobRecord, q: QueueState): void {
    q.delayed--;
    this.timers.remove(timerId(job.seq, TIMER.DUE));
    this.timers.remove(timerId(job.seq, TIMER.TTL));
  }

  private toLeased(job: JobRecord, q: QueueState, lease: Lease): void {
    job.state = 'leased';
    job.lease = lease;
    q.leased++;
    this.timers.push(timerId(job.seq, TIMER.LEASE), lease.expiresAt);
  }

  private leaveLeased(job: JobRecord, q: QueueState): void {
    q.leased--;
    job.lease = null;
    this.timers.remove(timerId(job.seq, TIMER.LEASE));
  }

  /** The attempt under lease ended without success at `at` (expired: by its expiry); the job may run again from retryAt. */
  private failAttempt(
    job: JobRecord,
    q: QueueState,
    at: number,
    error: string,
    retryAt: number,
    lease: Lease,
    expired: boolean,
  ): void {
    job.lastError = error;
    const dead: DeadReason | null =
      job.attempts >= job.maxAttempts
        ? 'attempts'
        : job.deadline !== null && retryAt >= job.deadline
          ? 'ttl'
          : null;
    const next = dead ? 'dead' : retryAt > at ? 'delayed' : 'ready';
    if (this.observer) {
      const { workerId, token } = lease;
      const readyAt = next === 'dead' ? null : Math.max(retryAt, at);
      const failed = { workerId, token, attempt: job.attempts, error, expired, next, readyAt } as const;
      this.observer({ type: 'failed', ...this.about(job, at), ...failed });
    }
    if (dead) return this.finish(job, q, 'dead', at, dead);
    if (next === 'delayed') this.toDelayed(job, q, retryAt);
    else this.toReady(job, q, at);
  }

  private finish(
    job: JobRecord,
    q: QueueState,
    state: 'done' | 'dead',
    at: number,
    reason: DeadReason | null,
  ): void {
    job.state = state;
    job.deadReason = reason;
    job.finishedAt = at;
    job.finishSeq = ++this.finishCount;
    job.pruneAt = at + (state === 'done' ? q.settings.keepDoneMs : q.settings.keepDeadMs);
    (state === 'done' ? q.done : q.dead).add(job.seq);
    if (job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.seq) q.dedup.delete(job.dedupKey);
    this.timers.push(timerId(job.seq, TIMER.PRUNE), job.pruneAt);
    if (state === 'dead' && this.observer) {
      const dead = { reason: reason!, attempts: job.attempts, lastError: job.lastError } as const;
      this.observer({ type: 'dead', ...this.about(job, at), ...dead });
    }
    this.trim(q);
  }

  private leaveFinished(job: JobRecord, q: QueueState): void {
    (job.state === 'done' ? q.done : q.dead).delete(job.seq);
    this.timers.remove(timerId(job.seq, TIMER.PRUNE));
    job.finishedAt = null;
    job.finishSeq = null;
    job.pruneAt = null;
  }

  /** Prunes the oldest finished jobs beyond the queue's keep counts. */
  private trim(q: QueueState): void {
    for (const [set, keep] of [
      [q.done, q.settings.keepDoneCount],
      [q.dead, q.settings.keepDeadCount],
    ] as const) {
      while (set.size > keep) {
        const oldest = set.values().next().value as number;
        const job = this.jobs.get(oldest)!;
        this.leaveFinished(job, q);
        this.remove(job, q, 'pruned', this.now);
      }
    }
  }

  /** Forgets a job that holds no index entry but its membership (and maybe its dedup key). */
  private remove(job: JobRecord, q: QueueState, reason: JobRemoved['reason'], at: number): void {
    this.jobs.delete(job.seq);
    q.members.delete(job.seq);
    if (job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.seq) q.dedup.delete(job.dedupKey);
    this.observer?.({ type: 'removed', ...this.about(job, at), reason });
  }

  /** The fields every move of job at `at` carries. */
  private about(job: JobRecord, at: number): { at: number; jobId: string; queue: string } {
    return { at, jobId: String(job.seq), queue: job.queue };
  }
}

function normalBackoff(b: Backoff): Backoff {
  return b.maxMs === undefined
    ? { type: b.type, delayMs: b.delayMs }
    : { type: b.type, delayMs: b.delayMs, maxMs: b.maxMs };
}
