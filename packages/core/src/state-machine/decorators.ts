/**
 * Decorators for ReplicatedStateMachine subclasses. They only record metadata
 * on the class; buildDispatchTable() reads it once, at start-up, and throws a
 * named error for anything missing or duplicated (NestJS CQRS, TypeORM).
 *
 * Each decorator works in both of TypeScript's modes, with the same records
 * and therefore the same dispatch table and the same errors:
 * - standard (TC39) decorators, TypeScript ≥ 5.2 without flags: a decorator
 *   gets `(value, context)`, and records into `context.metadata`, the object
 *   TypeScript then stores on the class as `Class[Symbol.metadata]`;
 * - `experimentalDecorators`: a decorator gets `(target, key, descriptor)`
 *   (a class decorator, the constructor), and records into a static,
 *   symbol-keyed, non-enumerable property of the constructor.
 * Either way a class owns its own record: a subclass gets its own, and the
 * dispatch table walks the prototype chain, so handlers declared by a parent
 * (or a grandparent) stay registered in every subclass.
 */
import { ConfigError } from '../errors';
import type { NodeId, Role } from '../protocol/types';
import type { CommandOptions } from './args';
import type { ReplicatedStateMachine } from './machine';

/** What one member decorator declares about a method. */
export type MemberKind = 'command' | 'query' | 'validate' | 'onRoleChange' | 'onApplied' | 'tick';

/** One decorated method, as recorded on its class. */
export interface MemberRecord {
  readonly kind: MemberKind;
  /** The method's property key on the prototype (`#name` for a private one, `[Symbol(…)]` for a symbol). */
  readonly key: string;
  /** The handler name for commands and queries, the validated command for validators, '' for hooks. */
  readonly name: string;
  /**
   * Why the decorated member cannot be dispatched to ('is static', 'is private',
   * 'is a getter, not a method' …), or undefined for an instance method with a
   * string key. Type errors in TypeScript; JavaScript callers can get there.
   */
  readonly misplaced?: string;
  /** A command's argument checks, as `@Command` declared them. */
  readonly options?: Pick<CommandOptions, 'args' | 'minArgs'>;
  /** A tick's period, as `@Tick` declared it (checked by buildDispatchTable). */
  readonly everyMs?: number;
}

/** Everything the decorators recorded on one class (not its parents). */
export interface MachineMetadata {
  /** Every name `@StateMachine` was applied with on this class (more than one is an error). */
  readonly names: string[];
  /** Member records in the order the decorators ran. */
  readonly members: MemberRecord[];
}

/**
 * A method decorator in both TypeScript modes: standard decorators (TS ≥ 5.2)
 * call it with `(method, context)`, `experimentalDecorators` with
 * `(prototype, key, descriptor)`. `M` is the method signature it accepts.
 */
export interface MachineMethodDecorator<M extends Method> {
  <This extends ReplicatedStateMachine, T extends M>(
    method: T,
    context: ClassMethodDecoratorContext<This, T & AnyMethod<This>>,
  ): void;
  <T extends M>(target: ReplicatedStateMachine, key: string, descriptor: TypedPropertyDescriptor<T>): void;
}

/**
 * A class decorator in both TypeScript modes: standard decorators call it
 * with `(class, context)`, `experimentalDecorators` with the class alone.
 */
export interface MachineClassDecorator {
  <C extends MachineClass>(value: C, context: ClassDecoratorContext<C>): void;
  (ctor: MachineClass): void;
}

type MachineClass = abstract new (...args: never[]) => ReplicatedStateMachine;
type Method = (...args: never[]) => unknown;
// The bound ClassMethodDecoratorContext puts on its method type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethod<This> = (this: This, ...args: any) => any;
type Metadata = Record<PropertyKey, unknown>;

// One key in every copy of this module (a CommonJS and an ESM copy in one process read each other's records).
const METADATA: unique symbol = Symbol.for('raftline.state-machine') as typeof METADATA;

/**
 * Standard decorators share a per-class object, `context.metadata`, that
 * TypeScript creates only when `Symbol.metadata` exists as the class is
 * defined; Node 20 and 22 do not define it yet. Every class decorated with
 * these decorators imports this module first, so defining it here, once,
 * is enough. It is the symbol esbuild and Babel fall back to when the
 * runtime has none, so classes they compile share it too; a symbol the
 * runtime or an earlier polyfill defined is kept.
 */
