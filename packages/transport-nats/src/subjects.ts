import type { NodeId } from '@raftline/core';
import { SubjectTokenError } from './errors';

/**
 * Every NATS subject raftline uses, in one place. Subjects are namespaced by
 * cluster and group so that many Raft groups share one connection:
 *
 *   raftline.<cluster>.<group>.raft.<node>     Raft frames addressed to <node>
 *   raftline.<cluster>.<group>.client          client requests, any replica (queue group)
 *   raftline.<cluster>.<group>.client.<node>   client requests for one replica (e.g. the leader)
 *   raftline.<cluster>.<group>.query           client queries, any replica (queue group)
 *   raftline.<cluster>.<group>.query.<node>    client queries for one replica
 *   raftline.<cluster>.<group>.leader          replicas' role-change notices (who leads, in which term)
 *   raftline.<cluster>.<group>.committed       the committed commands, as mirrored into JetStream
 *   raftline.<cluster>.<group>.srv.<node>.<endpoint>   a replica's NATS service endpoints (status, stats)
 *   raftline.<cluster>.<group>.admin.<operation>         admin requests, any replica (queue group)
 *   raftline.<cluster>.<group>.admin.<node>.<operation>  admin requests for one replica
 *   raftline.<cluster>.<group>.alive.<node>    start-up probes: every live transport of <node> answers
 *
 * Admin subjects have their own token (`admin`), so NATS permissions can let
 * a user send client requests but no admin request (see the README).
 *
 * The JetStream stream that holds a group's committed commands is named
 * `raftline_<cluster>_<group>` (committedStreamName).
 */
export const SUBJECT_ROOT = 'raftline';

/** The queue group replicas join on the group's client subject, so each request reaches one replica. */
export const CLIENT_QUEUE = 'raftline-replicas';

/** The queue group replicas join on the group's any-replica admin subjects. */
export const ADMIN_QUEUE = 'raftline-admin';

/**
 * Checks that value can stand as one subject token.
 * @returns value
 * @throws SubjectTokenError naming field when it is empty or holds a dot, whitespace, a control character or a wildcard
 */
export function checkToken(field: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new SubjectTokenError(field, String(value), 'it is empty');
  if (value.includes('.')) throw new SubjectTokenError(field, value, "it contains '.'");
  if (/[*>]/.test(value)) throw new SubjectTokenError(field, value, "it contains a wildcard ('*' or '>')");
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(value)) {
    throw new SubjectTokenError(field, value, 'it contains whitespace or a control character');
  }
  return value;
}

/** The subjects of one Raft group. */
export interface GroupSubjects {
  readonly cluster: string;
  readonly group: string;
  /**
   * Where frames for node are published.
   * @throws SubjectTokenError when node is not a valid token
   */
  raft(node: NodeId): string;
  /** Where a client sends a request that any replica may take. */
  readonly client: string;
  /**
   * Where a client sends a request for one replica.
   * @throws SubjectTokenError when node is not a valid token
   */
  clientNode(node: NodeId): string;
  /** Where a client sends a query that any replica may serve. */
  readonly query: string;
  /**
   * Where a client sends a query for one replica.
   * @throws SubjectTokenError when node is not a valid token
   */
  queryNode(node: NodeId): string;
  /** Where replicas publish a notice of each role or leader change they see. */
  readonly leader: string;
  /** Where the group's committed commands are published into its JetStream stream. */
  readonly committed: string;
  /**
   * Where a replica's NATS service endpoint answers.
   * @throws SubjectTokenError when node or endpoint is not a valid token
   */
  service(node: NodeId, endpoint: string): string;
  /**
   * Where an admin request that any replica may answer is sent (queue group ADMIN_QUEUE).
   * @throws SubjectTokenError when operation is not a valid token
   */
  adminAny(operation: string): string;
  /**
   * Where an admin request for one replica is sent.
   * @throws SubjectTokenError when node or operation is not a valid token
   */
  admin(node: NodeId, operation: string): string;
  /**
   * Where a starting transport asks whether <node> already runs; every live
   * transport of node answers (no queue group).
   * @throws SubjectTokenError when node is not a valid token
   */
  alive(node: NodeId): string;
}

/**
 * Builds the subjects of the group `group` of cluster `cluster`.
 * @returns the group's subjects
 * @throws SubjectTokenError when cluster or group is not a valid token
 */
export function groupSubjects(cluster: string, group: string): GroupSubjects {
  const base = `${SUBJECT_ROOT}.${checkToken('cluster', cluster)}.${checkToken('group', group)}`;
  return {
    cluster,
    group,
    raft: (node) => `${base}.raft.${checkToken('node id', node)}`,
    client: `${base}.client`,
    clientNode: (node) => `${base}.client.${checkToken('node id', node)}`,
    query: `${base}.query`,
    queryNode: (node) => `${base}.query.${checkToken('node id', node)}`,
    leader: `${base}.leader`,
    committed: `${base}.committed`,
    service: (node, endpoint) =>
      `${base}.srv.${checkToken('node id', node)}.${checkToken('endpoint', endpoint)}`,
    adminAny: (operation) => `${base}.admin.${checkToken('operation', operation)}`,
    admin: (node, operation) =>
      `${base}.admin.${checkToken('node id', node)}.${checkToken('operation', operation)}`,
    alive: (node) => `${base}.alive.${checkToken('node id', node)}`,
  };
}

/**
 * The name of the JetStream stream holding the committed commands of group
 * `group` of cluster `cluster`. Stream names cannot hold path separators,
 * which subject tokens may: such ids need an explicit stream name.
 * @returns `raftline_<cluster>_<group>`
 * @throws SubjectTokenError when cluster or group is not a valid subject token or holds '/' or '\\'
 */
export function committedStreamName(cluster: string, group: string): string {
  for (const [field, value] of [
    ['cluster', cluster],
    ['group', group],
  ] as const) {
    checkToken(field, value);
    if (/[/\\]/.test(value)) {
      throw new SubjectTokenError(field, value, 'a stream name cannot contain a path separator');
    }
  }
  return `${SUBJECT_ROOT}_${cluster}_${group}`;
}
