import {
  checkKnownKeys,
  silentLogger,
  type CommandRequest,
  type KnownKeys,
  type Logger,
  type NodeId,
  type QueryOptions,
  type QueryResult,
  type Role,
} from '@raftline/core';
import {
  decodeQuery,
  decodeRequest,
  describe,
  encodeNotice,
  encodeReply,
  type LeaderView,
  type Reply,
} from './client-wire';
import { Admission, admissionLimits, clientOf } from './admission';
import type { Msg, NatsConnection, Subscription } from './nats';
import { CLIENT_QUEUE, groupSubjects } from './subjects';

/**
 * What serveClients needs of a replica: RaftNode satisfies it. onRoleChange
 * and status are optional: with them, replies say who leads (in which term)
 * and the replica publishes each role change on the group's leader subject,
 * so clients follow leader changes without a request failing first.
 */
export interface ServedNode {
  readonly id: NodeId;
  propose(request: CommandRequest): Promise<unknown>;
  /** Runs a query at the consistency asked for (see RaftNode.query). */
  query(name: string, args: readonly unknown[], options: QueryOptions): Promise<QueryResult>;
  onRoleChange?(listener: (change: { role: Role; leaderId: NodeId; term: number }) => void): () => void;
  /**
   * The error any command arriving now would get (RaftNode.refusal:
   * NotLeaderError, OverloadedError), or undefined: with it, a command is
   * refused before it is decoded.
   */
  refusal?(): Error | undefined;
  status?(): { readonly role: Role; readonly leaderId: NodeId; readonly term: number };
}

/** The former name of ServedNode. */
export type ProposingNode = ServedNode;

/** Where a replica serves client requests. */
export interface ClientServerOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly node: ServedNode;
  readonly logger?: Logger;
  /**
   * Most requests (commands and queries) of one client connection this
   * replica serves at once; one more is answered at once with
   * OverloadedError ('maxInFlightPerClient'). A connection is told by its
   * requests' reply subject: all of it but the last token, which is one
   * connection's request inbox in nats.js. Default 1024.
   */
  readonly maxInFlightPerClient?: number;
  /** Most requests of all clients this replica serves at once ('maxInFlight'). Default 8192. */
  readonly maxInFlight?: number;
}

/** What serveClients returns. */
export interface ClientServer {
  /** Stops serving (requests in flight are still answered). */
  close(): void;
  /** Requests in flight now, the client connections they come from, and those refused with OverloadedError so far. */
  stats(): { readonly inFlight: number; readonly clients: number; readonly refused: number };
}

/** The defaults of ClientServerOptions' bounds. */
export const CLIENT_SERVER_LIMITS = { maxInFlightPerClient: 1024, maxInFlight: 8192 } as const;

const SERVER_OPTION_KEYS: KnownKeys<ClientServerOptions> = {
  connection: true,
  cluster: true,
  group: true,
  node: true,
  logger: true,
  maxInFlightPerClient: true,
  maxInFlight: true,
};

const malformed = (what: string): Error =>
  Object.assign(new Error(`malformed client ${what}`), { name: 'DecodeError' });

/**
 * Serves client commands and queries of one replica:
 * - commands on the group's client subject (queue group: each request
 *   reaches one replica) and on this replica's own client subject. A
 *   follower answers NotLeaderError with the leader it knows, and the client
 *   retries there;
 * - queries on the group's query subject (queue group) and this replica's
 *   own: any replica serves them, a follower too (a linearizable or lease
 *   read confirms through the leader by ReadIndex), and the reply carries the
 *   applied index the query read at;
 * - when the node reports role changes: a notice of each on the group's
 *   leader subject (and one at once), and on every reply who leads in which term.
 * A result too large for the server's max_payload is answered with
 * PayloadTooLargeError ('reply': a command applied), never left unanswered.
 * @returns a handle whose close() stops serving and stats() counts requests
 * @throws SubjectTokenError when cluster, group or the node id is not a valid subject token
 * Requests past maxInFlightPerClient (one connection's) or maxInFlight (all)
 * are answered at once with OverloadedError: nothing proposed or read.
 * @throws ConfigError when an option key is unknown or a bound is not a positive integer
 */
