import { randomUUID } from 'node:crypto';
import {
  checkKnownKeys,
  commandProxy,
  ConfigError,
  DecodeError,
  queryProxy,
  RaftlineError,
  REGISTER_SESSION,
  SessionExpiredError,
  type CommandRequest,
  type CommandsOf,
  type KnownKeys,
  type NodeId,
  type QueriesOf,
  type ReadConsistency,
  type ReplicatedStateMachine,
} from '@raftline/core';
import {
  NatsRaftClient,
  type CommandReceipt,
  type NatsRaftClientOptions,
  type QueryReceipt,
  type QuerySendOptions,
  type SubmitOptions,
} from './client';
import { READ_CONSISTENCIES } from './client-wire';
import { OutcomeUnknownError, RemoteCommandError } from './errors';

/** How a MachineClient reaches its group: NatsRaftClient's options (followLeader is always on), plus its own. */
export interface MachineClientOptions extends Omit<NatsRaftClientOptions, 'followLeader'> {
  /** The consistency of `client.queries` (default 'linearizable'); client.query() picks per call. */
  readonly consistency?: ReadConsistency;
  /**
   * Whether the client owns an exactly-once session (default true): it
   * registers one on first use, numbers its commands and resends those whose
   * outcome is unknown. `false` sends commands without one: such a command
   * is never resent after an unknown outcome (OutcomeUnknownError).
   */
  readonly session?: boolean;
}

const MACHINE_CLIENT_OPTION_KEYS: KnownKeys<MachineClientOptions> = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
  retries: true,
  consistency: true,
  session: true,
};

/** Options of one command call. */
export interface CommandCallOptions {
  /** Overrides the client's timeoutMs for this command. */
  readonly timeoutMs?: number;
}

/** Options of one query call: consistency, the replica to ask, a timeout. */
export type QueryCallOptions = QuerySendOptions;

/** The parameters of T's method K. */
export type ArgsOf<T, K extends keyof T> = T[K] extends (...args: infer A) => unknown ? A : never;

/** What T's method K resolves with. */
export type ResultOf<T, K extends keyof T> = T[K] extends (...args: never[]) => Promise<infer R> ? R : never;

/** The client's session, as it stands. */
export interface SessionInfo {
  /** The id the replicas registered it under. */
  readonly clientId: string;
  /** The seq the next command will carry. */
  readonly nextSeq: number;
  /** The lowest seq still waiting for its answer (or nextSeq): what the replicas may forget below. */
  readonly ackedBelow: number;
}

/** One registered session, as the client keeps it. */
class Session {
  private next = 1;
  private readonly waiting = new Set<number>();

  constructor(readonly clientId: string) {}

  /** Takes the next seq and marks it waiting. */
  take(): number {
    const seq = this.next++;
    this.waiting.add(seq);
    return seq;
  }

  /** Marks seq answered (or given up on). */
  settle(seq: number): void {
    this.waiting.delete(seq);
  }

  /** The lowest seq without its answer: every seq below it has one. */
  get ackedBelow(): number {
    let low = this.next;
    for (const seq of this.waiting) low = Math.min(low, seq);
    return low;
  }

  info(): SessionInfo {
    return { clientId: this.clientId, nextSeq: this.next, ackedBelow: this.ackedBelow };
  }
}

