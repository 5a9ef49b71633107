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
}

const SERVER_OPTION_KEYS: KnownKeys<ClientServerOptions> = {
  connection: true,
  cluster: true,
  group: true,
  node: true,
  logger: true,
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
 * @returns a handle whose close() stops serving
 * @throws SubjectTokenError when cluster, group or the node id is not a valid subject token
 * @throws ConfigError when an option key is unknown
 */
export function serveClients(options: ClientServerOptions): { close(): void } {
  checkKnownKeys(options, SERVER_OPTION_KEYS, 'serveClients options');
  const { connection: nc, node } = options;
  const logger = options.logger ?? silentLogger;
  const subjects = groupSubjects(options.cluster, options.group);
  const initial = safeStatus(node);
  let view: LeaderView | undefined = initial && { leaderId: initial.leaderId, term: initial.term };

  const respond = (msg: Msg, reply: Reply): void => {
    try {
      msg.respond(
        encodeReply({ ...reply, node: node.id, ...(view ? { leader: view } : {}) }, nc.info?.max_payload),
      );
    } catch (err) {
      logger.warn({ node: node.id, err }, 'could not answer a client request');
    }
  };
  const answer = (msg: Msg, work: Promise<Reply>): void => {
    void work.then(
      (reply) => respond(msg, reply),
      (e: unknown) => respond(msg, { ok: false, error: describe(e) }),
    );
  };
  const handleCommand = (err: Error | null, msg: Msg): void => {
    if (err || !msg.reply) return;
    const request = decodeRequest(msg.data);
    const work = request
      ? Promise.resolve().then(() => node.propose(request))
      : Promise.reject(malformed('request'));
    answer(
      msg,
      work.then((value): Reply => ({ ok: true, value })),
    );
  };
  const handleQuery = (err: Error | null, msg: Msg): void => {
    if (err || !msg.reply) return;
    const q = decodeQuery(msg.data);
    const options: QueryOptions | undefined = q && {
      consistency: q.consistency,
      ...(q.timeoutMs !== undefined ? { timeoutMs: q.timeoutMs } : {}),
    };
    const work =
      q && options
        ? Promise.resolve().then(() => node.query(q.name, q.args, options))
        : Promise.reject(malformed('query'));
    answer(
      msg,
      work.then(({ value, appliedIndex }): Reply => ({ ok: true, value, appliedIndex })),
    );
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
  };
}

function safeStatus(node: ServedNode): ReturnType<NonNullable<ServedNode['status']>> | undefined {
  try {
    return node.status?.();
  } catch {
    return undefined; // not started: its first role change will tell
  }
}
