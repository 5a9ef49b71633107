import { Command, Query, ReplicatedStateMachine, StateMachine } from '@raftline/core';

/**
 * An example of a user's machine for `--machine` (see target.ts beside it):
 * named counters. `add` returns the counter's new total; `runs` counts each
 * add by its id, for the applied-once check.
 */
@StateMachine('example-counters')
export class Counters extends ReplicatedStateMachine {
  private totals: Record<string, number> = {};
  private adds: Record<string, number> = {};

  /** Adds n to counter key; id names this add. @returns the new total */
  @Command()
  add(key: string, n: number, id: string): number {
    this.adds[id] = (this.adds[id] ?? 0) + 1;
    this.totals[key] = (this.totals[key] ?? 0) + n;
    return this.totals[key];
  }

  /** @returns counter key's total (0 when never added to) */
  @Query()
  total(key: string): number {
    return this.totals[key] ?? 0;
  }

  /** @returns how many times each add ran, by id */
  @Query()
  runs(): Record<string, number> {
    return { ...this.adds };
  }
}
