/**
 * What Producer and Worker share: how they reach a task queue group (the
 * typed client's options), and the wake-up subject producers publish on so
 * that idle workers claim at once instead of at their next poll.
 */
import { MachineClient, checkToken, type NatsConnection } from '@raftline/transport-nats';
import type { TaskQueue } from '../machine';

/** How a Producer or a Worker reaches a task queue group: the typed client's options. */
export interface QueueConnectionOptions {
  /** A NATS connection the caller owns (close() never closes it). */
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** Overall time one call may take, retries included (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Time one request may wait for its reply (default 1000 ms). */
  readonly requestTimeoutMs?: number;
  /** Resends after an unknown outcome, under the client's session (default 3). */
  readonly retries?: number;
}

/** The keys of QueueConnectionOptions, for checkKnownKeys. */
export const CONNECTION_KEYS = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
  retries: true,
} as const;

/**
 * Where producers say "a queue has ready jobs": `raftline-task-queue.<cluster>.<group>.ready`,
 * the queue name as the payload. A hint only (plain NATS, not replicated):
 * a worker that misses it claims at its next poll. Producers need publish
 * and workers subscribe permission on it.
 * @throws SubjectTokenError when cluster or group is not a subject token
 */
export function readySubject(cluster: string, group: string): string {
  return `raftline-task-queue.${checkToken('cluster', cluster)}.${checkToken('group', group)}.ready`;
}

/**
 * A typed client of the group with an exactly-once session (Raft thesis
 * §6.3): commands whose outcome is unknown are resent and apply once.
 * @throws ConfigError, SubjectTokenError as MachineClient does
 */
export function queueMachineClient(options: QueueConnectionOptions): MachineClient<TaskQueue> {
  const { connection, cluster, group, timeoutMs, requestTimeoutMs, retries } = options;
  return new MachineClient<TaskQueue>({
    connection,
    cluster,
    group,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    ...(retries === undefined ? {} : { retries }),
  });
}

/** The message of an error, or the value as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves after ms, or at once when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** options without its undefined fields (so that defaults apply). */
export function definedOf<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
