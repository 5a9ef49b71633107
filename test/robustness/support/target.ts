// What the nemesis runs against: a machine module the replicas load, and
// what the workload sends it and how its history is judged. The default is
// the key-value registers of machines/kv.ts (kv-target.ts); `--machine
// <module>` loads a user's (see README.md).
import { isAbsolute, resolve } from 'node:path';
import type { RandomSource, ReadConsistency } from '@raftline/core';
import type { Model, Operation } from '@raftline/testing';

/** One operation the workload sends: a command or a query, and the model's view of it. */
export interface Invocation<I> {
  /** What the model sees (the history's input). */
  readonly input: I;
  readonly kind: 'command' | 'query';
  /** The machine's command or query name, and its arguments. */
  readonly name: string;
  readonly args: readonly unknown[];
  /** A query's consistency (default linearizable). */
  readonly consistency?: ReadConsistency;
  /**
   * An id no other write uses, when this command is a write whose runs the
   * machine counts (`RobustnessTarget.runsQuery`): the applied-once check.
   */
  readonly writeId?: string;
}

/** A machine and its workload, for the nemesis. */
export interface RobustnessTarget<S, I, O> {
  /** A short name for summaries. */
  readonly name: string;
  /** The module the replicas load (`raftline serve`'s `machine`), absolute. */
  readonly machine: string;
  /** Its export holding the class (default: the module's one machine class). */
  readonly export?: string;
  /** The sequential specification linearizable operations are checked against. */
  readonly model: Model<S, I, O>;
  /**
   * Draws client `client`'s `n`-th operation (n from 0). Deterministic in
   * rng, client, n and what the client saw (`seen`, for a CAS's expected value).
   */
  next(rng: RandomSource, client: number, n: number): Invocation<I>;
  /** The model's output for what an invocation returned. */
  output(inv: Invocation<I>, value: unknown): O;
  /** Tells the target what an operation of `client` returned (e.g. the value it read), before its next draw. */
  observe?(client: number, inv: Invocation<I>, output: O): void;
  /**
   * A query with no arguments answering `{ [writeId]: runs }`: how many times
   * each write's handler ran. Without it the applied-once check is skipped.
   */
  readonly runsQuery?: string;
  /**
   * Problems with operations outside the linearizability check (e.g. stale
   * reads must return a value some write made): one line each, [] when none.
   */
  checkUnordered?(history: readonly Operation<I, O>[], unordered: readonly Operation<I, O>[]): string[];
}

/** Raised when a --machine module does not export a usable target. */
export class TargetLoadError extends Error {
  override readonly name = 'TargetLoadError';
}

/** Whether a query invocation is checked for linearizability (every consistency but 'stale'). */
export function isLinearizable(inv: Invocation<unknown>): boolean {
  return inv.kind === 'command' || inv.consistency !== 'stale';
}

/**
 * Loads a user's target: the module's `target` export, or its default export
 * (a RobustnessTarget, or a function of no arguments returning one).
 * @returns the target, its machine path made absolute (relative to the module's directory)
 * @throws TargetLoadError when the module has no target or the target lacks machine, model or next
 */
export function loadTarget(modulePath: string): RobustnessTarget<unknown, unknown, unknown> {
  const path = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path) as Record<string, unknown>;
  const found = mod.target ?? mod.default;
  const target = (typeof found === 'function' ? (found as () => unknown)() : found) as
    Partial<RobustnessTarget<unknown, unknown, unknown>> | undefined;
  const missing = (['machine', 'model', 'next', 'output'] as const).filter((k) => !target?.[k]);
  if (!target || missing.length > 0) {
    throw new TargetLoadError(
      `${modulePath}: export a RobustnessTarget as 'target' or default (missing: ${missing.join(', ') || 'all'})`,
    );
  }
  const machine = isAbsolute(target.machine!) ? target.machine! : resolve(path, '..', target.machine!);
  const full = target as RobustnessTarget<unknown, unknown, unknown>;
  return { ...full, name: full.name ?? 'custom', machine };
}
