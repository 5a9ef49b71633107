import {
  checkKnownKeys,
  ConfigError,
  PayloadTooLargeError,
  silentLogger,
  type CommandRequest,
  type KnownKeys,
  type Logger,
  type NodeId,
} from '@raftline/core';
import { decodeReply, decodeRequest, describe, encodeReply, encodeRequest, type Reply } from './client-wire';
import { LeaderUnavailableError, OutcomeUnknownError, RemoteCommandError } from './errors';
import type { Msg, NatsConnection, Subscription } from './nats';
import { CLIENT_QUEUE, groupSubjects, type GroupSubjects } from './subjects';

/** Errors after which the replica that answered is no longer worth asking first. */
const NOT_LEADING = new Set(['LeadershipLostError', 'NodeStoppedError']);

/** What serveClients needs of a replica: RaftNode satisfies it. */
export interface ProposingNode {
  readonly id: NodeId;
  propose(request: CommandRequest): Promise<unknown>;
}

/** Where a replica serves client requests. */
export interface ClientServerOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly node: ProposingNode;
  readonly logger?: Logger;
}

const SERVER_OPTION_KEYS: KnownKeys<ClientServerOptions> = {
  connection: true,
  cluster: true,
  group: true,
  node: true,
  logger: true,
};

/**
 * Serves client commands on the group's client subject (queue group: each
 * request reaches one replica) and on this replica's own client subject. A
 * follower answers NotLeaderError with the leader it knows, and the client
 * retries there. A result too large for the server's max_payload is answered
 * with PayloadTooLargeError ('reply': the command applied), never left unanswered.
 * @returns a handle whose close() stops serving
 * @throws SubjectTokenError when cluster, group or the node id is not a valid subject token
 * @throws ConfigError when an option key is unknown
 */
export function serveClients(options: ClientServerOptions): { close(): void } {
  checkKnownKeys(options, SERVER_OPTION_KEYS, 'serveClients options');
  const { connection: nc, node } = options;
  const logger = options.logger ?? silentLogger;
  const subjects = groupSubjects(options.cluster, options.group);
  const handle = (err: Error | null, msg: Msg): void => {
    if (err || !msg.reply) return;
    const request = decodeRequest(msg.data);
    const answer = request
      ? Promise.resolve().then(() => node.propose(request))
      : Promise.reject(Object.assign(new Error('malformed client request'), { name: 'DecodeError' }));
    answer.then(
      (value) => respond(msg, { ok: true, value }),
      (e: unknown) => respond(msg, { ok: false, error: describe(e) }),
    );
  };
  const respond = (msg: Msg, reply: Reply): void => {
    try {
      msg.respond(encodeReply(reply, nc.info?.max_payload));
    } catch (err) {
      logger.warn({ node: node.id, err }, 'could not answer a client request');
    }
  };
  const subs: Subscription[] = [
    nc.subscribe(subjects.client, { queue: CLIENT_QUEUE, callback: handle }),
    nc.subscribe(subjects.clientNode(node.id), { callback: handle }),
  ];
  return { close: () => subs.forEach((s) => s.unsubscribe()) };
}

/** How a client reaches one Raft group. */
export interface NatsRaftClientOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** Overall time one propose() may take, retries included (default 5000 ms): the deadline. */
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
   * after an unknown outcome.
   */
  readonly retries?: number;
}

const CLIENT_OPTION_KEYS: KnownKeys<NatsRaftClientOptions> = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
  retries: true,
};

/** What submit() resolves with. */
export interface CommandReceipt {
  /** The command handler's return value. */
  readonly value: unknown;
  /** How many requests were sent for the command (leader redirects and retries included). */
  readonly attempts: number;
}

/** The defaults of NatsRaftClientOptions' timings and retries. */
export const DEFAULT_CLIENT_OPTIONS = { timeoutMs: 5000, requestTimeoutMs: 1000, retries: 3 } as const;

/**
 * Submits commands to a Raft group over NATS request/reply. It goes to the
 * leader it last heard of (or to any replica), follows leader hints, retries
 * refusals that guarantee nothing was applied, and, for a command with a
 * client session, retries attempts whose outcome is unknown (see
 * NatsRaftClientOptions.retries).
 */
export class NatsRaftClient {
  private readonly subjects: GroupSubjects;
  private leader: NodeId = '';

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
  }

  /** The leader the client last heard of ('' when none). */
  get leaderHint(): NodeId {
    return this.leader;
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
   * @throws RemoteCommandError when a replica refused or failed it (see outcomeUnknown)
   * @throws OutcomeUnknownError when an attempt got no answer and none after it
   *   settled the command: it may or may not have committed
   * @throws LeaderUnavailableError when no leader accepted it in time and no
   *   attempt's outcome was unknown (nothing applied)
   */
  async submit(request: CommandRequest): Promise<CommandReceipt> {
    const { timeoutMs, requestTimeoutMs, retries } = { ...DEFAULT_CLIENT_OPTIONS, ...this.options };
    const deadline = Date.now() + timeoutMs;
    const payload = encodeRequest(request);
    const maxPayload = this.options.connection.info?.max_payload;
    if (maxPayload !== undefined && payload.byteLength > maxPayload) {
      throw new PayloadTooLargeError('command', payload.byteLength, maxPayload, 'NATS max_payload');
    }
    let retriesLeft = request.session ? retries : 0;
    let attempts = 0;
    /** The last attempt whose outcome is unknown, once there is one: a later refusal cannot undo it. */
    let unknown: Error | undefined;
    for (let round = 0; ; round++) {
      const left = deadline - Date.now();
      if (left <= 0) {
        if (!unknown) throw new LeaderUnavailableError(timeoutMs, attempts);
        throw new OutcomeUnknownError('no attempt settled the command in time', attempts, { cause: unknown });
      }
      const subject = this.leader ? this.subjects.clientNode(this.leader) : this.subjects.client;
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
      const reply = decodeReply(msg.data);
      if (reply.ok) return { value: reply.value, attempts };
      const { name, message, leaderId, tooLarge } = reply.error;
      if (tooLarge)
        throw new PayloadTooLargeError(tooLarge.what, tooLarge.size, tooLarge.limit, tooLarge.limitName);
      if (name !== 'NotLeaderError') {
        if (NOT_LEADING.has(name)) this.leader = ''; // the next attempt or command asks any replica
        const error = new RemoteCommandError(name, message, reply.error.unknown, attempts);
        if (!reply.error.unknown || retriesLeft-- <= 0) throw error;
        unknown = error;
        await pause(round, deadline);
        continue;
      }
      if (leaderId && leaderId !== this.leader) this.leader = leaderId;
      else {
        this.leader = '';
        await pause(round, deadline);
      }
    }
  }
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
