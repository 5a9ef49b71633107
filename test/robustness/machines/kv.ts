import { Command, Query, ReplicatedStateMachine, StateMachine, Validate } from '@raftline/core';

/**
 * The robustness suite's default machine: string registers with put and
 * compare-and-set, matching @raftline/testing's kvModel (put → null, cas →
 * whether it swapped, get → the value or null), plus a count of how many
 * times each write ran. Every write carries a value no other write uses,
 * so `runs()` shows a command applied twice (or a refused one applied).
 * Replicas load it by path (`raftline serve`'s `machine:`); the workload
 * imports it as a type only.
 */
@StateMachine('robust-kv')
export class RobustKv extends ReplicatedStateMachine {
  private data: Record<string, string> = {};
  private writes: Record<string, number> = {};

  /** Sets key to value. @returns null */
  @Command()
  put(key: string, value: string): null {
    this.count(value);
    this.data[key] = value;
    return null;
  }

  /** Sets key to value when it holds expected (null: absent). @returns whether it swapped */
  @Command()
  cas(key: string, expected: string | null, value: string): boolean {
    this.count(value);
    if ((this.data[key] ?? null) !== expected) return false;
    this.data[key] = value;
    return true;
  }

  /** @returns key's value, or null when it has none */
  @Query()
  get(key: string): string | null {
    return this.data[key] ?? null;
  }

  /** @returns how many times the write of each value ran (put or cas, swapped or not) */
  @Query()
  runs(): Record<string, number> {
    return { ...this.writes };
  }

  @Validate('put')
  protected checkPut(key: unknown, value: unknown): string | undefined {
    return strings({ key, value });
  }

  @Validate('cas')
  protected checkCas(key: unknown, expected: unknown, value: unknown): string | undefined {
    if (expected !== null && typeof expected !== 'string') return 'expected must be a string or null';
    return strings({ key, value });
  }

  private count(value: string): void {
    this.writes[value] = (this.writes[value] ?? 0) + 1;
  }
}

function strings(args: Record<string, unknown>): string | undefined {
  const bad = Object.entries(args).filter(([, v]) => typeof v !== 'string' || v === '');
  return bad.length > 0 ? `${bad.map(([k]) => k).join(', ')} must be non-empty strings` : undefined;
}
