/**
 * The pieces one incarnation of a simulated node is assembled from. A crash
 * kills the incarnation at once: its timers are cancelled and never fire
 * again, its transport neither sends nor receives, and a store write it
 * attempts never completes (so nothing it does after the crash becomes
 * durable). The durable stores themselves outlive it.
 */
import {
  encodeCommand,
  type Applier,
  type Cancel,
  type Clock,
  type CommandRequest,
  type Entry,
  type HardState,
  type Logger,
  type LogStore,
  type NodeId,
  type StableStore,
} from '@raftline/core';
import type { SafetyMonitor } from './safety';

/** Liveness of one incarnation, and the timers it holds. */
export interface Life {
  dead: boolean;
  readonly timers: Set<Cancel>;
  /** Called once, when the incarnation dies. */
  readonly onDeath: Set<() => void>;
}

/** A new, living incarnation. */
export function newLife(): Life {
  return { dead: false, timers: new Set(), onDeath: new Set() };
}

/** Marks the incarnation dead and cancels every timer it holds. */
export function kill(life: Life): void {
  if (life.dead) return;
  life.dead = true;
  for (const cancel of life.timers) cancel();
  life.timers.clear();
  const callbacks = [...life.onDeath];
  life.onDeath.clear();
  for (const f of callbacks) f();
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A Clock whose timers belong to one incarnation: they die with it. */
export function incarnationClock(clock: Clock, life: Life): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => {
      if (life.dead) return () => {};
      const cancel = clock.setTimeout(() => {
        life.timers.delete(cancel);
        if (!life.dead) fn();
      }, ms);
      life.timers.add(cancel);
      return () => {
        cancel();
        life.timers.delete(cancel);
      };
    },
  };
}

/**
 * How one incarnation writes: each write takes delay() ms of virtual time on
 * the incarnation's clock (0: at once) and becomes durable all at once at the
 * end. A write that has not completed when the incarnation dies never does.
 */
export function writer(
  life: Life,
  clock: Clock,
  delay: () => number,
): <T>(write: () => Promise<T>) => Promise<T> {
  return async <T>(write: () => Promise<T>): Promise<T> => {
    const ms = life.dead ? 0 : delay();
    if (ms > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    return life.dead ? never<T>() : write();
  };
}

/** A view of store for one incarnation, writing through `write` (see writer()). */
export function incarnationLogStore(store: LogStore, write: ReturnType<typeof writer>): LogStore {
  return {
    append: (entries: readonly Entry[]) => write(() => store.append(entries)),
    entries: (lo, hi) => store.entries(lo, hi),
    firstIndex: () => store.firstIndex(),
    lastIndex: () => store.lastIndex(),
    truncateSuffix: (from) => write(() => store.truncateSuffix(from)),
    compactPrefix: (upTo) => write(() => store.compactPrefix(upTo)),
    close: async () => {}, // the simulation owns the store across incarnations
  };
}

/** A view of store for one incarnation, writing through `write` (see writer()). */
export function incarnationStableStore(store: StableStore, write: ReturnType<typeof writer>): StableStore {
  return {
    load: () => store.load(),
    save: (state: HardState) => write(() => store.save(state)),
    close: async () => {},
  };
}

/** What one node has applied, across all its incarnations. */
export interface AppliedRecord {
  readonly commands: Map<number, CommandRequest>;
  /** index → term and encoded command, to compare re-applications after a restart. */
  readonly keys: Map<number, string>;
}

function describeCommand(c: CommandRequest): string {
  const args = JSON.stringify(c.args) ?? '[]';
  return `${c.name}(${args.slice(1, -1)})`;
}

/**
 * An Applier in front of the real one that records every applied command
 * (into `record` and the monitor) and reports leadership to the monitor.
 */
export function recordingApplier(
  id: NodeId,
  inner: Applier,
  life: Life,
  record: AppliedRecord,
  monitor: SafetyMonitor,
  leaderLog: () => Parameters<SafetyMonitor['leaderElected']>[2],
): Applier {
  return {
    validate: (request) => inner.validate(request),
    apply: (command, ctx) => {
      if (!life.dead) {
        const key = `${ctx.term}:${Buffer.from(encodeCommand(command)).toString('base64')}`;
        const request: CommandRequest = command.session
          ? { name: command.name, args: command.args, session: command.session }
          : { name: command.name, args: command.args };
        const what = describeCommand(request);
        const before = record.keys.get(ctx.index);
        if (before !== undefined && before !== key) {
          const was = record.commands.get(ctx.index);
          monitor.fail(
            'state-machine safety',
            `${id} applied ${was ? describeCommand(was) : '?'} at index ${ctx.index}, then ${what} there after a restart`,
          );
        }
        record.keys.set(ctx.index, key);
        record.commands.set(ctx.index, request);
        monitor.applied(id, ctx.index, ctx.term, key, what);
      }
      return inner.apply(command, ctx);
    },
    query: (name, args) => inner.query(name, args),
    snapshot: () => inner.snapshot(),
    restore: (data) => inner.restore(data),
    onRoleChange: (role, leaderId, term) => {
      if (!life.dead && role === 'leader') monitor.leaderElected(id, term, leaderLog());
      inner.onRoleChange?.(role, leaderId, term);
    },
  };
}

function describeLog(obj: object): string {
  const err = (obj as { err?: unknown }).err;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return JSON.stringify(obj);
  } catch {
    return String(obj);
  }
}

/**
 * A Logger that reports every warning and error of a live incarnation to the
 * monitor as a 'node health' violation (a correct node in the simulation has
 * nothing to warn about), and forwards everything to `forward` if given.
 */
export function healthLogger(id: NodeId, life: Life, monitor: SafetyMonitor, forward?: Logger): Logger {
  const report = (obj: object, msg?: string): void => {
    if (!life.dead) monitor.fail('node health', `${id}: ${msg ?? 'error'} (${describeLog(obj)})`);
  };
  return {
    debug: (obj, msg) => forward?.debug(obj, msg),
    info: (obj, msg) => forward?.info(obj, msg),
    warn: (obj, msg) => {
      report(obj, msg);
      forward?.warn(obj, msg);
    },
    error: (obj, msg) => {
      report(obj, msg);
      forward?.error(obj, msg);
    },
  };
}
