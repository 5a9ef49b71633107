import { z } from 'zod';
import { CommandRejectedError, ConfigError } from '../../src/errors';
import type { StandardSchemaV1 } from '../../src/state-machine/args';
import { parameters } from '../../src/state-machine/args';
import { Command, StateMachine, Validate } from '../../src/state-machine/decorators';
import { MachineHost } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { KvMachine, at, cmd } from './kv-machine';

/** The refusal host.validate() throws for a request, or undefined when it accepts it. */
function refusal(host: MachineHost, name: string, args: unknown[]): CommandRejectedError | undefined {
  try {
    host.validate({ name, args });
    return undefined;
  } catch (err) {
    if (err instanceof CommandRejectedError) return err;
    throw err;
  }
}

/** A Standard Schema written by hand: a positive integer, no library involved. */
const positiveInt: StandardSchemaV1<unknown, number> = {
  '~standard': {
    version: 1,
    vendor: 'hand-written',
    validate: (value) =>
      Number.isSafeInteger(value) && (value as number) > 0
        ? { value: value as number }
        : { issues: [{ message: 'expected a positive integer' }] },
  },
};

@StateMachine('ledger')
class Ledger extends ReplicatedStateMachine {
  balances = new Map<string, number>();

  @Command({ args: [z.string().min(1), z.number().int()] })
  credit(account: string, by: number): number {
    const next = (this.balances.get(account) ?? 0) + by;
    this.balances.set(account, next);
    return next;
  }

  @Command('open', { args: z.tuple([z.string(), z.object({ limit: z.number() }).optional()]) })
  openAccount(account: string, _opts?: { limit: number }): boolean {
    this.balances.set(account, 0);
    return true;
  }

  @Command({ args: [positiveInt] })
  burn(amount: number): number {
    return amount;
  }

  @Command({ minArgs: 1 })
  close(account: string, reason = 'closed'): string {
    this.balances.delete(account);
    return reason;
  }

  @Command()
  note(...lines: string[]): number {
    return lines.length;
  }

  @Command({ args: [z.string()] })
  rename(name: string): string {
    return name;
  }

  /** Runs after the schema: it sees arguments of the right types. */
  @Validate('rename')
  protected checkRename(name: string): string | undefined {
    return name === 'root' ? 'root is reserved' : undefined;
  }
}