/**
 * A typed client of one Raft group running machine M, for processes that are
 * not replicas. M is imported as a type only (`import type { Inventory }`):
 * no machine code runs here. Build one with connectClient().
 *
 * - `client.commands.reserve('sku', 2)` proposes a command and resolves with
 *   the handler's value; `client.submit('reserve', ['sku', 2])` resolves with
 *   `{ value, attempts }`.
 * - `client.queries.available('sku')` reads at the client's consistency
 *   (default linearizable); `client.query('available', ['sku'], { consistency:
 *   'stale' })` picks it per call and resolves with `{ value, appliedIndex,
 *   replica, attempts }`; `client.queriesWith(options)` is a proxy with options.
 *   Queries go to any replica (a follower serves a linearizable read through
 *   ReadIndex) or the one options.replica names.
 * - By default the client owns an exactly-once session (Raft thesis §6.3):
 *   registered by a replicated command on first use, its commands numbered,
 *   ackedBelow kept, and a command whose outcome is unknown resent with the
 *   same seq within the timeout, so it applies at most once.
 * - It follows the replicas' role-change notices, so commands go straight to
 *   a new leader.
 *
 * Errors are the classes a replica's own process would see: CommandRejectedError,
 * CommandFailedError, UnknownCommandError, ReadNotConfirmedError,
 * SessionExpiredError, PayloadTooLargeError, LeadershipLostError (rebuilt from
 * the wire), or, where the outcome rests with the network, OutcomeUnknownError
 * and LeaderUnavailableError; an error a query handler threw arrives as
 * RemoteCommandError (its class does not travel).
 */
export class MachineClient<M extends ReplicatedStateMachine> {
  /** M's commands: each resolves with the handler's value once applied. */
  readonly commands: CommandsOf<M>;
  /** M's queries at the client's consistency: each resolves with the handler's value. */
  readonly queries: QueriesOf<M>;
  /** The untyped client underneath (sessions are this client's, not its). */
  readonly raw: NatsRaftClient;
  private readonly consistency: ReadConsistency;
  private readonly sessions: boolean;
  private current: Session | undefined;
  private opening: Promise<Session> | undefined;

  /**
   * @throws ConfigError for an unknown option key, a bad retries or consistency
   * @throws SubjectTokenError when cluster or group is not a valid subject token
   */
  constructor(options: MachineClientOptions) {
    checkKnownKeys(options, MACHINE_CLIENT_OPTION_KEYS, 'MachineClient options');
    const { consistency = 'linearizable', session = true, ...rest } = options;
    if (!READ_CONSISTENCIES.includes(consistency)) {
      throw new ConfigError([
        `consistency (${String(consistency)}) must be one of ${READ_CONSISTENCIES.join(', ')}`,
      ]);
    }
    this.consistency = consistency;
    this.sessions = session;
    this.raw = new NatsRaftClient({ ...rest, followLeader: true });
    this.commands = commandProxy<M>(async (req) => (await this.run(req.name, req.args)).value);
    this.queries = this.queriesWith({});
  }

  /** The leader the client last heard of ('' when none). */
  get leader(): NodeId {
    return this.raw.leaderHint;
  }

  /** The session in use (undefined before the first command, after expiry, or with session: false). */
  get session(): SessionInfo | undefined {
    return this.current?.info();
  }

  /**
   * Proposes M's command `name` with `args`, like `client.commands[name]`, and
   * reports how many requests it took.
   * @returns the handler's value and the attempts (registration not counted)
   * @throws SessionExpiredError when the replicas no longer know the session
   *   and no earlier attempt's outcome was unknown: the command was not
   *   applied; the next call registers a new session
   * @throws OutcomeUnknownError when an attempt's outcome was unknown and no
   *   later one settled it (its cause says why, a SessionExpiredError among
   *   them): it may or may not have applied
   * @throws CommandRejectedError, CommandFailedError, UnknownCommandError,
   *   PayloadTooLargeError, LeadershipLostError, ProposalTimeoutError (rebuilt
   *   from the replica's), LeaderUnavailableError (nothing applied)
   */
  submit<K extends keyof CommandsOf<M> & string>(
    name: K,
    args: ArgsOf<CommandsOf<M>, K>,
    options: CommandCallOptions = {},
  ): Promise<CommandReceipt<ResultOf<CommandsOf<M>, K>>> {
    return this.run(name, args, options) as Promise<CommandReceipt<ResultOf<CommandsOf<M>, K>>>;
  }

