import {
  checkKnownKeys,
  pack,
  silentLogger,
  unpack,
  type CommandRequest,
  type KnownKeys,
  type Logger,
  type NodeId,
} from '@raftline/core';
import { LeaderUnavailableError, OutcomeUnknownError, RemoteCommandError } from './errors';
import { fields } from './messages';
import type { Msg, NatsConnection, Subscription } from './nats';
import { CLIENT_QUEUE, groupSubjects, type GroupSubjects } from './subjects';

/** Errors after which a command may or may not have committed. */
const OUTCOME_UNKNOWN = new Set(['LeadershipLostError', 'ProposalTimeoutError', 'NodeStoppedError']);

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

/** The wire form of a reply. */
type Reply =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; message: string; leaderId?: string; unknown: boolean } };

/**
 * Serves client commands on the group's client subject (queue group: each
 * request reaches one replica) and on this replica's own client subject. A
 * follower answers NotLeaderError with the leader it knows, and the client
 * retries there.
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
      msg.respond(pack(reply));
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
  /** Overall time one propose() may take, retries included (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Time one request may wait for its reply (default 1000 ms). */
  readonly requestTimeoutMs?: number;
}

const CLIENT_OPTION_KEYS: KnownKeys<NatsRaftClientOptions> = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
};

/**
 * Submits commands to a Raft group over NATS request/reply. It goes to the
 * leader it last heard of (or to any replica), follows leader hints, and
 * retries only refusals that guarantee nothing was applied.
 */
export class NatsRaftClient {
  private readonly subjects: GroupSubjects;
  private leader: NodeId = '';

  /**
   * @throws SubjectTokenError when cluster or group is not a valid subject token
   * @throws ConfigError when an option key is unknown
   */
  constructor(private readonly options: NatsRaftClientOptions) {
    checkKnownKeys(options, CLIENT_OPTION_KEYS, 'NatsRaftClient options');
    this.subjects = groupSubjects(options.cluster, options.group);
  }

  /** The leader the client last heard of ('' when none). */
  get leaderHint(): NodeId {
    return this.leader;
  }

  /**
   * Proposes a command and waits until the replica that accepted it applied it.
   * @returns the command handler's return value
   * @throws RemoteCommandError when a replica refused or failed it (see outcomeUnknown)
   * @throws OutcomeUnknownError when a request got no answer: it may or may not have committed
   * @throws LeaderUnavailableError when no leader accepted it in time (nothing applied)
   */
  async propose(request: CommandRequest): Promise<unknown> {
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const payload = pack({ name: request.name, args: request.args, session: request.session });
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new LeaderUnavailableError(timeoutMs);
      const subject = this.leader ? this.subjects.clientNode(this.leader) : this.subjects.client;
      let msg: Msg;
      try {
        const timeout = Math.min(left, this.options.requestTimeoutMs ?? 1000);
        msg = await this.options.connection.request(subject, payload, { timeout });
      } catch (err) {
        if (!isNoResponders(err)) throw new OutcomeUnknownError('no answer to the command', { cause: err });
        this.leader = ''; // nobody there: ask any replica, after a pause
        await pause(attempt, deadline);
        continue;
      }
      const reply = decodeReply(msg.data);
      if (reply.ok) return reply.value;
      const { name, message, leaderId, unknown } = reply.error;
      if (name !== 'NotLeaderError') {
        if (NOT_LEADING.has(name)) this.leader = ''; // the next command asks any replica
        throw new RemoteCommandError(name, message, unknown);
      }
      if (leaderId && leaderId !== this.leader) this.leader = leaderId;
      else {
        this.leader = '';
        await pause(attempt, deadline);
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

function describe(e: unknown): { name: string; message: string; leaderId?: string; unknown: boolean } {
  const err = e instanceof Error ? e : new Error(String(e));
  const leaderId = (err as { leaderId?: unknown }).leaderId;
  return {
    name: err.name,
    message: err.message,
    ...(typeof leaderId === 'string' && leaderId ? { leaderId } : {}),
    unknown: OUTCOME_UNKNOWN.has(err.name),
  };
}

function decodeRequest(data: Uint8Array): CommandRequest | undefined {
  const raw = unpackOrUndefined(data);
  if (raw === undefined) return undefined;
  try {
    const f = fields(raw, 'request');
    const name = f.get('name');
    const args = f.get('args');
    if (typeof name !== 'string' || !Array.isArray(args)) return undefined;
    const session = f.get('session');
    if (session === undefined || session === null) return { name, args };
    const s = fields(session, 'session');
    const clientId = s.get('clientId');
    const seq = s.get('seq');
    if (typeof clientId !== 'string' || typeof seq !== 'number') return undefined;
    const ackedBelow = s.get('ackedBelow');
    return {
      name,
      args,
      session: { clientId, seq, ...(typeof ackedBelow === 'number' ? { ackedBelow } : {}) },
    };
  } catch {
    return undefined;
  }
}

function decodeReply(data: Uint8Array): Reply {
  const raw = unpackOrUndefined(data);
  try {
    const f = fields(raw, 'reply');
    if (f.get('ok') === true) return { ok: true, value: f.get('value') };
    const e = fields(f.get('error'), 'error');
    const leaderId = e.get('leaderId');
    return {
      ok: false,
      error: {
        name: String(e.get('name')),
        message: String(e.get('message')),
        ...(typeof leaderId === 'string' ? { leaderId } : {}),
        unknown: e.get('unknown') === true,
      },
    };
  } catch {
    return { ok: false, error: { name: 'DecodeError', message: 'malformed reply', unknown: true } };
  }
}

function unpackOrUndefined(data: Uint8Array): unknown {
  try {
    return unpack(data);
  } catch {
    return undefined;
  }
}
