import {
  checkKnownKeys,
  ConfigError,
  PayloadTooLargeError,
  ReadNotConfirmedError,
  type CommandRequest,
  type KnownKeys,
  type NodeId,
  type QueryRequest,
  type ReadConsistency,
} from '@raftline/core';
import {
  decodeNotice,
  decodeReply,
  encodeQuery,
  encodeRequest,
  READ_CONSISTENCIES,
  type Reply,
  type WireError,
} from './client-wire';
import { LeaderUnavailableError, OutcomeUnknownError, RemoteCommandError } from './errors';
import type { Msg, NatsConnection, Subscription } from './nats';
import { reviveError } from './remote-errors';
import { groupSubjects, type GroupSubjects } from './subjects';

export { serveClients } from './client-server';
export { CLIENT_SERVER_LIMITS } from './client-server';
export type { ClientServer, ClientServerOptions, ProposingNode, ServedNode } from './client-server';

/** Errors after which the replica that answered is no longer worth asking first. */
const NOT_LEADING = new Set(['LeadershipLostError', 'NodeStoppedError']);

/**
 * Refusals that say nothing of an earlier attempt: after an attempt whose
 * outcome is unknown, a retry refused so (its session expired meanwhile, or
 * a validator that reads state refused it, or the replica was overloaded)
 * leaves the command's outcome unknown.
 */
const SAYS_NOTHING_OF_EARLIER = new Set(['SessionExpiredError', 'CommandRejectedError', 'OverloadedError']);

/** Query refusals worth asking again: nothing was read. */
const READ_RETRYABLE = new Set(['ReadNotConfirmedError', 'NodeStoppedError']);

/** How a client reaches one Raft group. */
export interface NatsRaftClientOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** Overall time one propose() or query() may take, retries included (default 5000 ms): the deadline. */
  readonly timeoutMs?: number;
  /** Time one request may wait for its reply (default 1000 ms). */
  readonly requestTimeoutMs?: number;
  /**
   * How many times a command with a client session is sent again, within
   * timeoutMs, after an attempt whose outcome is unknown (no answer in
   * requestTimeoutMs, or the replica answered LeadershipLostError,
   * ProposalTimeoutError or NodeStoppedError). The session makes this safe:
   * the command applies at most once, and a retry returns its first result.
   * Default 3; 0 turns it off. A command without a session is never resent
   * after an unknown outcome. A query is asked again as often after no
   * answer or ReadNotConfirmedError (nothing was read).
   */
  readonly retries?: number;
  /**
   * Follows the replicas' role-change notices (the group's leader subject),
   * so commands go to a new leader without a request failing first. Default
   * false; close() stops it. MachineClient turns it on.
   */
  readonly followLeader?: boolean;
}

const CLIENT_OPTION_KEYS: KnownKeys<NatsRaftClientOptions> = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
  retries: true,
  followLeader: true,
};

/** Options of one submit(). */
export interface SubmitOptions {
  /** Overrides the client's timeoutMs for this command. */
  readonly timeoutMs?: number;
  /**
   * The command may safely apply more than once (registering a session), so
   * an attempt whose outcome is unknown is resent as one with a session is.
   */
  readonly resendable?: boolean;
}

/** Options of one query(). */
export interface QuerySendOptions {
  /** How fresh the answer must be (see ReadConsistency); default 'linearizable'. */
  readonly consistency?: ReadConsistency;
  /** The replica to ask (a follower serves linearizable reads too); default: any replica. */
  readonly replica?: NodeId;
  /** Overrides the client's timeoutMs for this query. */
  readonly timeoutMs?: number;
}

/** What submit() resolves with. */
export interface CommandReceipt<R = unknown> {
  /** The command handler's return value. */
  readonly value: R;
  /** How many requests were sent for the command (leader redirects and retries included). */
  readonly attempts: number;
}

/** What query() resolves with. */
export interface QueryReceipt<R = unknown> {
  /** The query handler's return value. */
  readonly value: R;
  /** The log index of the state the query read (for 'stale', how far behind it may be). */
  readonly appliedIndex: number;
  /** The replica that served it. */
  readonly replica: NodeId;
  /** How many requests were sent for it. */
  readonly attempts: number;
}

