import { checkKnownKeys, CommandRejectedError, ConfigError, pack, type KnownKeys } from '@raftline/core';
import type { MachineClient, NatsConnection, QueryCallOptions } from '@raftline/transport-nats';
import type { TaskQueue } from '../machine';
import { LIMITS } from '../schemas';
import type {
  EnqueueItem,
  EnqueueOptions,
  JobInfo,
  JobPage,
  JobState,
  ListOptions,
  Moved,
  QueueSettings,
  QueueStats,
  TickResult,
} from '../types';
import {
  CONNECTION_KEYS,
  definedOf,
  queueMachineClient,
  readySubject,
  type QueueConnectionOptions,
} from './connection';

/** How a Producer reaches its group, and how it batches. */
export interface ProducerOptions extends QueueConnectionOptions {
  /**
   * Most jobs one enqueue command carries (default 100, at most 1000):
   * enqueue() calls made together (in one turn of the event loop, or while
   * the queue's earlier commands are in flight) go as one enqueueMany. 1
   * sends each alone.
   */
  readonly maxBatch?: number;
  /** Enqueue commands in flight per queue (default 4); more calls wait and are batched. */
  readonly maxInFlight?: number;
  /** Tell idle workers after an enqueue that made jobs ready (default true; see readySubject). */
  readonly wakeWorkers?: boolean;
}

const PRODUCER_KEYS: KnownKeys<ProducerOptions> = {
  ...CONNECTION_KEYS,
  maxBatch: true,
  maxInFlight: true,
  wakeWorkers: true,
};

/** The defaults of ProducerOptions' batching, in one place. */
export const DEFAULT_PRODUCER_OPTIONS = { maxBatch: 100, maxInFlight: 4, wakeWorkers: true } as const;

/** Encoded bytes one batched command carries at most (NATS's max_payload is 1 MiB by default). */
const BATCH_BYTES = 256 * 1024;

interface Waiting {
  readonly item: EnqueueItem;
  readonly bytes: number;
  readonly resolve: (id: string) => void;
  readonly reject: (err: unknown) => void;
}

/** The enqueue() calls of one queue that wait for their command, and those in flight. */
class QueueBatcher {
  readonly waiting: Waiting[] = [];
  inFlight = 0;
  scheduled = false;
}

/**
 * The producer side of a task queue group, over NATS: enqueue jobs,
 * inspect queues and jobs, handle the dead letters. Commands go through a
 * typed client with an exactly-once session, so a call whose outcome was
 * unknown (a leader change, a lost reply) is resent and applies once.
 *
 * enqueue() batches: calls made together go to the group as one
 * enqueueMany (one log entry), each call still resolving with its own id.
 * A batch refused before replication (CommandRejectedError: a bad option,
 * a payload too large) is sent again item by item, so each call gets its
 * own answer and only the bad one fails.
 *
 * Errors are the typed client's: CommandRejectedError (nothing enqueued),
 * OutcomeUnknownError (it may or may not have been enqueued: enqueue with
 * a dedupKey to make a resend safe), LeaderUnavailableError (nothing
 * enqueued), and for queries ReadNotConfirmedError.
 */
export class Producer {
  /** The typed client underneath (every TaskQueue command and query). */
  readonly client: MachineClient<TaskQueue>;
  private readonly options: Required<Pick<ProducerOptions, keyof typeof DEFAULT_PRODUCER_OPTIONS>>;
  private readonly connection: NatsConnection;
  private readonly subject: string;
  private readonly batchers = new Map<string, QueueBatcher>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /**
   * @throws ConfigError naming every invalid or unknown option
   * @throws SubjectTokenError when cluster or group is not a subject token
   */
  constructor(options: ProducerOptions) {
    checkKnownKeys(options, PRODUCER_KEYS, 'Producer options');
    const o = { ...DEFAULT_PRODUCER_OPTIONS, ...definedOf(options) };
    const problems: string[] = [];
    if (!Number.isSafeInteger(o.maxBatch) || o.maxBatch < 1 || o.maxBatch > LIMITS.batch)
      problems.push(`maxBatch (${o.maxBatch}) must be an integer from 1 to ${LIMITS.batch}`);
    if (!Number.isSafeInteger(o.maxInFlight) || o.maxInFlight < 1)
      problems.push(`maxInFlight (${o.maxInFlight}) must be a positive integer`);
    if (problems.length > 0) throw new ConfigError(problems);
    this.options = { maxBatch: o.maxBatch, maxInFlight: o.maxInFlight, wakeWorkers: o.wakeWorkers };
    this.connection = options.connection;
    this.subject = readySubject(options.cluster, options.group);
    this.client = queueMachineClient(options);
  }

  /**
   * Adds a job to queue (batched with the calls made together, see the class comment).
   * @returns the job's id (the live job's, for a dedupKey in use)
   * @throws CommandRejectedError (bad arguments: nothing enqueued),
   *   OutcomeUnknownError, LeaderUnavailableError, Error after close()
   */
  enqueue(queue: string, payload: unknown, options?: EnqueueOptions): Promise<string> {
    if (this.closed) return Promise.reject(new Error('Producer: closed'));
    const item: EnqueueItem = options === undefined ? { payload } : { payload, options };
    let bytes: number;
    try {
      bytes = pack(item).byteLength;
    } catch (err) {
      return Promise.reject(err);
    }
    let b = this.batchers.get(queue);
    if (!b) this.batchers.set(queue, (b = new QueueBatcher()));
    const batcher = b;
    return new Promise<string>((resolve, reject) => {
      batcher.waiting.push({ item, bytes, resolve, reject });
      this.schedule(queue, batcher);
    });
  }