function ensureSymbolMetadata(): symbol {
  const ctor = Symbol as unknown as { metadata?: symbol };
  if (typeof ctor.metadata !== 'symbol') {
    Object.defineProperty(Symbol, 'metadata', {
      value: Symbol.for('Symbol.metadata'),
      writable: false,
      enumerable: false,
      configurable: true,
    });
  }
  return ctor.metadata as symbol;
}
const SYMBOL_METADATA = ensureSymbolMetadata();

function ownRecord(holder: object): MachineMetadata | undefined {
  return Object.hasOwn(holder, METADATA) ? (holder as { [METADATA]: MachineMetadata })[METADATA] : undefined;
}

/** The record standard decorators left in ctor's own Symbol.metadata object, if any. */
function standardRecord(ctor: object): MachineMetadata | undefined {
  const symbols = new Set([SYMBOL_METADATA, (Symbol as unknown as { metadata?: symbol }).metadata]);
  for (const symbol of symbols) {
    if (symbol === undefined || !Object.hasOwn(ctor, symbol)) continue;
    const bag = (ctor as Metadata)[symbol];
    const record = typeof bag === 'object' && bag !== null ? ownRecord(bag) : undefined;
    if (record) return record;
  }
  return undefined;
}

/**
 * Returns the metadata recorded on exactly this constructor (not inherited
 * from a parent), by decorators of either mode, or undefined when none ran on it.
 */
export function ownMetadata(ctor: object): MachineMetadata | undefined {
  const legacy = ownRecord(ctor);
  const standard = standardRecord(ctor);
  if (!legacy || !standard) return legacy ?? standard;
  return { names: [...standard.names, ...legacy.names], members: [...standard.members, ...legacy.members] };
}

/** The record kept on holder (a constructor, or a standard decorator's metadata object), created on first use. */
function recordOn(holder: object): MachineMetadata {
  const existing = ownRecord(holder);
  if (existing) return existing;
  const created: MachineMetadata = { names: [], members: [] };
  Object.defineProperty(holder, METADATA, { value: created, enumerable: false, writable: false });
  return created;
}

/** A standard decorator's context, as opposed to experimentalDecorators' property key. */
interface StandardContext {
  readonly kind: string;
  readonly name: string | symbol | undefined;
  readonly static?: boolean;
  readonly private?: boolean;
  readonly metadata?: unknown;
}

function isStandardContext(value: unknown): value is StandardContext {
  return (
    typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string'
  );
}

function keyText(key: string | symbol): string {
  return typeof key === 'symbol' ? `[${String(key)}]` : key;
}

/** The metadata object of a standard decorator's class, or ConfigError when the compiler gave none. */
function contextMetadata(context: StandardContext, decorator: string): object {
  const { metadata } = context;
  if (typeof metadata === 'object' && metadata !== null) return metadata;
  const on = context.kind === 'class' ? `class ${String(context.name)}` : `${keyText(context.name ?? '')}()`;
  throw new ConfigError([
    `${decorator} on ${on}: context.metadata is ${String(metadata)}; standard decorators need a compiler ` +
      'that supports decorator metadata (TypeScript ≥ 5.2), or compile with experimentalDecorators',
  ]);
}

type Naming = (key: string) => string;

/**
 * The decorator a member decorator factory returns: it tells the two modes
 * apart by its arguments and records the same MemberRecord in both.
 */
