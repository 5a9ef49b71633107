/** What AdminClient.status() reports about a whole group, from its replicas' answers. */
import type { NodeId } from '@raftline/core';
import type { AdminMembers, ReplicaStatus } from './admin-status';

/** One replica, as status() found it. */
export type ReplicaReport =
  | {
      readonly node: NodeId;
      readonly reachable: true;
      readonly status: ReplicaStatus;
      /**
       * How far it is behind the leader, from the leader's answer (0 on the
       * leader; see FollowerLag); absent when no leader answered.
       */
      readonly lag?: { readonly entries: number; readonly ms: number; readonly msAtLeast?: true };
    }
  | {
      readonly node: NodeId;
      readonly reachable: false;
      /** Why: it did not answer within requestTimeoutMs, nobody serves its admin subject, or its node is stopped. */
      readonly reason: string;
    };

/** What status() reports about a group. */
export interface GroupStatus {
  readonly cluster: string;
  readonly group: string;
  /** The leader of the highest term a replica reports ('' when none is known). */
  readonly leaderId: NodeId;
  readonly term: number;
  /** The leader's configuration, or (no leader answered) that of the replica in the highest term. */
  readonly members: AdminMembers;
  /** Every member and every replica that answered, sorted by id. */
  readonly replicas: readonly ReplicaReport[];
}

/**
 * What the replicas' answers say about the group: the leader is the one that
 * says it leads in the highest term; lags come from its answer.
 * @returns the group's status, replicas sorted by id
 */
export function summarizeGroup(
  cluster: string,
  group: string,
  reports: readonly ReplicaReport[],
): GroupStatus {
  const statuses = reports.flatMap((r) => (r.reachable ? [r.status] : []));
  const newest = statuses.reduce<ReplicaStatus | undefined>(
    (a, s) => (!a || s.term > a.term ? s : a),
    undefined,
  );
  const leader = statuses
    .filter((s) => s.role === 'leader')
    .reduce<ReplicaStatus | undefined>((a, s) => (!a || s.term > a.term ? s : a), undefined);
  const view = leader ?? newest;
  const lagOf = (r: ReplicaReport): ReplicaReport => {
    if (!r.reachable || !leader) return r;
    if (r.node === leader.id) return { ...r, lag: { entries: 0, ms: 0 } };
    const f = leader.followers?.[r.node];
    return f
      ? {
          ...r,
          lag: { entries: f.lagEntries, ms: f.lagMs, ...(f.lagMsAtLeast ? { msAtLeast: true } : {}) },
        }
      : r;
  };
  return {
    cluster,
    group,
    leaderId: leader?.id ?? newest?.leaderId ?? '',
    term: view?.term ?? 0,
    members: view?.members ?? { voters: [], outgoing: [], learners: [], joint: false },
    replicas: [...reports].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).map(lagOf),
  };
}

/** Every node of a configuration, once. */
export function membersOf(m: {
  voters: readonly NodeId[];
  outgoing: readonly NodeId[];
  learners: readonly NodeId[];
}): NodeId[] {
  return [...new Set([...m.voters, ...m.outgoing, ...m.learners])];
}