/** The defaults of NatsRaftClientOptions' timings and retries. */
export const DEFAULT_CLIENT_OPTIONS = { timeoutMs: 5000, requestTimeoutMs: 1000, retries: 3 } as const;

/** Of the time a client waits for one query's reply, the share the replica may spend confirming it. */
const CONFIRM_SHARE = 0.8;

/**
 * Submits commands and queries to a Raft group over NATS request/reply.
 * Commands go to the leader it last heard of (or to any replica); it follows
 * leader hints (and, with followLeader, the replicas' notices), retries
 * refusals that guarantee nothing was applied, and, for a command with a
 * client session, retries attempts whose outcome is unknown (see
 * NatsRaftClientOptions.retries). Queries go to any replica, or one named.
 * A replica's own errors arrive as RemoteCommandError, with the core error
 * rebuilt as its `cause`.
 */
export class NatsRaftClient {
  private readonly subjects: GroupSubjects;
  private leader: NodeId = '';
  /** The newest term the client heard a leader (or its absence) of. */
  private leaderTerm = 0;
  private readonly notices: Subscription | undefined;

  /**
   * @throws SubjectTokenError when cluster or group is not a valid subject token
   * @throws ConfigError when an option key is unknown, or retries is not a non-negative integer
   */
  constructor(private readonly options: NatsRaftClientOptions) {
    checkKnownKeys(options, CLIENT_OPTION_KEYS, 'NatsRaftClient options');
    const { retries } = options;
    if (retries !== undefined && (!Number.isSafeInteger(retries) || retries < 0)) {
      throw new ConfigError([`retries (${String(retries)}) must be a non-negative integer`]);
    }
    this.subjects = groupSubjects(options.cluster, options.group);
    this.notices = options.followLeader
      ? options.connection.subscribe(this.subjects.leader, {
          callback: (err, msg) => {
            const notice = err ? undefined : decodeNotice(msg.data);
            if (notice) this.noteLeader(notice.leaderId, notice.term);
          },
        })
      : undefined;
  }

  /** The leader the client last heard of ('' when none). */
  get leaderHint(): NodeId {
    return this.leader;
  }

  /** Stops following leader notices; the client still sends requests. */
  close(): void {
    this.notices?.unsubscribe();
  }

  /**
   * Proposes a command and waits until the replica that accepted it applied it.
   * @returns the command handler's return value
   * @throws see submit()
   */
  async propose(request: CommandRequest): Promise<unknown> {
    return (await this.submit(request)).value;
  }

