import { allMembers, allVoters, type Membership } from './membership';
import type { AppendRequest, Heartbeat, Message, NodeId, SnapshotRequest } from './types';

/** A message only a leader sends to replicate: its sender claims to lead its term. */
export type LeaderMessage = AppendRequest | Heartbeat | SnapshotRequest;

export function carriesLeadership(m: Message): m is LeaderMessage {
  return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
}

/**
 * Whether `m` may make this node follow its sender (adopt its term, take it
 * as leader, accept its entries) — hardening against a node outside the
 * configuration, such as a removed server that was elected by other stale
 * nodes (thesis §4.2.3: removed servers must not disrupt the cluster).
 *
 * A configuration is learned only when its entry applies, so "not in my
 * configuration" alone cannot tell a removed node from one added by a
 * change this node has not applied yet; refusing the latter would leave a
 * lagging follower without anyone to catch up from. So a sender may lead when:
 * - this node has no configuration at all (it joined with `voters: []`): it
 *   follows any leader until it learns one from a config entry or snapshot;
 * - the sender is a voter (incoming or outgoing) of this node's configuration;
 * - it already leads this node in this term (admitted by one of the next two);
 * - it proves a newer configuration: an append whose commit index is beyond
 *   the entry this node's configuration came from (a configuration that made
 *   the sender a voter must have committed after it), or a snapshot newer
 *   than that entry whose own configuration names the sender a voter.
 * A heartbeat proves nothing, so a non-member is first admitted by an append;
 * its leader re-sends an unanswered probe (Leader.bcastHeartbeat).
 *
 * `configIndex` is the log index `membership` came from (its config entry,
 * or the snapshot; 0 for the bootstrap list); `term` and `leaderId` are
 * this node's current ones.
 *
 * What is left open: a removed node that gathers a stale quorum and then
 * commits past the entry that removed it could be admitted for the moment
 * before it applies that entry and steps down.
 */
export function mayLead(
  m: LeaderMessage,
  membership: Membership,
  configIndex: number,
  term: number,
  leaderId: NodeId,
): boolean {
  if (allMembers(membership).length === 0) return true;
  if (allVoters(membership).includes(m.from)) return true;
  if (m.from === leaderId && m.term === term) return true;
  switch (m.type) {
    case 'append':
      return m.commit > configIndex;
    case 'snapshot':
      return m.snapshot.index > configIndex && allVoters(m.snapshot.membership).includes(m.from);
    case 'heartbeat':
      return false;
  }
}
