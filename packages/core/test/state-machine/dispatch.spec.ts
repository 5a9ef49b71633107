import { DuplicateHandlerError, MissingHandlerError } from '../../src/errors';
import {
  Command,
  OnApplied,
  OnRoleChange,
  Query,
  StateMachine,
  Validate,
} from '../../src/state-machine/decorators';
import { buildDispatchTable } from '../../src/state-machine/dispatch';
import { MachineHost } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { KvMachine, at, cmd } from './kv-machine';

describe('state machine - dispatch table', () => {
  it('maps command, query and validator names to method keys', () => {
    const table = buildDispatchTable(KvMachine);
    expect(table.name).toBe('kv');
    expect(table.commands.get('put')).toBe('put');
    expect([...table.commands.keys()]).toEqual([
      'put',
      'del',
      'incr',
      'tag',
      'fail',
      'putThenFail',
      'stamp',
      'later',
    ]);
    expect(table.queries.get('size')).toBe('count');
    expect(table.queries.has('count')).toBe(false);
    expect(table.validators.get('put')).toBe('checkPut');
    expect(table.hooks).toEqual({ onRoleChange: [], onApplied: [] });
  });

  it('is pure: building twice gives equal tables and leaves the metadata alone', () => {
    expect(buildDispatchTable(KvMachine)).toEqual(buildDispatchTable(KvMachine));
  });

  it('records metadata out of sight: no enumerable static, no instance field', () => {
    expect(Object.keys(KvMachine)).toEqual([]);
    expect(Object.keys(new KvMachine())).toEqual(['entries', 'tags', 'counter', 'stats']);
  });
});

describe('state machine - dispatch errors', () => {
  it('MissingHandlerError when the class lacks @StateMachine', () => {
    class Plain extends ReplicatedStateMachine {
      @Command() go(): void {}
    }
    expect(() => buildDispatchTable(Plain)).toThrow(MissingHandlerError);
    expect(() => buildDispatchTable(Plain)).toThrow('Plain lacks @StateMachine(name)');
  });

  it('MissingHandlerError when the class declares no @Command', () => {
    @StateMachine('readonly')
    class ReadOnly extends ReplicatedStateMachine {
      @Query() look(): number {
        return 1;
      }
    }
    expect(() => buildDispatchTable(ReadOnly)).toThrow(MissingHandlerError);
    expect(() => buildDispatchTable(ReadOnly)).toThrow(
      'ReadOnly (state machine "readonly") declares no @Command',
    );
  });

  it('MissingHandlerError when @Validate names a command that does not exist', () => {
    @StateMachine('typo')
    class Typo extends ReplicatedStateMachine {
      @Command() put(): void {}
      @Validate('pot') checkPot(): void {}
    }
    expect(() => buildDispatchTable(Typo)).toThrow(MissingHandlerError);
    expect(() => buildDispatchTable(Typo)).toThrow(
      'Typo: @Validate("pot") on Typo.checkPot() names no @Command; commands are: put',
    );
  });

  it('DuplicateHandlerError when two methods declare one command', () => {
    @StateMachine('dup')
    class Dup extends ReplicatedStateMachine {
      @Command() put(): void {}
      @Command('put') set(): void {}
    }
    expect(() => buildDispatchTable(Dup)).toThrow(DuplicateHandlerError);
    expect(() => buildDispatchTable(Dup)).toThrow(
      'Dup: command "put" is declared by both Dup.put() and Dup.set()',
    );
  });

  it('DuplicateHandlerError when two methods declare one query', () => {
    @StateMachine('dupq')
    class DupQ extends ReplicatedStateMachine {
      @Command() put(): void {}
      @Query('get') read(): void {}
      @Query('get') fetch(): void {}
    }
    expect(() => buildDispatchTable(DupQ)).toThrow(
      new DuplicateHandlerError('DupQ: query "get" is declared by both DupQ.read() and DupQ.fetch()'),
    );
  });

  it('DuplicateHandlerError when one name is both a command and a query', () => {
    @StateMachine('both')
    class Both extends ReplicatedStateMachine {
      @Command() get(): void {}
      @Query('get') read(): void {}
    }
    expect(() => buildDispatchTable(Both)).toThrow(
      new DuplicateHandlerError('Both: "get" is both a command (Both.get()) and a query (Both.read())'),
    );
  });

  it('DuplicateHandlerError when one command has two validators', () => {
    @StateMachine('twice')
    class Twice extends ReplicatedStateMachine {
      @Command() put(): void {}
      @Validate('put') checkA(): void {}
      @Validate('put') checkB(): void {}
    }
    expect(() => buildDispatchTable(Twice)).toThrow(
      new DuplicateHandlerError(
        'Twice: validator of command "put" is declared by both Twice.checkA() and Twice.checkB()',
      ),
    );
  });

  it('DuplicateHandlerError when @StateMachine is applied twice', () => {
    @StateMachine('a')
    @StateMachine('b')
    class Named extends ReplicatedStateMachine {
      @Command() put(): void {}
    }
    expect(() => buildDispatchTable(Named)).toThrow(DuplicateHandlerError);
    expect(() => buildDispatchTable(Named)).toThrow('Named: @StateMachine is applied 2 times (b, a)');
  });

  it('MissingHandlerError when a decorated method is static (JavaScript callers)', () => {
    const command = Command() as unknown as (target: object, key: string) => void;
    @StateMachine('static')
    class Static extends ReplicatedStateMachine {
      @Command() go(): void {}
      static later(): void {}
    }
    command(Static, 'later');
    expect(() => buildDispatchTable(Static)).toThrow(
      new MissingHandlerError(
        'Static: Static.later() is static; decorated handlers and hooks must be instance methods',
      ),
    );
  });

  it('types: decorators only fit instance methods of a ReplicatedStateMachine with the right signature', () => {
    // Checked by `tsc -p tsconfig.test.json`; never called, so no decorator runs.
    const typeChecks = () => {
      @StateMachine('typed')
      class Typed extends ReplicatedStateMachine {
        // @ts-expect-error handlers are instance methods
        @Command() static go(): void {}
        @Command() run(): void {}
        // @ts-expect-error a validator returns a reason string or nothing
        @Validate('run') check(): number {
          return 1;
        }
        // @ts-expect-error @OnApplied is called with the index, a number
        @OnApplied() applied(_index: string): void {}
        // @ts-expect-error @OnRoleChange is called with (role, leaderId, term)
        @OnRoleChange() role(_term: number): void {}
      }
      // @ts-expect-error only a ReplicatedStateMachine can be a state machine
      @StateMachine('plain')
      class Plain {
        // @ts-expect-error only a ReplicatedStateMachine method can be a handler
        @Command() go(): void {}
      }
      return [Typed, Plain];
    };
    expect(typeof typeChecks).toBe('function');
  });

  it('the host throws the same errors at construction', () => {
    class Plain extends ReplicatedStateMachine {
      @Command() go(): void {}
    }
    expect(() => new MachineHost(new Plain())).toThrow(MissingHandlerError);
  });
});

