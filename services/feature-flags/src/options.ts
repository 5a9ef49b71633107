/**
 * The store's options, and the checks every write's names and options pass
 * (before replication and again when applied).
 */
import { ConfigError, checkKnownKeys } from '@raftline/core';
import { isPlainObject, unknownKeys } from './conditions';
import { InvalidDefinitionError } from './errors';
import { LIMITS, nameProblem } from './limits';
import type { WriteOptions } from './types';

/** Options of the store; every replica must run with the same. */
export interface FeatureFlagsOptions {
  /** History entries kept per flag and per segment (the oldest go first). Default 100. */
  readonly historyPerKey?: number;
  /** Per environment, deleted flags and segments whose history is kept (the longest deleted go first). Default 1 000. */
  readonly deletedHistories?: number;
}

/** The defaults of FeatureFlagsOptions. */
export const DEFAULT_FEATURE_FLAGS_OPTIONS: Required<FeatureFlagsOptions> = {
  historyPerKey: 100,
  deletedHistories: 1_000,
};

/**
 * Resolves options.
 * @throws ConfigError naming each unknown or invalid field
 */
export function resolveOptions(options: FeatureFlagsOptions): Required<FeatureFlagsOptions> {
  checkKnownKeys(options, DEFAULT_FEATURE_FLAGS_OPTIONS, 'FeatureFlags options');
  const o = { ...DEFAULT_FEATURE_FLAGS_OPTIONS, ...options };
  const problems: string[] = [];
  for (const k of ['historyPerKey', 'deletedHistories'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 0)
      problems.push(`${k} (${String(o[k])}) must be a non-negative integer`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return o;
}

/**
 * Checks the options of a write.
 * @throws InvalidDefinitionError naming each problem
 */
export function checkWriteOptions(
  options: unknown,
  allowed: readonly string[] = ['expectedVersion', 'author', 'reason'],
): WriteOptions {
  const problems: string[] = [];
  if (!isPlainObject(options)) throw new InvalidDefinitionError('options', ['must be an object with author']);
  problems.push(...unknownKeys(options, allowed, 'options'));
  const { expectedVersion, author, reason } = options;
  if (
    expectedVersion !== undefined &&
    (!Number.isSafeInteger(expectedVersion) || (expectedVersion as number) < 0)
  )
    problems.push('options.expectedVersion: must be a non-negative integer (0: must not exist)');
  if (typeof author !== 'string' || author.length === 0 || author.length > LIMITS.textLength)
    problems.push(`options.author: must be a non-empty string of at most ${LIMITS.textLength} characters`);
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > LIMITS.textLength))
    problems.push(`options.reason: must be a string of at most ${LIMITS.textLength} characters`);
  if (problems.length > 0) throw new InvalidDefinitionError('options', problems);
  return options as unknown as WriteOptions;
}

/** @throws InvalidDefinitionError when environment or key is not a valid name */
export function checkNames(environment: unknown, key: unknown, what: 'key' | 'segment'): void {
  const problems = [nameProblem('environment', environment), nameProblem(what, key)].filter(
    (p): p is string => p !== undefined,
  );
  if (problems.length > 0) throw new InvalidDefinitionError('names', problems);
}
