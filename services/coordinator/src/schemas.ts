/**
 * The shapes of the coordinator's command arguments, as Standard Schemas
 * (zod) that @Command checks before a command is replicated: a malformed
 * id, epoch, policy or write is refused with CommandRejectedError naming
 * the argument (`args[1] (epoch): must be a positive integer`) and never
 * enters the log. Sizes that depend on the Coordinator's options
 * (checkpoint and resource bytes) are checked by its @Validate hooks.
 * Exported so that clients can check arguments before sending them.
 */
import { z } from 'zod';
import { POLICIES } from './types';

/** Task, candidate, resource and human ids: 1–128 characters of letters, digits and . _ : @ / - (not first). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/;

const ID_RULE = 'must be 1–128 characters of letters, digits and . _ : @ / - starting with a letter or digit';

export const idSchema = z.string({ error: 'must be a string' }).regex(ID_PATTERN, ID_RULE);

export const epochSchema = z
  .number({ error: 'must be a number' })
  .int('must be a positive integer')
  .positive('must be a positive integer');

const count = (what: string) =>
  z
    .number({ error: 'must be a number' })
    .int(`${what} must be an integer`)
    .nonnegative(`${what} must be ≥ 0`);
const positiveInt = (what: string) =>
  z
    .number({ error: 'must be a number' })
    .int(`${what} must be an integer`)
    .positive(`${what} must be positive`);
const amount = (what: string) =>
  z.number({ error: 'must be a finite number' }).nonnegative(`${what} must be ≥ 0`);

/** At most this many required capabilities per task, and declared capabilities per candidate. */
export const MAX_CAPABILITIES = 64;

export const taskOptionsSchema = z
  .strictObject({
    policy: z.enum(POLICIES, { error: `must be one of ${POLICIES.join(', ')}` }).optional(),
    leaseMs: positiveInt('leaseMs').optional(),
    parent: idSchema.optional(),
    parentEpoch: epochSchema.optional(),
    requires: z.array(idSchema).max(MAX_CAPABILITIES, `at most ${MAX_CAPABILITIES} capabilities`).optional(),
    stuckAfterRenewals: count('stuckAfterRenewals').optional(),
    budget: z
      .strictObject({ ms: positiveInt('budget.ms').optional(), tokens: amount('budget.tokens').optional() })
      .optional(),
    approval: z.boolean({ error: 'must be a boolean' }).optional(),
    gatherMs: count('gatherMs').optional(),
    designated: idSchema.optional(),
  })
  .refine((o) => o.parentEpoch === undefined || o.parent !== undefined, {
    message: 'parentEpoch needs parent',
    path: ['parentEpoch'],
  })
  .optional();

export const candidateInfoSchema = z
  .strictObject({
    capabilities: z
      .record(idSchema, amount('a capability score'))
      .refine((c) => Object.keys(c).length <= MAX_CAPABILITIES, `at most ${MAX_CAPABILITIES} capabilities`)
      .optional(),
    load: amount('load').optional(),
  })
  .optional();

export const progressSchema = z
  .strictObject({
    marker: z
      .union([z.string().max(256, 'a marker string is at most 256 characters'), z.number().finite()])
      .optional(),
    tokens: amount('tokens').optional(),
  })
  .optional();

export const checkpointSchema = z.strictObject({
  state: z.union([z.string(), z.instanceof(Uint8Array)], { error: 'state must be a string or a Uint8Array' }),
  summary: z.string({ error: 'summary must be a string' }).optional(),
});

const ifVersion = count('ifVersion').optional();

export const writeSchema = z.discriminatedUnion(
  'op',
  [
    z.strictObject({
      op: z.literal('set'),
      value: z.unknown().refine((v) => v !== undefined, 'value is required (null to store nothing)'),
      ifVersion,
    }),
    z.strictObject({ op: z.literal('delete'), ifVersion }),
  ],
  { error: "op must be 'set' or 'delete'" },
);

export const checkpointSeqSchema = positiveInt('checkpoint');

export const reasonSchema = z
  .string({ error: 'must be a string' })
  .max(256, 'at most 256 characters')
  .optional();
