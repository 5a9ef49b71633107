import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { checkKnownKeys, CommandRejectedError } from '@raftline/core';
import type { MachineClient, Subscription } from '@raftline/transport-nats';
import { refusalError, type JobNotFoundError, type StaleTokenError } from '../errors';
import type { TaskQueue } from '../machine';
import { LIMITS } from '../schemas';
import type { ClaimedJob } from '../types';
import { messageOf, queueMachineClient, readySubject, sleep } from './connection';
import { AutoPrefetch } from './prefetch';
import {
  resolveWorkerOptions,
  WORKER_KEYS,
  WorkerClosedError,
  type Handler,
  type Job,
  type ResolvedWorkerOptions,
  type WorkerEvents,
  type WorkerOptions,
} from './worker-options';

export { WorkerClosedError };
export type { FailedNext, Handler, Job, WorkerEvents, WorkerOptions } from './worker-options';

/** One job the worker holds, from claim to the answer of its ack or nack. */
interface Held {
  readonly job: Job;
  readonly controller: AbortController;
  /** waiting: prefetched; running: the handler runs; settling: its ack or nack is on its way; lost / released: given up. */
  state: 'waiting' | 'running' | 'settling' | 'lost' | 'released';
}

interface PendingAck {
  readonly held: Held;
  readonly result: unknown;
}

/** Resends of one ack batch or nack after a failed call, before the worker leaves the job to its lease. */
const SETTLE_RETRIES = 5;
/** ackMany commands in flight at once; acks made meanwhile wait and go together. */
const ACKS_IN_FLIGHT = 2;
/** claim commands in flight at once (each for at least half the free room, once work is under way). */
const CLAIMS_IN_FLIGHT = 2;

/**
 * Runs a handler for the jobs of one queue, like BullMQ's Worker:
 * `new Worker('emails', async (job) => send(job.payload), { connection,
 * cluster, group, concurrency: 8 })`.
 *
 * - It claims in batches (up to the free slots, `batch` at most), under one
 *   lease per job, and runs the handler for each, `concurrency` at once
 *   (with `prefetch`, that many more are held, waiting for a slot; by
 *   default, as many as keep the slots busy while a claim is on its way).
 * - While handlers run, one extendMany per heartbeat extends every lease it
 *   holds. A lease refused there is lost: the job's `signal` aborts, 'lost'
 *   is emitted, and the handler's result is not acked.
 * - A handler that returns has its job acked with the value as result
 *   (acks made together go as one ackMany); one that throws is nacked with
 *   the error's message (the job's backoff and attempts decide the rest).
 * - Idle, it claims every `pollMs`, or at once when a producer says the
 *   queue has ready jobs (readySubject).
 * - Leader changes and NATS reconnects are the typed client's to ride out:
 *   its session resends a call whose outcome is unknown, which applies
 *   once. A call that still fails is emitted as 'error' (only when someone
 *   listens) and tried again: a claim after a pause, an ack up to 5 times,
 *   then the job is left to its lease (it runs again: handlers are at
 *   least once, completion exactly once).
 * - close() stops claiming, waits for the running handlers (up to its
 *   timeout, then releases their jobs: ready at once, the attempt not
 *   counted), sends the last acks, and stops.
 */
