import { ConfigError, DuplicateHandlerError, MissingHandlerError } from '../errors';
import { argsRule, type ArgsRule } from './args';
import { ownMetadata, type MemberKind, type MemberRecord } from './decorators';

/** Where a state machine's handlers live: names to method keys, read once from the decorators. */
export interface DispatchTable {
  /** The name given to `@StateMachine`. */
  readonly name: string;
  /** Command name → method key. */
  readonly commands: ReadonlyMap<string, string>;
  /** Query name → method key. */
  readonly queries: ReadonlyMap<string, string>;
  /** Command name → method key of its validator. */
  readonly validators: ReadonlyMap<string, string>;
  /** Command name → its argument checks (arity from the handler, the `@Command` schema). */
  readonly args: ReadonlyMap<string, ArgsRule>;
  /** Lifecycle hooks' method keys, parents' first. */
  readonly hooks: { readonly onRoleChange: readonly string[]; readonly onApplied: readonly string[] };
  /** Command name → period in ms of each `@Tick`, which the leader proposes (see Tick). */
  readonly ticks: ReadonlyMap<string, number>;
}

/** A member record with the class that declared it, for messages. */
interface Declared extends MemberRecord {
  readonly owner: string;
}

/** Constructors from the most basic to `ctor` itself. */
function lineage(ctor: object): object[] {
  const chain: object[] = [];
  for (
    let c: object | null = ctor;
    c && c !== Function.prototype;
    c = Object.getPrototypeOf(c) as object | null
  ) {
    chain.unshift(c);
  }
  return chain;
}

function className(ctor: object): string {
  return (ctor as { name?: string }).name || '<anonymous class>';
}

const show = (m: Declared): string => `${m.owner}.${m.key}()`;

/**
 * Every member record in effect for ctor. A class that re-decorates a method
 * its parent decorated (same key, same kind) replaces the parent's records
 * for it; an undecorated override keeps them (the call reaches the override).
 */
function effectiveMembers(ctor: object): Declared[] {
  const byMember = new Map<string, Declared[]>();
  for (const level of lineage(ctor)) {
    const meta = ownMetadata(level);
    if (!meta) continue;
    const owner = className(level);
    const replaced = new Set<string>();
    for (const record of meta.members) {
      const id = `${record.kind}:${record.key}`;
      if (!replaced.has(id)) byMember.set(id, []);
      replaced.add(id);
      const list = byMember.get(id) ?? [];
      if (!list.some((m) => m.name === record.name)) list.push({ ...record, owner });
      byMember.set(id, list);
    }
  }
  return [...byMember.values()].flat();
}

function ofKind(members: readonly Declared[], kind: MemberKind): Declared[] {
  return members.filter((m) => m.kind === kind);
}

/** name → member, throwing DuplicateHandlerError when two methods claim one name. */
function byName(cls: string, members: readonly Declared[], what: string): Map<string, Declared> {
  const out = new Map<string, Declared>();
  for (const m of members) {
    const prior = out.get(m.name);
    if (prior && prior.key !== m.key) {
      throw new DuplicateHandlerError(
        `${cls}: ${what} "${m.name}" is declared by both ${show(prior)} and ${show(m)}`,
      );
    }
    out.set(m.name, m);
  }
  return out;
}

function keys(members: ReadonlyMap<string, Declared>): Map<string, string> {
  return new Map([...members].map(([name, m]) => [name, m.key]));
}

/** The value of a method key on ctor's prototype chain, read without running a getter. */
function methodOf(ctor: object, key: string): unknown {
  const proto = (ctor as { prototype?: object }).prototype;
  for (let p: object | null = proto ?? null; p; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d) return d.value;
  }
  return undefined;
}

function hookKeys(members: readonly Declared[], kind: MemberKind): string[] {
  return [...new Set(ofKind(members, kind).map((m) => m.key))];
}