describe('state machine - argument schemas and arity, checked before replication', () => {
  const host = new MachineHost(new Ledger());

  it('refuses an argument a zod schema rejects, naming the argument by index and parameter', () => {
    expect(refusal(host, 'credit', ['alice', 5])).toBeUndefined();
    const e = refusal(host, 'credit', ['alice', 1.5]);
    expect(e?.message).toBe(
      'command credit rejected: args[1] (by): Invalid input: expected int, received number',
    );
    expect(refusal(host, 'credit', ['', 1])?.reason).toMatch(/^args\[0\] \(account\): Too small/);
    expect(refusal(host, 'credit', ['alice'])?.reason).toMatch(
      /^args\[1\] \(by\): Invalid input: expected number, received undefined/,
    );
  });

  it('refuses more arguments than the per-argument schemas list', () => {
    expect(refusal(host, 'credit', ['alice', 1, 'extra'])?.reason).toBe(
      'expected at most 2 arguments (account, by), got 3',
    );
  });

  it('maps a tuple schema’s issue paths onto arguments, nested fields included', () => {
    expect(refusal(host, 'open', ['bob'])).toBeUndefined();
    expect(refusal(host, 'open', ['bob', { limit: 10 }])).toBeUndefined();
    expect(refusal(host, 'open', ['bob', { limit: 'x' }])?.reason).toBe(
      'args[1] (_opts).limit: Invalid input: expected number, received string',
    );
    expect(refusal(host, 'open', [7])?.reason).toMatch(/^args\[0\] \(account\): Invalid input/);
    expect(refusal(host, 'open', ['bob', {}, 3])?.reason).toMatch(/^args: Too big/);
  });

  it('accepts a hand-written Standard Schema object', () => {
    expect(refusal(host, 'burn', [3])).toBeUndefined();
    expect(refusal(host, 'burn', [0])?.reason).toBe('args[0] (amount): expected a positive integer');
  });

  it('without a schema, refuses more arguments than the handler declares and fewer than minArgs', () => {
    expect(refusal(host, 'close', ['alice'])).toBeUndefined();
    expect(refusal(host, 'close', ['alice', 'fraud'])).toBeUndefined();
    expect(refusal(host, 'close', ['alice', 'fraud', 'more'])?.reason).toBe(
      'expected at most 2 arguments (account, reason), got 3',
    );
    expect(refusal(host, 'close', [])?.reason).toBe('expected at least 1 argument (account), got 0');
  });

  it('lets a handler with a rest parameter take any number of arguments', () => {
    expect(refusal(host, 'note', [])).toBeUndefined();
    expect(refusal(host, 'note', ['a', 'b', 'c', 'd'])).toBeUndefined();
  });

  it('refuses extra arguments to the handlers of an existing machine (arity from its parameters)', () => {
    const kv = new MachineHost(new KvMachine());
    expect(refusal(kv, 'del', ['k'])).toBeUndefined();
    expect(refusal(kv, 'del', ['k', 'v'])?.message).toBe(
      'command del rejected: expected at most 1 argument (key), got 2',
    );
    expect(refusal(kv, 'stamp', [1])?.reason).toBe('expected at most 0 arguments, got 1');
  });

  it('runs the schema before the @Validate hook', () => {
    expect(refusal(host, 'rename', [42])?.reason).toMatch(/^args\[0\] \(name\): Invalid input/);
    expect(refusal(host, 'rename', ['root'])?.reason).toBe('root is reserved');
  });

  it('refuses a command whose schema turns asynchronous', () => {
    @StateMachine('async-refine')
    class Lazy extends ReplicatedStateMachine {
      n = 0;
      @Command({ args: [z.string().refine(async (s) => s.length > 0)] })
      set(_s: string): number {
        return ++this.n;
      }
    }
    const lazy = new MachineHost(new Lazy());
    expect(refusal(lazy, 'set', ['x'])?.reason).toBe(
      'args[0] (_s): its schema validated asynchronously; argument schemas must be synchronous',
    );
    // A synchronous failure of the same schema is still reported as an issue.
    expect(refusal(lazy, 'set', [3])?.reason).toMatch(/^args\[0\] \(_s\): Invalid input/);
  });

  it('refuses at start-up a schema whose validate() always answers with a Promise', () => {
    const always: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'async', validate: async (value) => ({ value }) },
    };
    @StateMachine('async-schema')
    class Eager extends ReplicatedStateMachine {
      @Command({ args: [always] })
      go(_x: unknown): void {}
    }
    expect(() => new MachineHost(new Eager())).toThrow(ConfigError);
    expect(() => new MachineHost(new Eager())).toThrow(
      'Eager: @Command go: the schema of args[0] (_x) validates asynchronously; it must be synchronous',
    );
  });

  it('refuses at start-up an args option that is no Standard Schema, and minArgs beyond the parameters', () => {
    @StateMachine('bad-args')
    class BadArgs extends ReplicatedStateMachine {
      @Command({ args: [z.string(), { parse: () => 1 } as never] })
      go(_a: string, _b: number): void {}
    }
    expect(() => new MachineHost(new BadArgs())).toThrow(
      'BadArgs.go(): args[1] is not a Standard Schema (no ~standard.validate)',
    );
    @StateMachine('bad-min')
    class BadMin extends ReplicatedStateMachine {
      @Command({ minArgs: 2 })
      go(_a: string): void {}
    }
    expect(() => new MachineHost(new BadMin())).toThrow(
      'BadMin.go(): minArgs (2) exceeds the 1 arguments it takes',
    );
  });

  it('refuses a schema that throws, naming the argument', () => {
    const throwing: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'broken',
        validate: (v) => {
          if (v === undefined) return { value: v };
          throw new Error('boom');
        },
      },
    };
    @StateMachine('throwing-schema')
    class Throwing extends ReplicatedStateMachine {
      @Command({ args: [throwing] })
      go(value: unknown): unknown {
        return value;
      }
    }
    expect(refusal(new MachineHost(new Throwing()), 'go', [1])?.reason).toBe(
      'args[0] (value): its schema threw: boom',
    );
  });

  it('checks only before replication: apply() runs what the log holds, and a schema never transforms it', () => {
    @StateMachine('echo')
    class Echo extends ReplicatedStateMachine {
      @Command({ args: [z.coerce.number()] })
      echo(v: unknown): unknown {
        return v;
      }
    }
    const echo = new MachineHost(new Echo());
    expect(refusal(echo, 'echo', ['7'])).toBeUndefined();
    expect(echo.apply(cmd('echo', ['7']), at(1))).toEqual({ ok: true, value: '7' });
  });
});

describe('state machine - reading a handler’s parameters from its source', () => {
  it('reads names, defaults, destructuring, comments and rest parameters', () => {
    expect(parameters(function (_a: number, _b = 'x,y', _c = [1, 2]) {} as never)).toEqual({
      names: ['_a', '_b', '_c'],
      rest: false,
    });
    expect(parameters(function ({ _a, _b }: { _a: 1; _b: 2 }, [_c]: number[]) {} as never)).toEqual({
      names: [undefined, undefined],
      rest: false,
    });
    expect(parameters(function (_a: number /* the (first) one */, ..._rest: unknown[]) {} as never)).toEqual({
      names: ['_a'],
      rest: true,
    });
    expect(
      parameters(function (a: number) {
        return arguments.length + a;
      } as never),
    ).toEqual({ names: ['a'], rest: true });
  });

  it('gives up on a default it cannot read, so no arity is enforced', () => {
    expect(parameters(function (_a = `${1}`) {} as never)).toBeUndefined();
  });
});
