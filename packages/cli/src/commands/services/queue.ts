/**
 * `raftline queue stats|enqueue|dead|retry`: a task-queue group
 * (services/task-queue) driven by its commands and queries by name —
 * stats, queues, enqueue, listJobs, retryDead.
 */
import type { Command } from 'commander';
import { CommandExit, EXIT } from '../../errors';
import { duration, json, note, print, table } from '../../output';
import { resolveTarget, type Target } from '../common';
import {
  cell,
  integerFlag,
  isoTime,
  jsonArgument,
  noun,
  reader,
  verb,
  withService,
  type ReadFlags,
} from './shared';

/** A queue's counts (task-queue QueueStats). */
interface QueueStats {
  readonly queue: string;
  readonly paused: boolean;
  readonly delayed: number;
  readonly ready: number;
  readonly leased: number;
  readonly done: number;
  readonly dead: number;
  readonly oldestReadyAgeMs: number;
  readonly asOf: number;
}

/** A job as listJobs shows it (the fields printed here). */
interface JobInfo {
  readonly id: string;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly lastError: string | null;
  readonly finishedAt: number | null;
  readonly deadReason: string | null;
  readonly payload: unknown;
}

/** What retryDead did (task-queue Moved). */
interface Moved {
  readonly count: number;
  readonly skipped: readonly string[];
}

/** Options of `queue enqueue`, as task-queue's EnqueueOptions. */
export interface EnqueueFlags {
  readonly priority?: number;
  readonly delayMs?: number;
  readonly dedupKey?: string;
  readonly maxAttempts?: number;
  readonly ttlMs?: number;
}

/**
 * Prints the counts of the queues named, or of every queue.
 * @throws RemoteCommandError (a bad queue name), ReadNotConfirmedError
 */
export async function queueStats(target: Target, queues: readonly string[], flags: ReadFlags): Promise<void> {
  const all = await withService(target, flags.consistency, async (s) => {
    const names = queues.length > 0 ? queues : await s.query<string[]>('queues');
    const out: QueueStats[] = [];
    for (const q of names) out.push(await s.query<QueueStats>('stats', q));
    return out;
  });
  if (target.format === 'json') return print(json(all));
  if (all.length === 0) return print('no queues yet');
  const rows = all.map((q) => [
    q.queue,
    q.paused ? 'yes' : 'no',
    q.delayed,
    q.ready,
    q.leased,
    q.done,
    q.dead,
    q.ready > 0 ? duration(q.oldestReadyAgeMs) : '-',
  ]);
  print(table(['QUEUE', 'PAUSED', 'DELAYED', 'READY', 'LEASED', 'DONE', 'DEAD', 'OLDEST READY'], rows));
}

/**
 * Enqueues one job and prints its id (the id of the live job holding the
 * dedup key, when one does).
 * @throws RemoteCommandError (refused: a bad queue name, payload or option), OutcomeUnknownError
 */
export async function queueEnqueue(
  target: Target,
  queue: string,
  payloadText: string | undefined,
  options: EnqueueFlags,
): Promise<void> {
  const payload = payloadText === undefined ? null : jsonArgument(payloadText, 'payload');
  const id = await withService(target, 'linearizable', (s) =>
    s.command<string>('enqueue', queue, payload, options),
  );
  print(target.format === 'json' ? json({ queue, id }) : id);
}

/**
 * Lists a queue's dead jobs, a page at a time.
 * @throws RemoteCommandError (a bad limit), ReadNotConfirmedError
 */
export async function queueDead(
  target: Target,
  queue: string,
  page: { limit?: number; after?: string },
  flags: ReadFlags,
): Promise<void> {
  const result = await withService(target, flags.consistency, (s) =>
    s.query<{ jobs: JobInfo[]; next: string | null }>('listJobs', queue, 'dead', page),
  );
  if (target.format === 'json') return print(json(result));
  if (result.jobs.length === 0) {
    print(`no dead jobs in ${queue}`);
  } else {
    const rows = result.jobs.map((j) => [
      j.id,
      `${j.attempts}/${j.maxAttempts}`,
      j.deadReason ?? '-',
      cell(j.lastError),
      isoTime(j.finishedAt),
      cell(JSON.stringify(j.payload) ?? 'undefined', 30),
    ]);
    print(table(['ID', 'ATTEMPTS', 'REASON', 'LAST ERROR', 'DIED', 'PAYLOAD'], rows));
  }
  if (result.next !== null) note(`more: --after ${result.next}`);
}

