/**
 * The argument schemas of the task queue's commands, checked before a
 * command is replicated (`@Command({ args })`, Standard Schema via zod): a
 * refused command is a CommandRejectedError naming the argument and field
 * (`args[2] (options).delayMs: Too small: expected number to be >=0`) and
 * never enters the log. Options objects are strict: an unknown key is
 * refused, not dropped. Sizes that depend on how the TaskQueue was built
 * (payload and result bytes) are checked by its @Validate hooks.
 */
import { z } from 'zod';

/** The fixed bounds of the task queue's arguments, in one place. */
export const LIMITS = {
  /** Longest queue name. */
  queueName: 128,
  /** Longest worker id. */
  workerId: 256,
  /** Longest dedup key. */
  dedupKey: 512,
  /** Longest error text of a nack. */
  error: 4096,
  /** Longest delay, retry wait, backoff or ttl: one year. */
  delayMs: 365 * 24 * 60 * 60 * 1000,
  /** Longest lease: one day. */
  leaseMs: 24 * 60 * 60 * 1000,
  /** Most jobs one claim hands out, and most items of one enqueueMany, ackMany or id list. */
  batch: 1000,
  /** Most attempts of one job. */
  attempts: 1000,
  /** Priorities are integers within ± this. */
  priority: 1_000_000,
  /** Most done or dead jobs a queue may keep. */
  keepCount: 1_000_000,
  /** Most jobs one listJobs page returns. */
  page: 1000,
} as const;

/** What a queue name may be: letters, digits and _ . : - (not first), 1 to 128 characters. */
export const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** What a job id is: the decimal string of a positive integer (what enqueue returns). */
export const JOB_ID = /^[1-9][0-9]{0,15}$/;

const ms = (max: number) => z.int().min(0).max(max);

export const queueName = z
  .string()
  .max(LIMITS.queueName)
  .regex(QUEUE_NAME, 'must be letters, digits and _ . : - (not first)');

export const workerId = z.string().min(1).max(LIMITS.workerId);

export const jobId = z.string().regex(JOB_ID, 'must be a job id (the decimal string enqueue returned)');

export const token = z.int().min(1);

/** Any plain data; its encoded size is checked against maxPayloadBytes by TaskQueue's validator. */
export const payload = z.unknown();

/** Any plain data or nothing; its encoded size is checked against maxResultBytes. */
export const result = z.unknown().optional();

export const leaseMs = z.int().min(1).max(LIMITS.leaseMs);

export const backoff = z.strictObject({
  type: z.enum(['fixed', 'exponential']),
  delayMs: ms(LIMITS.delayMs),
  maxMs: ms(LIMITS.delayMs).optional(),
});

export const enqueueOptions = z
  .strictObject({
    priority: z.int().min(-LIMITS.priority).max(LIMITS.priority).optional(),
    delayMs: ms(LIMITS.delayMs).optional(),
    dedupKey: z.string().min(1).max(LIMITS.dedupKey).optional(),
    maxAttempts: z.int().min(1).max(LIMITS.attempts).optional(),
    backoff: backoff.optional(),
    ttlMs: z.int().min(1).max(LIMITS.delayMs).optional(),
  })
  .refine((o) => o.ttlMs === undefined || o.ttlMs > (o.delayMs ?? 0), {
    message: 'ttlMs must be greater than delayMs (the job would die before it is ready)',
    path: ['ttlMs'],
  });

export const enqueueItems = z
  .array(z.strictObject({ payload: z.unknown(), options: enqueueOptions.optional() }))
  .min(1)
  .max(LIMITS.batch);

export const claimOptions = z.strictObject({
  leaseMs: leaseMs.optional(),
  max: z.int().min(1).max(LIMITS.batch).optional(),
});

export const nackOptions = z.strictObject({
  error: z.string().max(LIMITS.error).optional(),
  retryInMs: ms(LIMITS.delayMs).optional(),
});

export const ackItems = z
  .array(z.strictObject({ jobId, token, result: z.unknown().optional() }))
  .min(1)
  .max(LIMITS.batch);

export const leases = z.array(z.strictObject({ jobId, token })).min(1).max(LIMITS.batch);

export const jobIds = z.array(jobId).max(LIMITS.batch);

export const queueSettings = z.strictObject({
  maxAttempts: z.int().min(1).max(LIMITS.attempts).optional(),
  keepDoneCount: z.int().min(0).max(LIMITS.keepCount).optional(),
  keepDoneMs: ms(LIMITS.delayMs).optional(),
  keepDeadCount: z.int().min(0).max(LIMITS.keepCount).optional(),
  keepDeadMs: ms(LIMITS.delayMs).optional(),
});

/** Problems of a partial QueueSettings, each naming `where`.field. */
export function settingsProblems(settings: unknown, where: string): string[] {
  const result = queueSettings['~standard'].validate(settings);
  if (result instanceof Promise || !result.issues) return [];
  return result.issues.map((i) => {
    const path = (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
    return `${where}${path ? `.${path}` : ''}: ${i.message}`;
  });
}