describe('state machine - inheritance', () => {
  const calls: string[] = [];

  @StateMachine('base')
  class Base extends ReplicatedStateMachine {
    n = 0;
    @Command() inc(): number {
      return ++this.n;
    }
    @Validate('inc') protected checkInc(): string | undefined {
      return this.n >= 3 ? 'too high' : undefined;
    }
    @OnApplied() protected baseApplied(index: number): void {
      calls.push(`base ${index}`);
    }
  }

  @StateMachine('mid')
  class Mid extends Base {
    @Command() dec(): number {
      return --this.n;
    }
    @OnRoleChange() protected midRole(role: string): void {
      calls.push(`mid ${role}`);
    }
  }

  @StateMachine('leaf')
  class Leaf extends Mid {
    @Query() value(): number {
      return this.n;
    }
    // An undecorated override: the parent's @Command('inc') reaches it.
    override inc(): number {
      this.n += 10;
      return this.n;
    }
    @OnApplied() protected leafApplied(index: number): void {
      calls.push(`leaf ${index}`);
    }
  }

  it('a subclass of a subclass keeps every parent handler, validator and hook', () => {
    const table = buildDispatchTable(Leaf);
    expect(table.name).toBe('leaf');
    expect([...table.commands]).toEqual([
      ['inc', 'inc'],
      ['dec', 'dec'],
    ]);
    expect([...table.queries]).toEqual([['value', 'value']]);
    expect([...table.validators]).toEqual([['inc', 'checkInc']]);
    expect(table.hooks).toEqual({ onRoleChange: ['midRole'], onApplied: ['baseApplied', 'leafApplied'] });
  });

  it('dispatch reaches the most derived override; hooks run parents first', () => {
    calls.length = 0;
    const host = new MachineHost(new Leaf());
    expect(host.apply(cmd('inc', []), at(1))).toEqual({ ok: true, value: 10 });
    expect(host.apply(cmd('dec', []), at(2))).toEqual({ ok: true, value: 9 });
    expect(host.query('value', [])).toBe(9);
    host.onRoleChange('leader', 'a', 2);
    expect(calls).toEqual(['base 1', 'leaf 1', 'base 2', 'leaf 2', 'mid leader']);
    expect(() => host.validate({ name: 'inc', args: [] })).toThrow('command inc rejected: too high');
  });

  it('parents keep their own table', () => {
    expect([...buildDispatchTable(Base).commands.keys()]).toEqual(['inc']);
    expect(buildDispatchTable(Mid).queries.size).toBe(0);
  });

  it('re-decorating an overridden method replaces the parent declaration', () => {
    @StateMachine('renamed')
    class Renamed extends Base {
      @Command('increment') override inc(): number {
        return super.inc();
      }
    }
    // "inc" is gone, so the parent's validator of "inc" now names no command.
    expect(() => buildDispatchTable(Renamed)).toThrow(
      new MissingHandlerError(
        'Renamed: @Validate("inc") on Base.checkInc() names no @Command; commands are: increment',
      ),
    );
  });

  it('an undecorated subclass is not a state machine of its own', () => {
    class Unnamed extends Leaf {}
    expect(() => buildDispatchTable(Unnamed)).toThrow(
      new MissingHandlerError(
        'Unnamed lacks @StateMachine(name): each subclass must name itself, even when its parent is decorated',
      ),
    );
  });

  it('a subclass may not declare a parent command name on another method', () => {
    @StateMachine('clash')
    class Clash extends Base {
      @Command('inc') plusOne(): number {
        return ++this.n;
      }
    }
    expect(() => buildDispatchTable(Clash)).toThrow(
      new DuplicateHandlerError('Clash: command "inc" is declared by both Base.inc() and Clash.plusOne()'),
    );
  });
});
