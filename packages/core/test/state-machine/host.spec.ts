import {
  CommandFailedError,
  CommandRejectedError,
  ConfigError,
  MissingHandlerError,
  UnknownCommandError,
} from '../../src/errors';
import type { ApplyContext, ApplyResult } from '../../src/node/applier';
import { Command, OnApplied, OnRoleChange, StateMachine, Validate } from '../../src/state-machine/decorators';
import { MachineHost } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { KvMachine, at, cmd } from './kv-machine';

function errorOf(result: ApplyResult): Error {
  if (result.ok) throw new Error(`expected a failure, got ${String(result.value)}`);
  return result.error;
}

describe('state machine - validation before replication', () => {
  const host = new MachineHost(new KvMachine());

  it('accepts a valid command without touching state', () => {
    expect(() => host.validate({ name: 'put', args: ['k', 'v'] })).not.toThrow();
    expect(host.query('size', [])).toBe(0);
  });

  it('UnknownCommandError for a name no @Command declares (queries included)', () => {
    expect(() => host.validate({ name: 'nope', args: [] })).toThrow(new UnknownCommandError('nope'));
    expect(() => host.validate({ name: 'get', args: ['k'] })).toThrow(UnknownCommandError);
  });

  it('CommandRejectedError with the reason the validator returns', () => {
    expect(() => host.validate({ name: 'put', args: ['', 'v'] })).toThrow(
      new CommandRejectedError('put', 'key must not be empty'),
    );
  });

  it('CommandRejectedError with the thrown error as cause', () => {
    let caught: unknown;
    try {
      host.validate({ name: 'put', args: ['k', 42] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CommandRejectedError);
    expect((caught as CommandRejectedError).reason).toBe('value must be a string');
    expect((caught as CommandRejectedError).cause).toBeInstanceOf(TypeError);
  });

  it('CommandRejectedError for a malformed session or args', () => {
    const bad = (session: object) => () =>
      host.validate({ name: 'del', args: ['k'], session: session as never });
    expect(bad({ clientId: '', seq: 1 })).toThrow('session.clientId must be a non-empty string');
    expect(bad({ clientId: 'c', seq: 0 })).toThrow('session.seq (0) must be an integer of at least 1');
    expect(bad({ clientId: 'c', seq: 2, ackedBelow: 3 })).toThrow(
      'session.ackedBelow (3) must be an integer from 0',
    );
    expect(() => host.validate({ name: 'del', args: 'k' as never })).toThrow(
      'command del rejected: args must be an array',
    );
  });

  it('validators cannot read the replicated context', () => {
    @StateMachine('peeky')
    class Peeky extends ReplicatedStateMachine {
      @Command() go(): void {}
      @Validate('go') protected check(): void {
        void this.context;
      }
    }
    expect(() => new MachineHost(new Peeky()).validate({ name: 'go', args: [] })).toThrow(
      /only available while a @Command or @Query handler runs/,
    );
  });
});

describe('state machine - apply', () => {
  it('dispatches to the handler and returns its result', () => {
    const host = new MachineHost(new KvMachine());
    expect(host.apply(cmd('put', ['a', '1']), at(1))).toEqual({ ok: true, value: undefined });
    expect(host.apply(cmd('put', ['a', '2']), at(2))).toEqual({ ok: true, value: '1' });
    expect(host.query('get', ['a'])).toBe('2');
    expect(host.appliedIndex).toBe(2);
  });

  it('a handler that throws fails deterministically with CommandFailedError', () => {
    const host = new MachineHost(new KvMachine());
    const error = errorOf(host.apply(cmd('fail', ['out of stock']), at(1)));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error.message).toBe('command fail failed while applying: out of stock');
    expect(host.appliedIndex).toBe(1);
  });

  it('documented: what a handler changed before throwing stays changed (no rollback)', () => {
    const host = new MachineHost(new KvMachine());
    expect(errorOf(host.apply(cmd('putThenFail', ['k']), at(1)))).toBeInstanceOf(CommandFailedError);
    expect(host.query('get', ['k'])).toBe('partial');
  });

  it('a handler that returns a Promise fails the command', () => {
    const host = new MachineHost(new KvMachine());
    expect(errorOf(host.apply(cmd('later', []), at(1))).message).toMatch(/handlers must be synchronous/);
  });

  it('an unknown command in the log fails with UnknownCommandError instead of throwing', () => {
    const host = new MachineHost(new KvMachine());
    expect(errorOf(host.apply(cmd('gone', []), at(1)))).toEqual(new UnknownCommandError('gone'));
  });

  it('gives handlers the replicated context and withdraws it afterwards', () => {
    @StateMachine('hooks-peek')
    class HookPeek extends ReplicatedStateMachine {
      @Command() stamp(): ApplyContext {
        return { ...this.context };
      }
      @Command() fail(): never {
        throw new Error('x');
      }
      @OnApplied() protected peek(): void {
        void this.context;
      }
    }
    const host = new MachineHost(new KvMachine());
    expect(host.apply(cmd('stamp', [], { time: 1234 }), at(7, 3))).toEqual({
      ok: true,
      value: { index: 7, term: 3, time: 1234 },
    });
    // A hook runs after the handler: the context is gone, even after a handler throws.
    const hooked = new MachineHost(new HookPeek());
    expect(() => hooked.apply(cmd('stamp', []), at(1))).toThrow(
      'HookPeek: this.context is only available while a @Command or @Query handler runs',
    );
    expect(() => hooked.apply(cmd('fail', []), at(2))).toThrow(/only available/);
  });

  it('makes time non-decreasing along the log', () => {
    const host = new MachineHost(new KvMachine());
    const times = [100, 50, 200, 199, 200].map((time, i) => {
      const result = host.apply(cmd('stamp', [], { time }), at(i + 1));
      return result.ok ? (result.value as { time: number }).time : NaN;
    });
    expect(times).toEqual([100, 100, 200, 200, 200]);
    expect(host.time).toBe(200);
  });
});

describe('state machine - queries and hooks', () => {
  it('query() dispatches by query name; UnknownCommandError (query) otherwise', () => {
    const host = new MachineHost(new KvMachine());
    host.apply(cmd('put', ['a', '1']), at(1));
    expect(host.query('size', [])).toBe(1);
    expect(() => host.query('count', [])).toThrow(new UnknownCommandError('count', 'query'));
    expect(() => host.query('put', ['b', '2'])).toThrow('unknown query put');
  });

  @StateMachine('hooked')
  class Hooked extends ReplicatedStateMachine {
    n = 0;
    readonly events: string[] = [];
    @Command() inc(): number {
      this.events.push(`inc@${this.context.index}`);
      return ++this.n;
    }
    @OnApplied() protected applied(index: number): void {
      this.events.push(`applied ${index}`);
    }
    @OnRoleChange() protected role(role: string, leaderId: string, term: number): void {
      this.events.push(`${role} ${leaderId} ${term}`);
    }
  }

  it('calls @OnApplied after every applied command, failed or not, and @OnRoleChange', () => {
    const machine = new Hooked();
    const host = new MachineHost(machine);
    host.onRoleChange('follower', 'b', 1);
    host.apply(cmd('inc', []), at(1));
    host.apply(cmd('missing', []), at(2));
    host.onRoleChange('leader', 'a', 2);
    expect(machine.events).toEqual(['follower b 1', 'inc@1', 'applied 1', 'applied 2', 'leader a 2']);
  });

  it('a decorated member that is not a method fails at construction', () => {
    @StateMachine('shadowed')
    class Shadowed extends ReplicatedStateMachine {
      @Command() go(): void {}
    }
    const machine = new Shadowed();
    Object.defineProperty(machine, 'go', { value: 42 });
    expect(() => new MachineHost(machine)).toThrow(
      new MissingHandlerError('Shadowed: decorated member go is not a method'),
    );
  });
});

describe('state machine - host options', () => {
  it('ConfigError naming every invalid option', () => {
    expect(() => new MachineHost(new KvMachine(), { sessionTtlMs: 0, maxSessions: 0.5 })).toThrow(
      new ConfigError([
        'sessionTtlMs (0) must be positive',
        'maxSessions (0.5) must be an integer of at least 1',
      ]),
    );
  });
});