  /**
   * Adds jobs to queue in order, as enqueue would; up to 1000 a command
   * (one log entry each), so a longer list is several commands.
   * @returns their ids, in order
   * @throws as enqueue; when a later command fails, the jobs of the earlier ones are enqueued
   */
  async enqueueMany(queue: string, items: readonly EnqueueItem[]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < items.length; i += LIMITS.batch) {
      const chunk = items.slice(i, i + LIMITS.batch);
      ids.push(...(await this.track(this.client.commands.enqueueMany(queue, chunk))));
      this.wake(queue, chunk);
    }
    return ids;
  }

  /** The queue's counts (see QueueStats), read at options.consistency (default linearizable). */
  stats(queue: string, options: QueryCallOptions = {}): Promise<QueueStats> {
    return this.client.queriesWith(options).stats(queue);
  }

  /** @returns the job, or null when there is none (never enqueued, pruned or purged) */
  getJob(jobId: string, options: QueryCallOptions = {}): Promise<JobInfo | null> {
    return this.client.queriesWith(options).getJob(jobId);
  }

  /** A page of queue's jobs in state (default every state), in id order; pass `next` as options.after for the next. */
  listJobs(queue: string, state?: JobState | null, options: ListOptions = {}): Promise<JobPage> {
    return this.client.queries.listJobs(queue, state ?? null, options);
  }

  /** A page of queue's dead letters, in id order. */
  dead(queue: string, options: ListOptions = {}): Promise<JobPage> {
    return this.listJobs(queue, 'dead', options);
  }

  /** Every queue named so far, in name order. */
  queues(): Promise<string[]> {
    return this.client.queries.queues();
  }

  /** Moves dead jobs of queue (these ids, default all) back to ready with fresh attempts. */
  retryDead(queue: string, jobIds?: readonly string[]): Promise<Moved> {
    return this.track(this.client.commands.retryDead(queue, jobIds));
  }

  /** Removes dead jobs of queue (these ids, default all). */
  purgeDead(queue: string, jobIds?: readonly string[]): Promise<Moved> {
    return this.track(this.client.commands.purgeDead(queue, jobIds));
  }

  /** Removes queue's ready and delayed jobs (leased ones finish). */
  purge(queue: string): Promise<Moved> {
    return this.track(this.client.commands.purge(queue));
  }

  /** Stops claims from queue. @returns whether it was running */
  pause(queue: string): Promise<boolean> {
    return this.track(this.client.commands.pause(queue));
  }

  /** Lets claims take from queue again. @returns whether it was paused */
  resume(queue: string): Promise<boolean> {
    return this.track(this.client.commands.resume(queue));
  }

  /** Changes queue's settings. @returns all its settings */
  configure(queue: string, settings: Partial<QueueSettings>): Promise<QueueSettings> {
    return this.track(this.client.commands.configure(queue, settings));
  }

  /** Moves the queues to the replicated time of now (expiries, delays, prunes). */
  tick(): Promise<TickResult> {
    return this.track(this.client.commands.tick());
  }

  /** Waits for the calls in flight, then stops the client (the connection stays open). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight.size > 0 || [...this.batchers.values()].some((b) => b.waiting.length > 0)) {
      await Promise.allSettled([...this.inFlight]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.client.close();
  }

  // ---------------------------------------------------------------- batching

  /** Sends the queue's waiting calls once this turn of the event loop has made them all. */
  private schedule(queue: string, b: QueueBatcher): void {
    if (b.scheduled) return;
    b.scheduled = true;
    queueMicrotask(() => {
      b.scheduled = false;
      this.flush(queue, b);
    });
  }

  private flush(queue: string, b: QueueBatcher): void {
    while (b.waiting.length > 0 && b.inFlight < this.options.maxInFlight) {
      const batch: Waiting[] = [];
      let bytes = 0;
      while (b.waiting.length > 0 && batch.length < this.options.maxBatch) {
        const next = b.waiting[0]!;
        if (batch.length > 0 && bytes + next.bytes > BATCH_BYTES) break;
        batch.push(b.waiting.shift()!);
        bytes += next.bytes;
      }
      b.inFlight++;
      void this.track(this.send(queue, batch)).finally(() => {
        b.inFlight--;
        this.flush(queue, b);
      });
    }
  }

  /** Sends one batch; every call of it settles. */
  private async send(queue: string, batch: readonly Waiting[]): Promise<void> {
    const items = batch.map((w) => w.item);
    try {
      const ids =
        items.length === 1
          ? [await this.client.commands.enqueue(queue, items[0]!.payload, items[0]!.options)]
          : await this.client.commands.enqueueMany(queue, items);
      batch.forEach((w, i) => w.resolve(ids[i]!));
      this.wake(queue, items);
    } catch (err) {
      if (!(err instanceof CommandRejectedError) || batch.length === 1) {
        for (const w of batch) w.reject(err);
        return;
      }
      // Nothing was enqueued: one item spoiled the batch. Each on its own, so only it fails.
      await Promise.all(batch.map((w) => this.send(queue, [w])));
    }
  }

  /** Publishes the ready hint when items made a job ready now. */
  private wake(queue: string, items: readonly EnqueueItem[]): void {
    if (!this.options.wakeWorkers || !items.some((i) => !i.options?.delayMs)) return;
    try {
      this.connection.publish(this.subject, queue);
    } catch {
      // a hint only: a closed or draining connection sends none, and workers poll
    }
  }

  /** Keeps p among the calls close() waits for. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const forget = (): void => void this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }
}