function memberDecorator(
  decorator: string,
  kind: MemberKind,
  naming: Naming,
  options?: MemberRecord['options'],
  everyMs?: number,
): (first: unknown, second: unknown) => void {
  const record = (key: string, misplaced: string | undefined): MemberRecord => ({
    kind,
    key,
    name: naming(key),
    ...(misplaced ? { misplaced } : {}),
    ...(options ? { options } : {}),
    ...(kind === 'tick' ? { everyMs } : {}),
  });
  return (first, second) => {
    if (isStandardContext(second)) {
      const key = keyText(second.name ?? '');
      const misplaced =
        second.kind !== 'method'
          ? `is a ${second.kind}, not a method`
          : second.static
            ? 'is static'
            : second.private
              ? 'is private (dispatch calls a handler by its name)'
              : typeof second.name === 'symbol'
                ? 'has a symbol key (dispatch calls a handler by its name)'
                : undefined;
      recordOn(contextMetadata(second, decorator)).members.push(record(key, misplaced));
      return;
    }
    // experimentalDecorators: a static method's target is the constructor itself.
    const target = first as object;
    const isStatic = typeof target === 'function';
    const key = second as string | symbol;
    const misplaced = isStatic
      ? 'is static'
      : typeof key === 'symbol'
        ? 'has a symbol key (dispatch calls a handler by its name)'
        : undefined;
    recordOn(isStatic ? target : target.constructor).members.push(record(keyText(key), misplaced));
  };
}

/**
 * Marks a class as a replicated state machine called `name`. Required on
 * every class handed to a MachineHost, subclasses included (each subclass is
 * its own machine and names itself; it inherits its parents' handlers).
 * @returns a class decorator (either TypeScript mode) that only records the name
 * @throws ConfigError, as the class is defined, when a standard decorator
 *   gets no decorator metadata (a compiler older than TypeScript 5.2)
 */
export function StateMachine(name: string): MachineClassDecorator {
  return ((value: object, context?: unknown): void => {
    const holder = isStandardContext(context) ? contextMetadata(context, '@StateMachine') : value;
    recordOn(holder).names.push(name);
  }) as MachineClassDecorator;
}

/**
 * Marks a method as the handler of a replicated command. The handler runs on
 * every replica, in log order, and must be deterministic (see
 * ReplicatedStateMachine). Its return value is the command's result.
 *
 * Before a command is replicated, MachineHost.validate() checks its
 * arguments and refuses bad ones with CommandRejectedError naming the
 * argument (`args[1] (by): …`):
 * - arity, derived from the handler's parameter list: more arguments than it
 *   declares are refused (unless it has a rest parameter or reads
 *   `arguments`); fewer than `minArgs` (default 0) are refused. Optional and
 *   defaulted parameters count as declared, so callers may leave them out.
 * - `args`, a Standard Schema (https://standardschema.dev: zod ≥ 3.24,
 *   valibot ≥ 1, arktype, or any object with `~standard.validate`): either one
 *   schema per argument, `@Command({ args: [z.string(), z.number().int()] })`
 *   (then the array's length is the most arguments accepted, and a missing
 *   argument is validated as undefined), or one schema of the whole array,
 *   `@Command({ args: z.tuple([z.string(), z.number()]) })`.
 * A schema only checks: the handler receives the arguments as sent, never a
 * schema's transformed output. Schemas must validate synchronously: one whose
 * validate() always returns a Promise is refused when the MachineHost is
 * built (ConfigError), and a command whose validation turns asynchronous
 * (an async refinement) is refused with CommandRejectedError.
 * @param nameOrOptions the command name clients send (default: the method
 *   name), or the options, name included
 * @param options the options, when the first argument is the name
 * @returns a method decorator (either TypeScript mode) that only records the handler
 * @throws ConfigError, as the class is defined, when a standard decorator
 *   gets no decorator metadata (a compiler older than TypeScript 5.2)
 */
export function Command(
  nameOrOptions?: string | CommandOptions,
  options: CommandOptions = {},
): MachineMethodDecorator<Method> {
  const o: CommandOptions =
    typeof nameOrOptions === 'object'
      ? nameOrOptions
      : { ...options, ...(nameOrOptions !== undefined ? { name: nameOrOptions } : {}) };
  const checks =
    o.args !== undefined || o.minArgs !== undefined ? { args: o.args, minArgs: o.minArgs } : undefined;
  return memberDecorator(
    '@Command',
    'command',
    (key) => o.name ?? key,
    checks,
  ) as MachineMethodDecorator<Method>;
}

/**
 * Marks a method as a read-only query, served from local state without
 * going through the log. It must not mutate the machine.
 * @param name the query name clients send; defaults to the method name
 * @returns a method decorator (either TypeScript mode) that only records the handler
 * @throws ConfigError as `@Command` does
 */
