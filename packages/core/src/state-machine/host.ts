import { pack, unpack } from '../codec';
import {
  CommandFailedError,
  CommandRejectedError,
  ConfigError,
  DecodeError,
  MissingHandlerError,
  SessionExpiredError,
  UnknownCommandError,
} from '../errors';
import { unknownKeyProblems } from '../known-keys';
import type { ApplyContext, ApplyResult, Applier } from '../node/applier';
import {
  FRAMEWORK_COMMAND_PREFIX,
  type ClientSession,
  type CommandEnvelope,
  type CommandRequest,
} from '../node/command';
import type { TickSpec } from '../node/ticks';
import type { NodeId, Role } from '../protocol/types';
import { argsProblem, schemasOf } from './args';
import { buildDispatchTable, type DispatchTable } from './dispatch';
import { withContext, type ReplicatedStateMachine } from './machine';
import { REGISTER_SESSION, SessionTable, encodeResult, registrationNonce } from './sessions';
import { canonicalDigest } from './digest';
import { decodeTree, encodeTree } from './tree';

/** Options of a MachineHost. */
export interface MachineHostOptions {
  /** A client session idle (by replicated time) for longer than this is dropped. Default: 1 hour. */
  readonly sessionTtlMs?: number;
  /** At most this many client sessions are kept; the least recently used go first. Default: 10 000. */
  readonly maxSessions?: number;
  /**
   * At most this many results one session keeps for commands its client has
   * not acknowledged (Raft thesis §6.3: a client acknowledges with each
   * command). Past it the oldest goes, and a resend of it (or of an older
   * seq) is refused with SessionExpiredError, never applied again. Default:
   * 4096, above what one client connection may have in flight (serveClients'
   * maxInFlightPerClient, 1024).
   */
  readonly maxResultsPerSession?: number;
}

/** The defaults of MachineHostOptions, in one place. */
export const DEFAULT_MACHINE_HOST_OPTIONS: Required<MachineHostOptions> = {
  sessionTtlMs: 60 * 60 * 1000,
  maxSessions: 10_000,
  maxResultsPerSession: 4096,
};

/**
 * Format version of snapshot(): bump when its layout changes (2: session
 * results carry their first index). The last applied command's term was
 * added to version 2 as an optional trailing element: older hosts ignore
 * it, and a snapshot without it restores with term 0.
 */
const SNAPSHOT_VERSION = 2;

/**
 * The scheme digest() names: bump its number when what it hashes, or how,
 * changes, so that replicas of different versions do not compare digests
 * that cannot be equal (see Applier.digest).
 */
const DIGEST_SCHEME = 'c1';

type Invokable = Record<string, (...args: unknown[]) => unknown>;

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The name of what a handler threw (CommandFailedError.errorName): an
 * Error's name, or its class's name when it keeps the `Error` it inherits
 * (`class StaleTokenError extends Error {}`); undefined for a non-Error.
 */
function nameOf(err: unknown): string | undefined {
  if (!(err instanceof Error) || typeof err.name !== 'string') return undefined;
  const cls: unknown = err.constructor?.name;
  return err.name === 'Error' && typeof cls === 'string' && cls !== '' ? cls : err.name;
}

