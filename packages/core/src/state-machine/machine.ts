import { DecodeError } from '../errors';
import type { ApplyContext } from '../node/applier';

/** Where the host puts the context of the command being applied; a symbol, so snapshots never see it. */
const CONTEXT: unique symbol = Symbol('raftline.apply-context');

/**
 * The base class of a replicated state machine. Subclass it, decorate the
 * class with `@StateMachine(name)`, its command handlers with `@Command`, its
 * read-only handlers with `@Query` and, optionally, validators with `@Validate`,
 * periodic commands the leader proposes with `@Tick`, and hooks with
 * `@OnRoleChange` / `@OnApplied`; then hand an instance to a MachineHost. The framework keeps the applied index, client sessions and
 * snapshot bookkeeping: the subclass holds only its own state.
 *
 * Contract of a `@Command` handler (hashicorp/raft FSM.Apply):
 * - deterministic: the same state and the same arguments give the same
 *   result and the same new state on every replica, in every run;
 * - synchronous: a handler returning a Promise fails the command;
 * - no I/O, no Date.now(), no Math.random(), no iteration over anything
 *   whose order is not itself replicated: read time from this.context.time
 *   (the leader's, replicated and non-decreasing) and derive "randomness"
 *   from replicated values (this.context.index, arguments);
 * - validate before you mutate: a handler that throws fails the command with
 *   CommandFailedError on every replica, but what it changed before throwing
 *   stays changed (there is no rollback); what it threw names the failure
 *   (CommandFailedError.errorName: throw `class StaleTokenError extends
 *   Error` and callers, in process or over NATS, can tell it apart);
 * - return plain data: it is the command's result, sent to the client and
 *   kept for exactly-once retries.
 *
 * A `@Query` handler reads local state and must not change it; it may read
 * this.context, which is then the last applied command's (see context).
 *
 * Input is checked before it is replicated, on the leader once it has
 * applied an entry of its own term (a follower redirects the command):
 * the arguments' count against the handler's parameters (and `minArgs`),
 * then the `@Command` `args` schema (any Standard Schema: zod, valibot,
 * arktype), then the `@Validate` hook, which therefore sees every command
 * acknowledged before (linearizable validation; see Validate); a refusal
 * is a CommandRejectedError naming the argument (`args[1] (by): …`) and
 * nothing is replicated. See Command for the rules.
 *
 * State lives in the instance's own fields. The default snapshot takes every
 * own enumerable field, which must hold plain data: primitives, arrays, plain
 * objects, Map, Set, Date, typed arrays (no class instances, functions or
 * cycles). Override snapshotState()/restoreState() for anything else.
 *
 * Optional: a `metrics()` method (the MachineMetrics capability, detected at
 * run time) exposes the machine's own gauges and counters as plain samples;
 * whoever serves the replica (`raftline serve`'s /metrics) reads them at
 * every scrape and adds its `group` and `node` labels. It reads state and
 * changes none, runs between applies (this.context is not available), must
 * be cheap (O(queues), not O(jobs)), and labels names users choose only
 * through boundedLabel(). What it returns is checked as it is read (names,
 * types, labels, MACHINE_METRIC_LIMITS): a fault, or a throw, is a
 * MachineMetricsError. See state-machine/metrics.ts for the whole contract.
 */
export abstract class ReplicatedStateMachine {
  declare private [CONTEXT]: ApplyContext | undefined;

  /**
   * The replicated context, read-only: `{ index, term, time }`.
   * - In a `@Command` handler: the log index and term of the command being
   *   applied, and its time (the leader's stamp, made non-decreasing).
   * - In a `@Query` handler: those of the last command applied ({ index: 0,
   *   term: 0, time: 0 } before any), so a query can compare a lease or a
   *   deadline with replicated time without the machine storing the last
   *   command's time itself. Every replica that applied the same commands
   *   sees the same context; a query on a replica that is behind sees its
   *   older one, as it sees its older state. Time moves only when a command
   *   applies: a group that receives none keeps answering with the same
   *   time (declare a `@Tick` to have the leader propose one periodically).
   * @returns the current context
   * @throws Error when read outside a `@Command` or `@Query` handler (in a
   *   constructor, validator or hook), where no replicated context exists
   */
  protected get context(): ApplyContext {
    const ctx = this[CONTEXT];
    if (!ctx) {
      throw new Error(
        `${this.constructor.name}: this.context is only available while a @Command or @Query handler runs ` +
          '(not in validators, hooks or constructors)',
      );
    }
    return ctx;
  }

  /**
   * Captures the machine's state for a snapshot, as plain data (see the class
   * comment). The default returns an object of the instance's own enumerable
   * fields; it is encoded at once, so it may share references with live state.
   * @returns the state restoreState() will receive back
   */
  snapshotState(): unknown {
    const state: Record<string, unknown> = {};
    for (const key of Object.keys(this)) state[key] = (this as unknown as Record<string, unknown>)[key];
    return state;
  }

  /**
   * What consistency verification hashes of the machine (RaftNode.verify()):
   * every replica hashes it at the same log index, canonically (object keys,
   * Map entries and Set elements in sorted order, so insertion order does
   * not count), and the replicas compare. The default is snapshotState().
   *
   * Override it to leave out what is local and not replicated (a cache, a
   * flag set by an `@OnRoleChange` hook: it would differ between replicas and
   * read as a divergence), or to return something cheaper that still
   * captures all replicated state, e.g. a running hash the handlers keep up
   * to date, provided snapshotState()/restoreState() carry it too: a replica
   * that restored a snapshot must return what one that applied the whole log
   * returns.
   * @returns plain data (see the class comment), hashed at once
   */
  digestState(): unknown {
    return this.snapshotState();
  }

  /**
   * Replaces the machine's state with what snapshotState() returned
   * (decoded: plain objects, arrays, Maps and Sets as they were). The default
   * removes the own enumerable fields the state lacks, then Object.assign()s
   * the state onto the instance.
   * @throws DecodeError when state is not a plain object (the default's format)
   */
  restoreState(state: unknown): void {
    if (typeof state !== 'object' || state === null || Array.isArray(state) || state instanceof Map) {
      throw new DecodeError(`${this.constructor.name}: snapshot state is not an object of fields`);
    }
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(this)) if (!Object.hasOwn(state, key)) delete self[key];
    Object.assign(this, state);
  }
}

/**
 * Runs fn with ctx as machine's context, and restores the one before
 * afterwards whatever happens (a command handler that calls a query method
 * keeps its own). For MachineHost only (not exported from the package).
 * @returns what fn returns
 */
export function withContext<T>(machine: ReplicatedStateMachine, ctx: ApplyContext, fn: () => T): T {
  const holder = machine as unknown as { [CONTEXT]: ApplyContext | undefined };
  const before = holder[CONTEXT];
  holder[CONTEXT] = Object.freeze({ ...ctx });
  try {
    return fn();
  } finally {
    holder[CONTEXT] = before;
  }
}
