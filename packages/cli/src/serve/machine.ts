/**
 * Finds the state machine a group runs: a service name resolves to its
 * package (@raftline/task-queue, …), loaded at run time; a module path to
 * the module's ReplicatedStateMachine subclass.
 */
import { ConfigError, ReplicatedStateMachine } from '@raftline/core';
import { SERVICES, type GroupSettings } from '../config/schema';

/** A class a group can instantiate. */
export type MachineClass = new (options?: unknown) => ReplicatedStateMachine;

/**
 * Loads and instantiates the group's machine.
 * @returns a new instance, constructed with the group's `options`
 * @throws ConfigError naming groups.<name>.machine (or .export, .options) when
 *   the package is not installed, the module cannot be loaded, it exports no
 *   machine class or several, or the constructor refuses the options
 */
export function createMachine(group: GroupSettings): ReplicatedStateMachine {
  const Machine = loadMachineClass(group);
  try {
    return new Machine(group.options);
  } catch (err) {
    throw new ConfigError([`groups.${group.name}.options: ${Machine.name} refused them: ${firstLine(err)}`]);
  }
}

/** The class a group's `machine` (and `export`) name; see createMachine for errors. */
export function loadMachineClass(group: GroupSettings): MachineClass {
  const field = `groups.${group.name}.machine`;
  const service = SERVICES[group.machine];
  const spec = service?.package ?? group.machine;
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(spec) as Record<string, unknown>;
  } catch (err) {
    const missing =
      (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && firstLine(err).includes(spec);
    if (service && missing) {
      throw new ConfigError([
        `${field} (${group.machine}): the service package ${spec} is not installed (npm install ${spec})`,
      ]);
    }
    throw new ConfigError([`${field} (${spec}): cannot load the module: ${firstLine(err)}`]);
  }
  const wanted = group.export ?? service?.export;
  if (wanted !== undefined) {
    const value = mod[wanted];
    if (!isMachineClass(value)) {
      const exportField = group.export !== undefined ? `groups.${group.name}.export` : field;
      throw new ConfigError([
        `${exportField} (${wanted}): ${spec} exports no ReplicatedStateMachine subclass named ${wanted}`,
      ]);
    }
    return value;
  }
  const classes = [...new Set(Object.values(mod).filter(isMachineClass))];
  if (classes.length === 1) return classes[0]!;
  if (classes.length === 0) {
    throw new ConfigError([
      `${field} (${spec}): the module exports no ReplicatedStateMachine subclass (exports: ${Object.keys(mod).join(', ') || 'none'})`,
    ]);
  }
  throw new ConfigError([
    `${field} (${spec}): the module exports several machine classes (${classes.map((c) => c.name).join(', ')}); set groups.${group.name}.export`,
  ]);
}

/**
 * Whether value is a class extending ReplicatedStateMachine: this process's
 * copy of @raftline/core, or (a module bundling its own copy) any class of
 * that name up its prototype chain.
 */
export function isMachineClass(value: unknown): value is MachineClass {
  if (typeof value !== 'function' || !value.prototype) return false;
  if (value.prototype instanceof ReplicatedStateMachine) return true;
  for (
    let p = Object.getPrototypeOf(value) as unknown;
    typeof p === 'function';
    p = Object.getPrototypeOf(p)
  ) {
    if ((p as { name?: string }).name === 'ReplicatedStateMachine') return true;
  }
  return false;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