export function Query(name?: string): MachineMethodDecorator<Method> {
  return memberDecorator('@Query', 'query', (key) => name ?? key) as MachineMethodDecorator<Method>;
}

/**
 * Marks a method as the validator of `commandName`, run before the command
 * is replicated (Ratis: reject bad input at the door). It gets the
 * command's arguments; it rejects by throwing or by returning a reason
 * string, and accepts by returning undefined. RaftNode runs it only on the
 * leader, once that leader has applied an entry of its own term (a
 * follower redirects with NotLeaderError and validates nothing), so the
 * state it reads holds every command acknowledged before this one was
 * proposed: validation is linearizable. Commands proposed earlier and not
 * yet applied still come first, so apply() must cope with input that
 * became invalid after validation.
 * @returns a method decorator (either TypeScript mode) that only records the validator
 * @throws ConfigError as `@Command` does
 */
export function Validate(
  commandName: string,
): MachineMethodDecorator<(...args: never[]) => string | void | undefined> {
  return memberDecorator('@Validate', 'validate', () => commandName) as MachineMethodDecorator<
    (...args: never[]) => string | void | undefined
  >;
}

/**
 * Marks a method to be called with (role, leaderId, term) whenever this
 * node's role or known leader changes. Local, not replicated: it must not
 * change replicated state.
 * @returns a method decorator (either TypeScript mode) that only records the hook
 * @throws ConfigError as `@Command` does
 */
export function OnRoleChange(): MachineMethodDecorator<(role: Role, leaderId: NodeId, term: number) => void> {
  return memberDecorator('@OnRoleChange', 'onRoleChange', () => '') as MachineMethodDecorator<
    (role: Role, leaderId: NodeId, term: number) => void
  >;
}

/**
 * Marks a method to be called with the log index after each applied command
 * (whatever its outcome). It runs outside the handler's context and must
 * not throw: an exception propagates out of apply().
 * @returns a method decorator (either TypeScript mode) that only records the hook
 * @throws ConfigError as `@Command` does
 */
export function OnApplied(): MachineMethodDecorator<(index: number) => void> {
  return memberDecorator('@OnApplied', 'onApplied', () => '') as MachineMethodDecorator<
    (index: number) => void
  >;
}

/** Options of `@Tick`. */
export interface TickOptions {
  /** How often the leader proposes the command, in ms of its clock: a positive integer. */
  readonly everyMs: number;
  /** The command's name (default: the method name). */
  readonly name?: string;
}

/**
 * Marks a method taking no arguments as a periodic command: a `@Command` (of
 * `name`, default the method name) that the leader proposes itself every
 * `everyMs` while it leads, so that what depends on time (leases that
 * expire, delayed jobs that become due) moves even when no client sends a
 * command. A tick is proposed like any command: it enters the log, applies
 * in log order on every replica with this.context set (its time is the
 * leader's clock when it proposed, replicated), shows on the committed
 * stream, and clients may send it too. Only a leader proposes ticks, never
 * a follower; a tick whose previous proposal has not yet applied (or
 * failed) is skipped; a new leader starts its own ticks everyMs after it
 * was elected. What a tick handler throws fails that tick like any command
 * (the leader logs it) and the next tick runs as usual. A machine that
 * declares no `@Tick` gets no timer. Put one `@Tick`, and no `@Command`, on a method.
 * @returns a method decorator (either TypeScript mode) that only records the command and its period
 * @throws ConfigError as `@Command` does; buildDispatchTable throws ConfigError
 *   when everyMs is not a positive integer or the method declares parameters
 */
export function Tick(options: TickOptions): MachineMethodDecorator<() => unknown> {
  const o = options as TickOptions | undefined; // JavaScript callers may pass nothing
  const naming = (key: string): string => o?.name ?? key;
  const asCommand = memberDecorator('@Tick', 'command', naming);
  const asTick = memberDecorator('@Tick', 'tick', naming, undefined, o?.everyMs);
  return ((first: unknown, second: unknown) => {
    asCommand(first, second);
    asTick(first, second);
  }) as MachineMethodDecorator<() => unknown>;
}