  /**
   * Runs M's query `name` with `args` at options.consistency (default the
   * client's) on any replica, or options.replica.
   * @returns the handler's value, the applied index it read at, the replica that served it, the attempts
   * @throws ReadNotConfirmedError when the read could not be confirmed or no
   *   replica answered in time (nothing was read: retry freely)
   * @throws UnknownCommandError (kind 'query'), ConfigError for a bad
   *   consistency, RemoteCommandError for an error the handler threw
   */
  query<K extends keyof QueriesOf<M> & string>(
    name: K,
    args: ArgsOf<QueriesOf<M>, K>,
    options: QueryCallOptions = {},
  ): Promise<QueryReceipt<ResultOf<QueriesOf<M>, K>>> {
    return this.read(name, args, options) as Promise<QueryReceipt<ResultOf<QueriesOf<M>, K>>>;
  }

  /**
   * M's queries with these options (consistency, replica, timeout), e.g.
   * `client.queriesWith({ consistency: 'stale' }).available('sku')`.
   * @returns a proxy whose calls resolve with the handlers' values
   */
  queriesWith(options: QueryCallOptions): QueriesOf<M> {
    return queryProxy<M>(async (req) => (await this.read(req.name, req.args, options)).value);
  }

  /** Stops following leader notices. In-flight calls finish; the connection stays open. */
  close(): void {
    this.raw.close();
  }

  private async read(name: string, args: readonly unknown[], options: QueryCallOptions) {
    try {
      return await this.raw.query({ name, args }, { consistency: this.consistency, ...options });
    } catch (err) {
      throw unwrap(err);
    }
  }

  private async run(
    name: string,
    args: readonly unknown[],
    options: CommandCallOptions = {},
  ): Promise<CommandReceipt> {
    if (!this.sessions) return this.send({ name, args }, options);
    const session = await this.open();
    const seq = session.take();
    try {
      return await this.send(
        { name, args, session: { clientId: session.clientId, seq, ackedBelow: session.ackedBelow } },
        options,
      );
    } catch (err) {
      if (expired(err) && this.current === session) this.current = undefined; // the next call registers anew
      throw err;
    } finally {
      session.settle(seq);
    }
  }

  private async send(request: CommandRequest, options: SubmitOptions): Promise<CommandReceipt> {
    try {
      return await this.raw.submit(request, options);
    } catch (err) {
      throw unwrap(err);
    }
  }

  /** The current session, registering one (once, for every caller waiting) when there is none. */
  private open(): Promise<Session> {
    if (this.current) return Promise.resolve(this.current);
    this.opening ??= this.register().finally(() => (this.opening = undefined));
    return this.opening;
  }

  /**
   * Registers a session (RegisterClient, thesis §6.3): a replicated command
   * whose result is the session's id. Resent after an unknown outcome: a
   * second registration only opens a session nobody uses, which expires.
   */
  private async register(): Promise<Session> {
    const request = { name: REGISTER_SESSION, args: [randomUUID()] };
    const { value } = await this.send(request, { resendable: true });
    if (typeof value !== 'string') throw new DecodeError(`session registration answered ${typeof value}`);
    this.current = new Session(value);
    return this.current;
  }
}

/** A replica's raftline error rebuilt as its own class; anything else as it came. */
function unwrap(err: unknown): unknown {
  return err instanceof RemoteCommandError && err.cause instanceof RaftlineError ? err.cause : err;
}

/** Whether err says the session is gone (directly, or as the cause of an unknown outcome). */
function expired(err: unknown): boolean {
  if (err instanceof SessionExpiredError) return true;
  if (!(err instanceof OutcomeUnknownError)) return false;
  const cause = err.cause;
  return cause instanceof RemoteCommandError && cause.remoteName === 'SessionExpiredError';
}

/**
 * Connects a typed client of machine M to a group (see MachineClient) and
 * starts following its leader notices.
 * @returns the client, once its notice subscription is in place
 * @throws ConfigError, SubjectTokenError as MachineClient's constructor does
 */
export async function connectClient<M extends ReplicatedStateMachine>(
  options: MachineClientOptions,
): Promise<MachineClient<M>> {
  const client = new MachineClient<M>(options);
  await options.connection.flush();
  return client;
}
