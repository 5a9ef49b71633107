/**
 * Decorators for ReplicatedStateMachine subclasses. They only record metadata
 * on the class; buildDispatchTable() reads it once, at start-up, and throws a
 * named error for anything missing or duplicated (NestJS CQRS, TypeORM).
 *
 * The record is a static, symbol-keyed, non-enumerable property owned by each
 * decorated constructor. A subclass gets its own record; the dispatch table
 * walks the prototype chain, so handlers declared by a parent (or a
 * grandparent) stay registered in every subclass.
 */
import type { NodeId, Role } from '../protocol/types';
import type { CommandOptions } from './args';
import type { ReplicatedStateMachine } from './machine';

/** What one member decorator declares about a method. */
export type MemberKind = 'command' | 'query' | 'validate' | 'onRoleChange' | 'onApplied';

/** One decorated method, as recorded on its class. */
export interface MemberRecord {
  readonly kind: MemberKind;
  /** The method's property key on the prototype. */
  readonly key: string;
  /** The handler name for commands and queries, the validated command for validators, '' for hooks. */
  readonly name: string;
  /** True when the decorator was applied to a static method (a type error in TypeScript). */
  readonly isStatic: boolean;
  /** A command's argument checks, as @Command declared them. */
  readonly options?: Pick<CommandOptions, 'args' | 'minArgs'>;
}

/** Everything the decorators recorded on one class (not its parents). */
export interface MachineMetadata {
  /** Every name @StateMachine was applied with on this class (more than one is an error). */
  readonly names: string[];
  /** Member records in the order the decorators ran. */
  readonly members: MemberRecord[];
}

const METADATA: unique symbol = Symbol('raftline.state-machine');

type MachineClass = abstract new (...args: never[]) => ReplicatedStateMachine;
type Method = (...args: never[]) => unknown;

/**
 * Returns the metadata recorded on exactly this constructor (not inherited
 * from a parent), or undefined when no decorator ran on it.
 */
export function ownMetadata(ctor: object): MachineMetadata | undefined {
  return Object.hasOwn(ctor, METADATA) ? (ctor as { [METADATA]: MachineMetadata })[METADATA] : undefined;
}

function metadataFor(ctor: object): MachineMetadata {
  const existing = ownMetadata(ctor);
  if (existing) return existing;
  const created: MachineMetadata = { names: [], members: [] };
  Object.defineProperty(ctor, METADATA, { value: created, enumerable: false, writable: false });
  return created;
}

function recordMember(
  target: object,
  kind: MemberKind,
  key: string,
  name: string,
  options?: MemberRecord['options'],
): void {
  // A static method's target is the constructor itself (JavaScript callers can get there).
  const isStatic = typeof target === 'function';
  const record: MemberRecord = { kind, key, name, isStatic, ...(options ? { options } : {}) };
  metadataFor(isStatic ? target : target.constructor).members.push(record);
}

/**
 * Marks a class as a replicated state machine called `name`. Required on
 * every class handed to a MachineHost, subclasses included (each subclass is
 * its own machine and names itself; it inherits its parents' handlers).
 * @returns a class decorator that only records the name
 */
export function StateMachine(name: string) {
  return (ctor: MachineClass): void => {
    metadataFor(ctor).names.push(name);
  };
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
 * @returns a method decorator that only records the handler
 */
export function Command(nameOrOptions?: string | CommandOptions, options: CommandOptions = {}) {
  const o: CommandOptions =
    typeof nameOrOptions === 'object'
      ? nameOrOptions
      : { ...options, ...(nameOrOptions !== undefined ? { name: nameOrOptions } : {}) };
  const checks =
    o.args !== undefined || o.minArgs !== undefined ? { args: o.args, minArgs: o.minArgs } : undefined;
  return <T extends Method>(
    target: ReplicatedStateMachine,
    key: string,
    _d: TypedPropertyDescriptor<T>,
  ): void => recordMember(target, 'command', key, o.name ?? key, checks);
}

/**
 * Marks a method as a read-only query, served from local state without
 * going through the log. It must not mutate the machine.
 * @param name the query name clients send; defaults to the method name
 * @returns a method decorator that only records the handler
 */
export function Query(name?: string) {
  return <T extends Method>(
    target: ReplicatedStateMachine,
    key: string,
    _d: TypedPropertyDescriptor<T>,
  ): void => recordMember(target, 'query', key, name ?? key);
}

/**
 * Marks a method as the validator of `commandName`, run on the receiving
 * node before the command is replicated (Ratis: reject bad input at the
 * door). It gets the command's arguments; it rejects by throwing or by
 * returning a reason string, and accepts by returning undefined. It reads
 * local state, which may lag the log: apply() must still cope with input
 * that became invalid after validation.
 * @returns a method decorator that only records the validator
 */
export function Validate(commandName: string) {
  return <T extends (...args: never[]) => string | void | undefined>(
    target: ReplicatedStateMachine,
    key: string,
    _d: TypedPropertyDescriptor<T>,
  ): void => recordMember(target, 'validate', key, commandName);
}

/**
 * Marks a method to be called with (role, leaderId, term) whenever this
 * node's role or known leader changes. Local, not replicated: it must not
 * change replicated state.
 * @returns a method decorator that only records the hook
 */
export function OnRoleChange() {
  return <T extends (role: Role, leaderId: NodeId, term: number) => void>(
    target: ReplicatedStateMachine,
    key: string,
    _d: TypedPropertyDescriptor<T>,
  ): void => recordMember(target, 'onRoleChange', key, '');
}

/**
 * Marks a method to be called with the log index after each applied command
 * (whatever its outcome). It runs outside the handler's context and must
 * not throw: an exception propagates out of apply().
 * @returns a method decorator that only records the hook
 */
export function OnApplied() {
  return <T extends (index: number) => void>(
    target: ReplicatedStateMachine,
    key: string,
    _d: TypedPropertyDescriptor<T>,
  ): void => recordMember(target, 'onApplied', key, '');
}