function machineName(ctor: object, cls: string): string {
  const names = ownMetadata(ctor)?.names ?? [];
  const [name] = names;
  if (names.length > 1) {
    throw new DuplicateHandlerError(
      `${cls}: @StateMachine is applied ${names.length} times (${names.join(', ')})`,
    );
  }
  if (!name) {
    const inherited = lineage(ctor).some((c) => c !== ctor && ownMetadata(c)?.names.length);
    throw new MissingHandlerError(
      `${cls} lacks @StateMachine(name)` +
        (inherited ? ': each subclass must name itself, even when its parent is decorated' : ''),
    );
  }
  return name;
}

/**
 * Reads the decorators' metadata of a state-machine class (its own and its
 * parents') into a dispatch table. Pure: it reads nothing but the metadata
 * and changes nothing.
 * @returns the class's dispatch table
 * @throws MissingHandlerError when the class lacks `@StateMachine` (or has an
 *   empty name), declares no `@Command`, has a `@Validate` naming no command, or
 *   has a decorated member that is not an instance method with a string key
 *   (static, private, symbol-keyed, a getter or a field)
 * @throws DuplicateHandlerError when two methods declare one command, one
 *   query or one command's validator, when a name is both a command and a
 *   query, or when `@StateMachine` is applied twice to the class
 * @throws ConfigError when a `@Command`'s args is not a Standard Schema (or an
 *   array of them) or its minArgs is out of range, or a `@Tick`'s everyMs is
 *   not a positive integer or its method declares parameters
 */
export function buildDispatchTable(ctor: abstract new (...args: never[]) => unknown): DispatchTable {
  const cls = className(ctor);
  const name = machineName(ctor, cls);
  const members = effectiveMembers(ctor);
  const misplaced = members.find((m) => m.misplaced !== undefined);
  if (misplaced) {
    throw new MissingHandlerError(
      `${cls}: ${misplaced.owner}.${misplaced.key}() ${misplaced.misplaced}; decorated handlers and hooks must be instance methods`,
    );
  }
  const commands = byName(cls, ofKind(members, 'command'), 'command');
  const queries = byName(cls, ofKind(members, 'query'), 'query');
  const validators = byName(cls, ofKind(members, 'validate'), 'validator of command');
  if (commands.size === 0) {
    throw new MissingHandlerError(`${cls} (state machine "${name}") declares no @Command handler`);
  }
  for (const [queryName, query] of queries) {
    const command = commands.get(queryName);
    if (command) {
      throw new DuplicateHandlerError(
        `${cls}: "${queryName}" is both a command (${show(command)}) and a query (${show(query)})`,
      );
    }
  }
  for (const [commandName, validator] of validators) {
    if (!commands.has(commandName)) {
      throw new MissingHandlerError(
        `${cls}: @Validate("${commandName}") on ${show(validator)} names no @Command; ` +
          `commands are: ${[...commands.keys()].join(', ')}`,
      );
    }
  }
  const args = new Map<string, ArgsRule>();
  for (const [commandName, m] of commands) {
    args.set(commandName, argsRule(`${cls}.${m.key}()`, methodOf(ctor, m.key), m.options));
  }
  const ticks = tickPeriods(ctor, ofKind(members, 'tick'));
  return {
    name,
    commands: keys(commands),
    queries: keys(queries),
    validators: keys(validators),
    args,
    hooks: { onRoleChange: hookKeys(members, 'onRoleChange'), onApplied: hookKeys(members, 'onApplied') },
    ticks,
  };
}

/**
 * The period of each `@Tick`, by command name.
 * @throws ConfigError naming every tick whose everyMs is not a positive
 *   integer or whose method declares parameters (the leader proposes it with none)
 */
function tickPeriods(ctor: object, ticks: readonly Declared[]): Map<string, number> {
  const problems: string[] = [];
  const out = new Map<string, number>();
  for (const t of ticks) {
    const where = `${t.owner}.${t.key}(): @Tick`;
    const { everyMs } = t;
    if (typeof everyMs !== 'number' || !Number.isSafeInteger(everyMs) || everyMs < 1) {
      problems.push(`${where} everyMs (${String(everyMs)}) must be a positive integer of milliseconds`);
    }
    const method = methodOf(ctor, t.key);
    const declared = typeof method === 'function' ? method.length : 0;
    if (declared > 0) {
      problems.push(`${where} command ${t.name} must take no arguments (it declares ${declared})`);
    }
    out.set(t.name, everyMs as number);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}