export function serveClients(options: ClientServerOptions): ClientServer {
  checkKnownKeys(options, SERVER_OPTION_KEYS, 'serveClients options');
  const { connection: nc, node } = options;
  const logger = options.logger ?? silentLogger;
  const admission = new Admission(
    node.id,
    admissionLimits(
      { maxInFlightPerClient: options.maxInFlightPerClient, maxInFlight: options.maxInFlight },
      CLIENT_SERVER_LIMITS,
    ),
  );
  const subjects = groupSubjects(options.cluster, options.group);
  const initial = safeStatus(node);
  let view: LeaderView | undefined = initial && { leaderId: initial.leaderId, term: initial.term };

  /** Sends bytes (made by encode) as msg's answer; a failure to encode or send is logged, never thrown. */
  const send = (msg: Msg, encode: () => Uint8Array): void => {
    try {
      msg.respond(encode());
    } catch (err) {
      logger.warn({ node: node.id, err }, 'could not answer a client request');
    }
  };
  const respond = (msg: Msg, reply: Reply): void =>
    send(msg, () =>
      encodeReply({ ...reply, node: node.id, ...(view ? { leader: view } : {}) }, nc.info?.max_payload),
    );
  // Under a flood most requests are refused, alike: each refusal's reply is
  // encoded once per leader view and sent as is, so refusing costs little.
  let refusals = new Map<string, Uint8Array>();
  let refusalsView = view;
  const refuse = (msg: Msg, refusal: Error): void => {
    if (refusalsView !== view) [refusals, refusalsView] = [new Map(), view];
    send(msg, () => {
      let bytes = refusals.get(refusal.message);
      if (!bytes) {
        bytes = encodeReply(
          { ok: false, error: describe(refusal), node: node.id, ...(view ? { leader: view } : {}) },
          nc.info?.max_payload,
        );
        if (refusals.size < 16) refusals.set(refusal.message, bytes);
      }
      return bytes;
    });
  };
  /** Runs work for the request in msg unless its client (or all) are at their bound, and answers. */
  const answer = (msg: Msg, work: () => Promise<Reply>): void => {
    const client = clientOf(msg.reply!);
    const refusal = admission.enter(client);
    if (refusal) {
      refuse(msg, refusal);
      return;
    }
    void Promise.resolve()
      .then(work)
      .then(
        (reply) => respond(msg, reply),
        (e: unknown) => respond(msg, { ok: false, error: describe(e) }),
      )
      .finally(() => admission.leave(client));
  };
  const handleCommand = (err: Error | null, msg: Msg): void => {
    if (err || !msg.reply) return;
    const refusal = node.refusal?.();
    if (refusal) {
      refuse(msg, refusal);
      return;
    }
    answer(msg, async (): Promise<Reply> => {
      const request = decodeRequest(msg.data);
      if (!request) throw malformed('request');
      return { ok: true, value: await node.propose(request) };
    });
  };
  const handleQuery = (err: Error | null, msg: Msg): void => {
    if (err || !msg.reply) return;
    answer(msg, async (): Promise<Reply> => {
      const q = decodeQuery(msg.data);
      if (!q) throw malformed('query');
      const options: QueryOptions = {
        consistency: q.consistency,
        ...(q.timeoutMs !== undefined ? { timeoutMs: q.timeoutMs } : {}),
      };
      const { value, appliedIndex } = await node.query(q.name, q.args, options);
      return { ok: true, value, appliedIndex };
    });
  };
  const publish = (role: Role, leaderId: NodeId, term: number): void => {
    view = { leaderId, term };
    try {
      nc.publish(subjects.leader, encodeNotice({ node: node.id, role, leaderId, term }));
    } catch (err) {
      logger.warn({ node: node.id, err }, 'could not publish a role-change notice');
    }
  };

  const subs: Subscription[] = [
    nc.subscribe(subjects.client, { queue: CLIENT_QUEUE, callback: handleCommand }),
    nc.subscribe(subjects.clientNode(node.id), { callback: handleCommand }),
    nc.subscribe(subjects.query, { queue: CLIENT_QUEUE, callback: handleQuery }),
    nc.subscribe(subjects.queryNode(node.id), { callback: handleQuery }),
  ];
  const stopListening = node.onRoleChange?.(({ role, leaderId, term }) => publish(role, leaderId, term));
  if (initial) publish(initial.role, initial.leaderId, initial.term);
  return {
    close: () => {
      stopListening?.();
      subs.forEach((s) => s.unsubscribe());
    },
    stats: () => admission.stats(),
  };
}

function safeStatus(node: ServedNode): ReturnType<NonNullable<ServedNode['status']>> | undefined {
  try {
    return node.status?.();
  } catch {
    return undefined; // not started: its first role change will tell
  }
}