  /**
   * Proposes a command, like propose(), and reports how many requests it took.
   * @returns the handler's return value and the number of attempts
   * @throws PayloadTooLargeError when the request exceeds the server's
   *   max_payload (it is not sent), when a replica's maxCommandBytes refuses it
   *   (nothing applied), or when the result is too large to send back ('reply':
   *   it applied)
   * @throws RemoteCommandError when a replica refused or failed it (see
   *   outcomeUnknown; cause OverloadedError when the replica had too much in
   *   flight: nothing applied, retry after a pause)
   * @throws OutcomeUnknownError when an attempt got no answer and none after it
   *   settled the command, or a retry after it was refused in a way that says
   *   nothing of it (SessionExpiredError, CommandRejectedError,
   *   OverloadedError: the cause): it
   *   may or may not have committed
   * @throws LeaderUnavailableError when no leader accepted it in time and no
   *   attempt's outcome was unknown (nothing applied)
   */
  async submit(request: CommandRequest, options: SubmitOptions = {}): Promise<CommandReceipt> {
    const { timeoutMs, requestTimeoutMs, retries } = this.settings(options.timeoutMs);
    const deadline = Date.now() + timeoutMs;
    const payload = this.checkSize(encodeRequest(request), 'command');
    let retriesLeft = request.session || options.resendable ? retries : 0;
    let attempts = 0;
    /** The last attempt whose outcome is unknown, once there is one: a later refusal cannot undo it. */
    let unknown: Error | undefined;
    for (let round = 0; ; round++) {
      const left = deadline - Date.now();
      if (left <= 0) {
        if (!unknown) throw new LeaderUnavailableError(timeoutMs, attempts);
        throw new OutcomeUnknownError('no attempt settled the command in time', attempts, { cause: unknown });
      }
      const asked = this.leader;
      const subject = asked ? this.subjects.clientNode(asked) : this.subjects.client;
      let msg: Msg;
      try {
        attempts++;
        msg = await this.options.connection.request(subject, payload, {
          timeout: Math.min(left, requestTimeoutMs),
        });
      } catch (err) {
        if (isNoResponders(err)) {
          this.leader = ''; // nobody there: ask any replica, after a pause
          await pause(round, deadline);
          continue;
        }
        unknown = err instanceof Error ? err : new Error(String(err));
        if (retriesLeft-- <= 0)
          throw new OutcomeUnknownError('no answer to the command', attempts, { cause: err });
        this.leader = ''; // the leader may be gone: ask any replica
        continue;
      }
      const reply = this.heard(decodeReply(msg.data));
      if (reply.ok) return { value: reply.value, attempts };
      const { name, leaderId, tooLarge } = reply.error;
      if (tooLarge)
        throw new PayloadTooLargeError(tooLarge.what, tooLarge.size, tooLarge.limit, tooLarge.limitName);
      if (name !== 'NotLeaderError') {
        if (NOT_LEADING.has(name)) this.leader = ''; // the next attempt or command asks any replica
        const error = remoteError(reply.error, attempts);
        if (!reply.error.unknown) {
          if (!unknown || !SAYS_NOTHING_OF_EARLIER.has(name)) throw error;
          throw new OutcomeUnknownError(
            `an earlier attempt's outcome is unknown and a retry was refused (${name})`,
            attempts,
            { cause: error },
          );
        }
        if (retriesLeft-- <= 0) throw error;
        unknown = error;
        await pause(round, deadline);
        continue;
      }
      if (leaderId && leaderId !== asked) this.leader = leaderId;
      else {
        this.leader = '';
        await pause(round, deadline);
      }
    }
  }

  /**
   * Runs a query on one replica (any, or options.replica) at the consistency
   * asked for; a follower serves linearizable and lease reads by confirming
   * with the leader (ReadIndex). Asked again after no answer or a refusal
   * that read nothing (ReadNotConfirmedError, NodeStoppedError; and, when no
   * replica was named, DivergedError from a replica that stopped applying at
   * a divergence), up to `retries` times within the timeout.
   * @returns the handler's value, the applied index it read at, the replica and the attempts
   * @throws ConfigError when options.consistency is not one of linearizable, lease, stale
   * @throws SubjectTokenError when options.replica is not a valid node id
   * @throws PayloadTooLargeError when the request or its result exceeds max_payload
   * @throws RemoteCommandError when a replica refused or failed it (cause: the
   *   rebuilt ReadNotConfirmedError, UnknownCommandError, …)
   * @throws ReadNotConfirmedError when no replica answered in time (nothing was read)
   */
  async query(request: QueryRequest, options: QuerySendOptions = {}): Promise<QueryReceipt> {
    const { timeoutMs, requestTimeoutMs, retries } = this.settings(options.timeoutMs);
    const consistency = options.consistency ?? 'linearizable';
    if (!READ_CONSISTENCIES.includes(consistency)) {
      throw new ConfigError([
        `consistency (${String(consistency)}) must be one of ${READ_CONSISTENCIES.join(', ')}`,
      ]);
    }
    const target = options.replica ?? '';
    const subject = target ? this.subjects.queryNode(target) : this.subjects.query;
    const deadline = Date.now() + timeoutMs;
    const { name, args } = request;
    let retriesLeft = retries;
    let attempts = 0;
    let last: Error | undefined;
    for (let round = 0; ; round++) {
      const left = deadline - Date.now();
      const unanswered = () =>
        new ReadNotConfirmedError(
          target || '(any replica)',
          `no answer within ${timeoutMs} ms (${attempts} ${attempts === 1 ? 'attempt' : 'attempts'})`,
        );
      if (left <= 0) throw last ?? unanswered();
      const wait = Math.min(left, requestTimeoutMs);
      const confirmMs = Math.max(1, Math.floor(wait * CONFIRM_SHARE));
      const payload = this.checkSize(
        encodeQuery({ name, args, consistency, timeoutMs: confirmMs }),
        'command',
      );
      let msg: Msg;
      try {
        attempts++;
        msg = await this.options.connection.request(subject, payload, { timeout: wait });
      } catch (err) {
        last = unanswered();
        if (isNoResponders(err)) await pause(round, deadline);
        else if (retriesLeft-- <= 0) throw last;
        continue;
      }
      const reply = this.heard(decodeReply(msg.data));
      if (reply.ok) {
        const replica = reply.node ?? target;
        return { value: reply.value, appliedIndex: reply.appliedIndex ?? 0, replica, attempts };
      }
      const { tooLarge } = reply.error;
      if (tooLarge)
        throw new PayloadTooLargeError(tooLarge.what, tooLarge.size, tooLarge.limit, tooLarge.limitName);
      last = remoteError(reply.error, attempts);
      // A diverged replica (stopped applying) read nothing: another replica may serve, unless this one was asked for.
      const elsewhere = !target && reply.error.name === 'DivergedError';
      if ((!READ_RETRYABLE.has(reply.error.name) && !elsewhere) || retriesLeft-- <= 0) throw last;
      await pause(round, deadline);
    }
  }

