import { ConfigError, unknownKeyProblems } from '@raftline/core';

/**
 * Bounds of one Coordinator. They are part of the machine's behaviour
 * (apply refuses past them), so every replica of a group must be built
 * with the same options, as with the same code.
 */
export interface CoordinatorOptions {
  /** Most tasks at once (default 100 000). */
  readonly maxTasks?: number;
  /** Most registered candidates (default 10 000). */
  readonly maxCandidates?: number;
  /** Most applicants waiting on one task (default 1 000). */
  readonly maxApplicants?: number;
  /** Most resources per task (default 1 000). */
  readonly maxResources?: number;
  /** Largest checkpoint state, in bytes (UTF-8 for a string; default 256 KiB). */
  readonly maxCheckpointBytes?: number;
  /** Largest checkpoint summary, in UTF-8 bytes (default 1 KiB). */
  readonly maxSummaryBytes?: number;
  /** Largest resource value, msgpack-encoded (default 64 KiB). */
  readonly maxResourceBytes?: number;
  /** Events kept per task; older ones are dropped (default 256). */
  readonly historyLimit?: number;
  /** Longest lease a task may ask for, in ms (default 24 h). */
  readonly maxLeaseMs?: number;
}

/** The defaults of CoordinatorOptions, in one place. */
export const DEFAULT_COORDINATOR_OPTIONS: Required<CoordinatorOptions> = {
  maxTasks: 100_000,
  maxCandidates: 10_000,
  maxApplicants: 1_000,
  maxResources: 1_000,
  maxCheckpointBytes: 256 * 1024,
  maxSummaryBytes: 1024,
  maxResourceBytes: 64 * 1024,
  historyLimit: 256,
  maxLeaseMs: 24 * 60 * 60 * 1000,
};

/** A task's lease when createTask() names none, in ms. */
export const DEFAULT_LEASE_MS = 10_000;

/**
 * Fills in defaults and checks every bound.
 * @returns the options, complete
 * @throws ConfigError naming every unknown key and every bound that is not a positive integer
 */
export function resolveCoordinatorOptions(options: CoordinatorOptions = {}): Required<CoordinatorOptions> {
  const problems = unknownKeyProblems(options, DEFAULT_COORDINATOR_OPTIONS, 'Coordinator options');
  const o = { ...DEFAULT_COORDINATOR_OPTIONS, ...options };
  for (const [key, value] of Object.entries(o)) {
    if (!Number.isSafeInteger(value) || value < 1)
      problems.push(`${key} (${String(value)}) must be a positive integer`);
  }
  if (o.maxLeaseMs < DEFAULT_LEASE_MS) {
    problems.push(`maxLeaseMs (${o.maxLeaseMs}) must be at least the default lease (${DEFAULT_LEASE_MS} ms)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return o;
}