/**
 * Moves dead jobs of a queue (these ids, or all) back to ready.
 * @throws CommandExit with EXIT.failed when an id named was not a dead job of the queue (the others were retried)
 */
export async function queueRetry(target: Target, queue: string, ids: readonly string[]): Promise<void> {
  const moved = await withService(target, 'linearizable', (s) =>
    s.command<Moved>('retryDead', queue, ...(ids.length > 0 ? [ids] : [])),
  );
  if (target.format === 'json') print(json(moved));
  else print(`${moved.count} dead ${moved.count === 1 ? 'job' : 'jobs'} of ${queue} ready again`);
  if (moved.skipped.length > 0) {
    throw new CommandExit(
      EXIT.failed,
      `not dead jobs of ${queue}, left as they are: ${moved.skipped.join(', ')}`,
    );
  }
}

/** Adds `raftline queue …` to the program. */
export function queueCommands(root: Command): void {
  const queue = noun(root, 'queue', 'a task-queue group: queue depths, enqueue, dead letters, retries');

  reader(queue, 'stats', 'counts per queue: delayed, ready, leased, done, dead, oldest ready job')
    .argument('[queues...]', 'the queues (default: every queue)')
    .action(async (queues: string[], opts: ReadFlags) => {
      await queueStats(resolveTarget(opts), queues, opts);
    });

  verb(queue, 'enqueue', 'add a job; prints its id')
    .argument('<queue>', 'the queue (created on first use)')
    .argument('[payload]', 'the job as JSON (@file, - for stdin; default null)')
    .option('--priority <n>', 'lower runs first (default 0)')
    .option('--delay <ms>', 'ready this long after the enqueue')
    .option('--dedup <key>', "while a live job holds this key, return that job's id instead")
    .option('--max-attempts <n>', "claims before it is dead (default: the queue's setting)")
    .option('--ttl <ms>', 'dead unless claimed within this long')
    .action(
      async (
        name: string,
        payload: string | undefined,
        opts: ReadFlags & {
          priority?: string;
          delay?: string;
          dedup?: string;
          maxAttempts?: string;
          ttl?: string;
        },
      ) => {
        const options: EnqueueFlags = {
          ...optional('priority', integerFlag(opts.priority, '--priority', -Infinity)),
          ...optional('delayMs', integerFlag(opts.delay, '--delay')),
          ...(opts.dedup !== undefined ? { dedupKey: opts.dedup } : {}),
          ...optional('maxAttempts', integerFlag(opts.maxAttempts, '--max-attempts', 1)),
          ...optional('ttlMs', integerFlag(opts.ttl, '--ttl', 1)),
        };
        await queueEnqueue(resolveTarget(opts), name, payload, options);
      },
    );

  reader(queue, 'dead', "a queue's dead jobs (dead letters), oldest id first")
    .argument('<queue>', 'the queue')
    .option('-n, --limit <count>', 'at most this many (default 100, at most 1000)')
    .option('--after <id>', "start after this job id (the previous page's last)")
    .action(async (name: string, opts: ReadFlags & { limit?: string; after?: string }) => {
      const limit = integerFlag(opts.limit, '--limit', 1);
      await queueDead(
        resolveTarget(opts),
        name,
        {
          ...(limit !== undefined ? { limit } : {}),
          ...(opts.after !== undefined ? { after: opts.after } : {}),
        },
        opts,
      );
    });

  verb(queue, 'retry', 'move dead jobs back to ready, with fresh attempts; exit 1 if an id was not dead')
    .argument('<queue>', 'the queue')
    .argument('[ids...]', 'the dead jobs (default: every dead job of the queue)')
    .action(async (name: string, ids: string[], opts: ReadFlags) => {
      await queueRetry(resolveTarget(opts), name, ids);
    });
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