  /** @throws ConfigError when a per-call timeoutMs is not positive */
  private settings(timeoutMs: number | undefined) {
    const s = { ...DEFAULT_CLIENT_OPTIONS, ...this.options };
    if (timeoutMs !== undefined && !(timeoutMs > 0)) {
      throw new ConfigError([`timeoutMs (${String(timeoutMs)}) must be positive`]);
    }
    return { timeoutMs: timeoutMs ?? s.timeoutMs, requestTimeoutMs: s.requestTimeoutMs, retries: s.retries };
  }

  /** @throws PayloadTooLargeError when payload exceeds the server's max_payload */
  private checkSize(payload: Uint8Array, what: 'command'): Uint8Array {
    const maxPayload = this.options.connection.info?.max_payload;
    if (maxPayload !== undefined && payload.byteLength > maxPayload) {
      throw new PayloadTooLargeError(what, payload.byteLength, maxPayload, 'NATS max_payload');
    }
    return payload;
  }

  /** Learns who leads from a reply's origin. */
  private heard(reply: Reply): Reply {
    if (reply.leader) this.noteLeader(reply.leader.leaderId, reply.leader.term);
    return reply;
  }

  /**
   * Keeps the newest term's leader: a newer term replaces the leader (with
   * none, while it has none); within the known term, a named leader fills in
   * one the client lacks (a term has at most one leader).
   */
  private noteLeader(leaderId: NodeId, term: number): void {
    if (term > this.leaderTerm) {
      this.leaderTerm = term;
      this.leader = leaderId;
    } else if (term === this.leaderTerm && leaderId && !this.leader) this.leader = leaderId;
  }
}

/** A replica's error as the client throws it: RemoteCommandError, with the rebuilt core error as its cause. */
function remoteError(error: WireError, attempts: number): RemoteCommandError {
  const cause = reviveError(error);
  return new RemoteCommandError(
    error.name,
    error.message,
    error.unknown,
    attempts,
    cause ? { cause } : undefined,
  );
}

function pause(attempt: number, deadline: number): Promise<void> {
  const ms = Math.min(Math.max(0, deadline - Date.now()), 20 * 2 ** Math.min(attempt, 4));
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a nats.js request failed because nobody subscribes to the subject (so nothing was delivered). */
export function isNoResponders(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const check = (err as { isNoResponders?: unknown }).isNoResponders;
  if (typeof check === 'function' && check.call(err) === true) return true;
  const names = ['NoResponders', 'NoRespondersError'];
  return names.includes(err.name) || (err.cause instanceof Error && names.includes(err.cause.name));
}
