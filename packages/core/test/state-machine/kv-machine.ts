// A small key-value state machine, the example the state-machine specs share.
import type { CommandEnvelope } from '../../src/node/command';
import type { ApplyContext } from '../../src/node/applier';
import { Command, Query, StateMachine, Validate } from '../../src/state-machine/decorators';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';

/** A replicated key-value store: a Map, a Set, a counter and a plain object of stats. */
@StateMachine('kv')
export class KvMachine extends ReplicatedStateMachine {
  entries = new Map<string, string>();
  tags = new Set<string>();
  counter = 0;
  stats = { writes: 0, lastWriteAt: 0 };

  /** Sets key to value; returns the previous value. */
  @Command()
  put(key: string, value: string): string | undefined {
    const previous = this.entries.get(key);
    this.entries.set(key, value);
    this.stats.writes++;
    this.stats.lastWriteAt = this.context.time;
    return previous;
  }

  /** Rejects an empty key (by reason) and a non-string value (by throwing). */
  @Validate('put')
  protected checkPut(key: string, value: string): string | undefined {
    if (typeof value !== 'string') throw new TypeError('value must be a string');
    return key === '' ? 'key must not be empty' : undefined;
  }

  @Command()
  del(key: string): boolean {
    return this.entries.delete(key);
  }

  @Command()
  incr(by: number): number {
    this.counter += by;
    return this.counter;
  }

  @Command()
  tag(name: string): number {
    this.tags.add(name);
    return this.tags.size;
  }

  @Command()
  fail(message: string): never {
    throw new Error(message);
  }

  /** Mutates, then throws: the mutation stays (handlers are not rolled back). */
  @Command()
  putThenFail(key: string): never {
    this.entries.set(key, 'partial');
    throw new Error('failed after writing');
  }

  @Command()
  stamp(): ApplyContext {
    return { ...this.context };
  }

  @Command()
  async later(): Promise<number> {
    this.counter += 100;
    return this.counter;
  }

  @Query()
  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  @Query('size')
  count(): number {
    return this.entries.size;
  }

  @Query()
  peekContext(): ApplyContext {
    return this.context;
  }
}

/** An envelope with a session; time defaults to 0. */
export function cmd(
  name: string,
  args: unknown[],
  opts: { time?: number; clientId?: string; seq?: number; ackedBelow?: number } = {},
): CommandEnvelope {
  const { time = 0, clientId, seq, ackedBelow } = opts;
  return clientId === undefined
    ? { name, args, time }
    : { name, args, time, session: { clientId, seq: seq ?? 1, ackedBelow: ackedBelow ?? 0 } };
}

/** An apply context at index i (the host takes time from the envelope, not from here). */
export const at = (index: number, term = 1): ApplyContext => ({ index, term, time: 0 });