export class Worker<P = unknown, R = unknown> extends EventEmitter<WorkerEvents<P, R>> {
  readonly queue: string;
  readonly workerId: string;
  /** The typed client underneath. */
  readonly client: MachineClient<TaskQueue>;
  private readonly handler: Handler<P, R>;
  private readonly o: ResolvedWorkerOptions;
  private readonly options: WorkerOptions;
  private readonly held = new Map<string, Held>();
  private running = 0;
  /** Prefetched jobs, in claim order, waiting for a slot. */
  private waiting: Held[] = [];
  private acks: PendingAck[] = [];
  private acksInFlight = 0;
  private acksScheduled = false;
  private settling = 0;
  private kicked = false;
  private worked = false;
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private nap: (() => void) | undefined;
  private changed: (() => void)[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private subscription: Subscription | undefined;
  /** Sizes the prefetch with `prefetch: 'auto'`. */
  private readonly auto: AutoPrefetch | undefined;

  /**
   * @throws ConfigError naming every invalid or unknown option
   * @throws SubjectTokenError when cluster or group is not a subject token
   */
  constructor(queue: string, handler: Handler<P, R>, options: WorkerOptions) {
    super();
    checkKnownKeys(options, WORKER_KEYS, 'Worker options');
    this.o = resolveWorkerOptions(options);
    this.options = options;
    this.queue = queue;
    this.handler = handler;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.client = queueMachineClient(options);
    if (this.o.prefetch === 'auto') this.auto = new AutoPrefetch(this.o.concurrency);
    if (options.autorun !== false) void this.run();
  }

  /** Jobs whose handler runs now. */
  get active(): number {
    return this.running;
  }

  /**
   * Starts claiming (once; autorun does it in the constructor).
   * @returns a promise that resolves when the worker has stopped claiming (close())
   */
  run(): Promise<void> {
    this.started ??= this.pump();
    return this.started;
  }

  /**
   * Stops the worker gracefully: no more claims; running handlers may
   * finish within options.timeoutMs (default: as long as they take), and
   * their jobs are acked or nacked; then the jobs still running are
   * released (their signal aborts with WorkerClosedError, and what they
   * return is ignored). Resolves once the last ack, nack and release has
   * its answer. Idempotent.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? Infinity);
    return this.closing;
  }

  // -------------------------------------------------------------- claiming

  private async pump(): Promise<void> {
    const subject = readySubject(this.options.cluster, this.options.group);
    this.subscription = this.options.connection.subscribe(subject, {
      callback: (_err, msg) => {
        if (msg.string() !== this.queue) return;
        this.kicked = true;
        this.wake();
      },
    });
    this.heartbeat = setInterval(() => void this.beat(), this.o.heartbeatMs);
    const claims = new Set<Promise<void>>();
    let reserved = 0; // slots the claims in flight may fill
    let idle = false;
    let lastClaim = 0;
    let failures = 0;
    let pausedUntil = 0;
    while (!this.stop.signal.aborted) {
      const capacity = this.o.concurrency + this.prefetch;
      const pending = this.waiting.length + reserved;
      const free = capacity - this.running - pending;
      // With jobs still to come or waiting, refill only once half the room is free: fewer, larger claims.
      if (free <= 0 || claims.size >= CLAIMS_IN_FLIGHT || (pending > 0 && free < capacity / 2)) {
        await this.sleep(Infinity);
        continue;
      }
      const now = Date.now();
      const wait = Math.max(pausedUntil - now, idle && !this.kicked ? lastClaim + this.o.pollMs - now : 0);
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      this.kicked = false;
      lastClaim = now;
      const max = Math.min(free, this.o.batch);
      reserved += max;
      const sent = performance.now();
      const claim = this.client.commands
        .claim(this.queue, this.workerId, { leaseMs: this.o.leaseMs, max })
        .then(
          (jobs) => {
            this.auto?.claimed(performance.now() - sent);
            failures = 0;
            for (const claimed of jobs) this.start(claimed);
            idle = jobs.length < max;
            if (jobs.length === 0 && this.worked) {
              this.worked = false;
              this.emit('drained');
            }
          },
          (err: unknown) => {
            this.fail(err);
            pausedUntil = Date.now() + Math.min(2000, 50 * 2 ** failures++);
          },
        )
        .finally(() => {
          reserved -= max;
          claims.delete(claim);
          this.wake();
        });
      claims.add(claim);
    }
    await Promise.all([...claims]);
  }

  /** Jobs held beyond concurrency now (the option, or what auto sizes). */
  private get prefetch(): number {
    return this.auto ? this.auto.prefetch : (this.o.prefetch as number);
  }

  /** Waits up to ms, or until a slot frees, a ready hint arrives or close() begins. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.wake(), ms) : undefined;
      this.nap = () => {
        clearTimeout(timer);
        this.nap = undefined;
        resolve();
      };
      if (this.stop.signal.aborted) this.wake();
    });
  }

  private wake(): void {
    this.nap?.();
  }

  // -------------------------------------------------------------- handling

  /** Holds a claimed job, and runs it when a slot is free (otherwise it waits its turn). */
  private start(claimed: ClaimedJob): void {
    const controller = new AbortController();
    const job = { ...claimed, workerId: this.workerId, signal: controller.signal } as Job<P>;
    const held: Held = { job, controller, state: 'waiting' };
    this.held.set(job.id, held);
    this.worked = true;
    this.waiting.push(held);
    this.runWaiting();
  }

  /** Starts waiting jobs while slots are free. */
  private runWaiting(): void {
    while (this.running < this.o.concurrency && this.waiting.length > 0) {
      const held = this.waiting.shift()!;
      if (held.state !== 'waiting') continue;
      held.state = 'running';
      this.running++;
      this.emit('active', held.job as Job<P>);
      void this.execute(held);
    }
  }

  private async execute(held: Held): Promise<void> {
    let result: R | undefined;
    let error: unknown;
    let threw = false;
    const began = performance.now();
    try {
      result = await this.handler(held.job as Job<P>);
    } catch (err) {
      threw = true;
      error = err;
    }
    this.auto?.handled(performance.now() - began);
    this.running--;
    this.runWaiting();
    this.wake();
    if (held.state === 'running') {
      held.state = 'settling';
      if (threw) void this.nack(held, error);
      else this.queueAck(held, result);
    }
    this.notify();
  }

  // -------------------------------------------------------------- settling

  private queueAck(held: Held, result: unknown): void {
    this.acks.push({ held, result });
    if (this.acksScheduled) return;
    this.acksScheduled = true;
    // After this turn of the event loop: the handlers that finish in it are acked together.
    setImmediate(() => {
      this.acksScheduled = false;
      this.flushAcks();
    });
  }

  private flushAcks(): void {
    while (this.acks.length > 0 && this.acksInFlight < ACKS_IN_FLIGHT) {
      const batch = this.acks.splice(0, LIMITS.batch);
      this.acksInFlight++;
      this.settling++;
      void this.sendAcks(batch, 0, false).finally(() => {
        this.acksInFlight--;
        this.settling--;
        this.flushAcks();
        this.notify();
      });
    }
  }

  /** Acks batch (resent after a failed call; after an unknown outcome, a refusal for a done job is taken as its ack). */
  private async sendAcks(batch: readonly PendingAck[], attempt: number, unknown: boolean): Promise<void> {
    const items = batch.map(({ held, result }) =>
      result === undefined
        ? { jobId: held.job.id, token: held.job.token }
        : { jobId: held.job.id, token: held.job.token, result },
    );
    let answers;
    try {
      answers = await this.client.commands.ackMany(items);
    } catch (err) {
      if (err instanceof CommandRejectedError) {
        // Nothing was acked. Alone, the item is refused for what it carries (a result too large): fail its job.
        if (batch.length > 1)
          return void (await Promise.all(batch.map((a) => this.sendAcks([a], 0, unknown))));
        return this.nack(batch[0]!.held, err);
      }
      this.fail(err);
      if (attempt >= SETTLE_RETRIES) return this.leave(batch);
      await sleep(100 * 2 ** attempt);
      return this.sendAcks(batch, attempt + 1, true);
    }
    answers.forEach((answer, i) => {
      const { held, result } = batch[i]!;
      if (answer.ok || (unknown && answer.state === 'done')) {
        this.settle(held);
        this.emit('completed', held.job as Job<P>, result as R);
      } else this.lose(held, refusalError(answer));
    });
  }

  private async nack(held: Held, error: unknown): Promise<void> {
    this.settling++;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const text = messageOf(error).slice(0, LIMITS.error);
          const answer = await this.client.commands.nack(held.job.id, held.job.token, { error: text });
          if (!answer.ok) return this.lose(held, refusalError(answer));
          this.settle(held);
          this.emit('failed', held.job as Job<P>, error, { state: answer.state, readyAt: answer.readyAt });
          return;
        } catch (err) {
          this.fail(err);
          if (attempt >= SETTLE_RETRIES) return this.leave([{ held, result: undefined }]);
          await sleep(100 * 2 ** attempt);
        }
      }
    } finally {
      this.settling--;
      this.notify();
    }
  }

  /** Stops holding a job whose outcome the worker could not send: its lease will end it. */
  private leave(batch: readonly PendingAck[]): void {
    for (const { held } of batch) this.settle(held);
  }

  private settle(held: Held): void {
    this.held.delete(held.job.id);
  }

  /** The worker no longer holds the job: stop its handler, never ack it. */
  private lose(held: Held, error: StaleTokenError | JobNotFoundError): void {
    if (held.state === 'lost' || held.state === 'released') return;
    held.state = 'lost';
    this.settle(held);
    this.waiting = this.waiting.filter((h) => h !== held);
    held.controller.abort(error);
    this.emit('lost', held.job as Job<P>, error);
  }

  // ------------------------------------------------------------- heartbeat

  /** One extendMany for every lease held (a batch of 1000 at most per command). */
  private async beat(): Promise<void> {
    if (this.beating || this.held.size === 0) return;
    this.beating = true;
    try {
      const all = [...this.held.values()];
      for (let i = 0; i < all.length; i += LIMITS.batch) {
        const chunk = all.slice(i, i + LIMITS.batch);
        const items = chunk.map((h) => ({ jobId: h.job.id, token: h.job.token }));
        const answers = await this.client.commands.extendMany(items, this.o.leaseMs);
        answers.forEach((answer, j) => {
          const held = chunk[j]!;
          // A job being acked may be done by now: its ack's answer decides.
          if (!answer.ok && (held.state === 'running' || held.state === 'waiting'))
            this.lose(held, refusalError(answer));
        });
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.beating = false;
    }
  }

  // -------------------------------------------------------------- shutdown

  private async shutdown(timeoutMs: number): Promise<void> {
    this.stop.abort();
    this.wake();
    await this.started;
    this.subscription?.unsubscribe();
    // Prefetched jobs never started: hand them back at once.
    const unstarted = this.waiting.splice(0);
    await Promise.all(unstarted.filter((h) => h.state === 'waiting').map((h) => this.release(h)));
    await this.until(() => this.running === 0, timeoutMs);
    const releasing = [...this.held.values()].filter((h) => h.state === 'running');
    await Promise.all(releasing.map((h) => this.release(h)));
    await this.until(() => this.acks.length + this.settling === 0, Infinity);
    clearInterval(this.heartbeat);
    this.client.close();
    this.emit('closed');
  }

  private async release(held: Held): Promise<void> {
    held.state = 'released';
    this.settle(held);
    held.controller.abort(new WorkerClosedError(held.job.id));
    try {
      await this.client.commands.release(held.job.id, held.job.token);
    } catch (err) {
      this.fail(err); // its lease will end it
    }
  }

  /** Resolves once cond holds (checked whenever a handler or a settle ends), or after timeoutMs. */
  private async until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, deadline - Date.now()) : undefined;
        this.changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const waiting = this.changed;
    this.changed = [];
    for (const fn of waiting) fn();
  }

  /** Reports a failed call to the 'error' listeners; without one it is dropped (the worker carries on). */
  private fail(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