function validOptions(options: MachineHostOptions): Required<MachineHostOptions> {
  const unknown = unknownKeyProblems(options, DEFAULT_MACHINE_HOST_OPTIONS, 'MachineHost options');
  if (unknown.length > 0) throw new ConfigError(unknown);
  const o = { ...DEFAULT_MACHINE_HOST_OPTIONS, ...options };
  const problems: string[] = [];
  if (!(o.sessionTtlMs > 0)) problems.push(`sessionTtlMs (${o.sessionTtlMs}) must be positive`);
  if (!Number.isSafeInteger(o.maxSessions) || o.maxSessions < 1) {
    problems.push(`maxSessions (${o.maxSessions}) must be an integer of at least 1`);
  }
  if (!Number.isSafeInteger(o.maxResultsPerSession) || o.maxResultsPerSession < 1) {
    problems.push(`maxResultsPerSession (${o.maxResultsPerSession}) must be an integer of at least 1`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return o;
}

function sessionProblem(s: ClientSession): string | undefined {
  if (typeof s.clientId !== 'string' || s.clientId === '')
    return 'session.clientId must be a non-empty string';
  if (!Number.isSafeInteger(s.seq) || s.seq < 1)
    return `session.seq (${s.seq}) must be an integer of at least 1`;
  const acked = s.ackedBelow ?? 0;
  if (!Number.isSafeInteger(acked) || acked < 0 || acked > s.seq) {
    return `session.ackedBelow (${acked}) must be an integer from 0 to session.seq (${s.seq})`;
  }
  return undefined;
}

/**
 * Refuses, at start-up, an argument schema whose validate() answers with a
 * Promise (an async function): validate() runs synchronously before replication.
 * A schema that is asynchronous only for some inputs is refused per command.
 * @throws ConfigError naming each such command and argument
 */
function refuseAsyncSchemas(cls: string, table: DispatchTable): void {
  const problems: string[] = [];
  for (const [command, rule] of table.args) {
    for (const [label, schema] of schemasOf(rule)) {
      let probe: unknown;
      try {
        probe = schema['~standard'].validate(label === 'args' ? [] : undefined);
      } catch {
        continue; // a throwing schema is refused per command, like any other failure
      }
      if (probe instanceof Promise) {
        probe.catch(() => undefined);
        problems.push(
          `${cls}: @Command ${command}: the schema of ${label} validates asynchronously; it must be synchronous`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * The framework side of a replicated state machine: the Applier RaftNode
 * drives. It dispatches commands and queries to the machine's decorated
 * handlers, validates before replication, keeps the non-decreasing
 * replicated time, the applied index and the exactly-once client sessions
 * (Raft thesis §6.3), and snapshots all of it together with the machine's
 * own state.
 *
 * Every decision in apply() depends only on the host's state and the entry,
 * so replicas that apply the same log hold equal state. (Their snapshot bytes
 * may still differ in encoding details, e.g. of stored session results.)
 */
export class MachineHost implements Applier {
  /** The machine's dispatch table, built once at construction. */
  readonly table: DispatchTable;
  private readonly options: Required<MachineHostOptions>;
  private sessions: SessionTable;
  private lastTime = 0;
  private lastTerm = 0;
  private applied = 0;

  /**
   * Wraps machine (freshly constructed, or to be restore()d) and builds its dispatch table.
   * @throws MissingHandlerError or DuplicateHandlerError from
   *   buildDispatchTable(), MissingHandlerError when a decorated member is not
   *   a method of the instance, ConfigError for invalid options
   */
  constructor(
    readonly machine: ReplicatedStateMachine,
    options: MachineHostOptions = {},
  ) {
    this.table = buildDispatchTable(machine.constructor as abstract new () => ReplicatedStateMachine);
    this.options = validOptions(options);
    this.sessions = this.newSessionTable();
    const t = this.table;
    const all = [...t.commands.values(), ...t.queries.values(), ...t.validators.values()];
    for (const key of [...all, ...t.hooks.onApplied, ...t.hooks.onRoleChange]) {
      if (typeof this.invokable[key] !== 'function') {
        throw new MissingHandlerError(`${machine.constructor.name}: decorated member ${key} is not a method`);
      }
    }
    refuseAsyncSchemas(machine.constructor.name, this.table);
    const reserved = [...t.commands.keys(), ...t.queries.keys()].filter((n) =>
      n.startsWith(FRAMEWORK_COMMAND_PREFIX),
    );
    if (reserved.length > 0) {
      throw new ConfigError(
        reserved.map(
          (n) => `${machine.constructor.name}: handler name ${n} uses the reserved prefix $raftline.`,
        ),
      );
    }
  }

  /** Index of the last entry applied (0 before any). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Replicated time of the last entry applied, as handlers saw it (non-decreasing). */
  get time(): number {
    return this.lastTime;
  }

  /** Number of live client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  private get invokable(): Invokable {
    return this.machine as unknown as Invokable;
  }

  private call(key: string, args: readonly unknown[]): unknown {
    const fn = this.invokable[key];
    if (!fn) throw new MissingHandlerError(`${this.machine.constructor.name}: ${key} is not a method`);
    return fn.apply(this.machine, args as unknown[]);
  }

  /**
   * Checks a command before it is replicated, synchronously: known name,
   * well-formed arguments and session, the arguments against the command's
   * arity and `@Command` args schema (see Command), then its `@Validate` hook if any.
   * REGISTER_SESSION (the framework's) needs only a well-formed nonce.
   * @throws UnknownCommandError when no `@Command` has that name
   * @throws CommandRejectedError when the request is malformed, its
   *   arguments break the command's rule (the reason names the argument:
   *   `args[1] (by): …`), its schema validated asynchronously, or the
   *   validator throws (the cause) or returns a reason
   */
  validate(request: CommandRequest): void {
    const { name, args, session } = request;
    if (name === REGISTER_SESSION) {
      const checked = registrationNonce(args);
      if ('problem' in checked) throw new CommandRejectedError(name, checked.problem);
      if (session) throw new CommandRejectedError(name, 'a registration carries no session');
      return;
    }
    if (!this.table.commands.has(name)) throw new UnknownCommandError(name, 'command');
    if (!Array.isArray(args)) throw new CommandRejectedError(name, 'args must be an array');
    const problem = session && sessionProblem(session);
    if (problem) throw new CommandRejectedError(name, problem);
    const rule = this.table.args.get(name);
    const argsRefusal = rule && argsProblem(rule, args);
    if (argsRefusal) throw new CommandRejectedError(name, argsRefusal);
    const validator = this.table.validators.get(name);
    if (!validator) return;
    let verdict: unknown;
    try {
      verdict = this.call(validator, args);
    } catch (cause) {
      if (cause instanceof CommandRejectedError) throw cause;
      throw new CommandRejectedError(name, reasonOf(cause), { cause });
    }
    if (typeof verdict === 'string') throw new CommandRejectedError(name, verdict);
  }

  /**
   * Applies one committed command: advances the replicated time, expires
   * idle sessions, answers a retried (clientId, seq) from the session table,
   * or runs the handler with this.context set, then calls `@OnApplied` hooks.
   * REGISTER_SESSION opens a registered session instead, whose id
   * (`$<index>.<nonce>`) is the result.
   * Time is the envelope's (command.time, the leader's stamp in the log),
   * clamped to be non-decreasing; ctx supplies the index and term.
   * @returns { ok: true, value } with the handler's result, or { ok: false }
   *   with CommandFailedError; for a retried (clientId, seq), the first
   *   result with duplicateOf set to the index it was first applied at;
   *   errors are CommandFailedError (the handler threw or returned a Promise, the
   *   session is malformed, or its result is not plain data), UnknownCommandError (no such
   *   command) or SessionExpiredError (the session cannot vouch for this seq:
   *   a registered session it does not hold, at any seq; see REGISTER_SESSION)
   */
  apply(command: CommandEnvelope, ctx: ApplyContext): ApplyResult {
    // The entry's time, clamped so that time never goes back along the log.
    const time = Math.max(this.lastTime, command.time);
    this.lastTime = time;
    this.lastTerm = ctx.term;
    this.applied = ctx.index;
    this.sessions.expire(time);
    const context: ApplyContext = { index: ctx.index, term: ctx.term, time };
    const result =
      command.name === REGISTER_SESSION
        ? this.registerSession(command, context)
        : command.session
          ? this.applySession(command, command.session, context)
          : this.dispatch(command, context);
    for (const key of this.table.hooks.onApplied) this.call(key, [ctx.index]);
    return result;
  }

  /** Opens a registered session (REGISTER_SESSION); its id is the result. Never reaches the machine. */
  private registerSession(command: CommandEnvelope, ctx: ApplyContext): ApplyResult {
    const checked = registrationNonce(command.args);
    if ('problem' in checked)
      return { ok: false, error: new CommandFailedError(command.name, checked.problem) };
    if (command.session) {
      return { ok: false, error: new CommandFailedError(command.name, 'a registration carries no session') };
    }
    const clientId = `$${ctx.index}.${checked.nonce}`;
    this.sessions.register(clientId, ctx.time);
    return { ok: true, value: clientId };
  }

  private applySession(command: CommandEnvelope, session: ClientSession, ctx: ApplyContext): ApplyResult {
    const { clientId, seq } = session;
    const problem = sessionProblem(session);
    if (problem) return { ok: false, error: new CommandFailedError(command.name, problem) };
    const found = this.sessions.lookup(clientId, seq);
    if (found.kind === 'expired') return { ok: false, error: new SessionExpiredError(clientId) };
    this.sessions.touch(clientId, seq, session.ackedBelow ?? 0, ctx.time);
    // A retry: the first result, and where it was applied, so the committed stream can say so.
    if (found.kind === 'duplicate') return { ...found.result, duplicateOf: found.index };
    let result = this.dispatch(command, ctx);
    let stored: Uint8Array;
    try {
      stored = encodeResult(result);
    } catch (err) {
      result = {
        ok: false,
        error: new CommandFailedError(command.name, `its result cannot be kept: ${reasonOf(err)}`),
      };
      stored = encodeResult(result);
    }
    this.sessions.store(clientId, seq, stored, ctx.index);
    return result;
  }

  private dispatch(command: CommandEnvelope, ctx: ApplyContext): ApplyResult {
    const key = this.table.commands.get(command.name);
    if (key === undefined) return { ok: false, error: new UnknownCommandError(command.name, 'command') };
    try {
      const value = withContext(this.machine, ctx, () => this.call(key, command.args));
      if (value instanceof Promise) {
        value.catch(() => undefined);
        return {
          ok: false,
          error: new CommandFailedError(
            command.name,
            'handler returned a Promise; handlers must be synchronous',
          ),
        };
      }
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: new CommandFailedError(command.name, reasonOf(err), nameOf(err)) };
    }
  }

  /**
   * Runs a `@Query` handler against local state, with this.context set to
   * that of the last command applied (see queryContext). What the handler
   * throws propagates unchanged.
   * @returns the handler's result
   * @throws UnknownCommandError (kind 'query') when no `@Query` has that name
   */
  query(name: string, args: readonly unknown[]): unknown {
    const key = this.table.queries.get(name);
    if (key === undefined) throw new UnknownCommandError(name, 'query');
    return withContext(this.machine, this.queryContext, () => this.call(key, args));
  }

  /**
   * What a `@Query` handler sees as this.context: the log index, term and
   * (clamped) time of the last command applied, { index: 0, term: 0, time:
   * 0 } before any. Replicated values only, so every replica that applied
   * the same commands answers a query with the same context, from a
   * snapshot or not. (Raft's own entries, a leader's no-op or a membership
   * change, are not commands and do not move it.)
   */
  get queryContext(): ApplyContext {
    return { index: this.applied, term: this.lastTerm, time: this.lastTime };
  }

  /**
   * The digest consistency verification compares (Applier.digest): SHA-256
   * of the canonical encoding (see digest.ts) of the machine's
   * digestState(), the session table (replicated state too: it decides
   * retries) and the last replicated time, under the machine's name. Equal
   * on replicas that applied the same log, from a snapshot or not, and on
   * replicas whose codec versions differ (stored results are hashed
   * decoded, not as bytes).
   * @returns 'c1:' and 64 lowercase hex digits
   * @throws TypeError when digestState() is not plain data (the message names the field)
   */
  digest(): string {
    const sessions = this.sessions
      .toRows()
      .map(([id, lastSeen, acked, results]) => [
        id,
        lastSeen,
        acked,
        results.map(([seq, bytes, index]) => [seq, unpack(bytes), index]),
      ]);
    const name = this.machine.constructor.name;
    const hash = canonicalDigest(
      [this.table.name, this.lastTime, this.machine.digestState(), sessions],
      `${name}.digestState()`,
    );
    return `${DIGEST_SCHEME}:${hash}`;
  }

  /**
   * Serializes the machine's snapshotState(), the session table, the last
   * replicated time, the applied index and its term into one msgpack blob.
   * @returns the snapshot
   * @throws TypeError when the machine's state is not plain data (the message names the field)
   */
  snapshot(): Uint8Array {
    const state = encodeTree(
      this.machine.snapshotState(),
      `${this.machine.constructor.name}.snapshotState()`,
      'convert it in snapshotState()/restoreState()',
    );
    return pack([
      SNAPSHOT_VERSION,
      this.table.name,
      this.applied,
      this.lastTime,
      state,
      this.sessions.toRows(),
      this.lastTerm,
    ]);
  }

  /**
   * Replaces the machine's state, the sessions, the time, the applied
   * index and its term with a snapshot() result, so that this host then
   * behaves exactly as the one that took it.
   * @throws DecodeError when data is not a snapshot of this state machine
   */
  restore(data: Uint8Array): void {
    const v = unpack(data);
    if (!Array.isArray(v)) throw new DecodeError('not a state-machine snapshot');
    const [version, name, applied, time, state, rows, term = 0] = v as unknown[];
    if (version !== SNAPSHOT_VERSION)
      throw new DecodeError(`unsupported snapshot version ${String(version)}`);
    if (name !== this.table.name) {
      throw new DecodeError(
        `snapshot is of state machine "${String(name)}", this host runs "${this.table.name}"`,
      );
    }
    if (typeof applied !== 'number' || typeof time !== 'number' || typeof term !== 'number')
      throw new DecodeError('snapshot header is malformed');
    const decoded = decodeTree(state);
    const sessions = this.newSessionTable();
    sessions.fromRows(rows);
    this.machine.restoreState(decoded);
    this.sessions = sessions;
    this.applied = applied;
    this.lastTime = time;
    this.lastTerm = term;
  }

  /** @returns the machine's `@Tick` commands with their periods (Applier.ticks), in declaration order */
  ticks(): TickSpec[] {
    return [...this.table.ticks].map(([name, everyMs]) => ({ name, everyMs }));
  }

  /** Calls every `@OnRoleChange` hook with (role, leaderId, term). */
  onRoleChange(role: Role, leaderId: NodeId, term: number): void {
    for (const key of this.table.hooks.onRoleChange) this.call(key, [role, leaderId, term]);
  }

  private newSessionTable(): SessionTable {
    const { sessionTtlMs, maxSessions, maxResultsPerSession } = this.options;
    return new SessionTable(sessionTtlMs, maxSessions, maxResultsPerSession);
  }
}
