import { Command, Query, ReplicatedStateMachine, StateMachine, Validate } from '@raftline/core';

function stringArgs(
  args: readonly unknown[],
  count: number,
  nullable: ReadonlySet<number> = new Set(),
): string | undefined {
  if (args.length !== count) return `expected ${count} arguments, got ${args.length}`;
  for (let k = 0; k < count; k++) {
    const v = args[k];
    if (typeof v !== 'string' && !(v === null && nullable.has(k)))
      return `argument ${k + 1} must be a string`;
  }
  return undefined;
}

/**
 * The default SimCluster state machine: a string key-value store whose
 * commands match the linearizability checker's kvModel, so client histories
 * of a simulated cluster can be checked as they are.
 *
 * Commands: put(key, value) → null; get(key) → string | null (a read through
 * the log, hence linearizable); append(key, value) → the new value;
 * cas(key, expected | null, value) → whether it swapped. Queries, served
 * from local state (may be stale): read(key) → string | null, dump() → the whole map.
 */
@StateMachine('sim-kv')
export class KvMachine extends ReplicatedStateMachine {
  private data = new Map<string, string>();

  /** Sets key to value. @returns null */
  @Command()
  put(key: string, value: string): null {
    this.data.set(key, value);
    return null;
  }

  /** Reads key through the log. @returns its value, or null when absent */
  @Command()
  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Appends value to key's value (absent counts as ''). @returns the new value */
  @Command()
  append(key: string, value: string): string {
    const next = (this.data.get(key) ?? '') + value;
    this.data.set(key, next);
    return next;
  }

  /** Sets key to value if its current value is expected (null: absent). @returns whether it swapped */
  @Command()
  cas(key: string, expected: string | null, value: string): boolean {
    if ((this.data.get(key) ?? null) !== expected) return false;
    this.data.set(key, value);
    return true;
  }

  /** Reads key from this replica's local state. @returns its value, or null when absent */
  @Query()
  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** @returns a copy of the whole map (for tests) */
  @Query()
  dump(): Map<string, string> {
    return new Map(this.data);
  }

  @Validate('put')
  protected validatePut(...args: unknown[]): string | undefined {
    return stringArgs(args, 2);
  }

  @Validate('get')
  protected validateGet(...args: unknown[]): string | undefined {
    return stringArgs(args, 1);
  }

  @Validate('append')
  protected validateAppend(...args: unknown[]): string | undefined {
    return stringArgs(args, 2);
  }

  @Validate('cas')
  protected validateCas(...args: unknown[]): string | undefined {
    return stringArgs(args, 3, new Set([1]));
  }
}
