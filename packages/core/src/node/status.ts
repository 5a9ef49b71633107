import type { Membership } from '../protocol/membership';
import type { RaftProtocol } from '../protocol/raft';
import { NONE, type FollowerProgress, type NodeId, type Role } from '../protocol/types';
import type { VerificationStatus } from './verification';

/** What a role-change listener hears (RaftNode.onRoleChange). */
export interface RoleChange {
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: number;
}

/** What status() reports. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** The configuration this node has applied; `outgoing` is non-empty during joint consensus. */
  readonly members: Membership;
  /** The node leadership is being transferred to, while a transfer runs. */
  readonly leadTransferee?: NodeId;
  /** On the leader: each follower's match and next index. */
  readonly followers?: Readonly<Record<NodeId, FollowerProgress>>;
  /**
   * On the leader: whether it has applied an entry of its own term (its
   * election no-op). Until then it holds proposed commands rather than
   * validate them against state that may lag (see RaftNode.propose).
   */
  readonly appliedOwnTerm?: boolean;
  /** The last storage error, while the node is retrying it. */
  readonly storageError?: string;
  /** Inbound messages dropped because they could not be handled. */
  readonly droppedMessages: number;
  /** Why the node stopped itself (a StateLostError's message), once it did: see RaftNode.onHalt. */
  readonly halted?: string;
  /** Proposals waiting here to be applied, and those refused for overload (see NodeConfig.maxPendingProposals). */
  readonly proposals: ProposalLoad;
  /** Consistency verification here: the last marker, its digest, a divergence found (see RaftNode.verify()). */
  readonly verification: VerificationStatus;
}

/** A node's proposals: how many wait to be applied now, their entries' bytes, and how many were refused so far. */
export interface ProposalLoad {
  readonly pending: number;
  readonly pendingBytes: number;
  /** Proposals refused with OverloadedError since the node started. */
  readonly refused: number;
}

/** What status() takes from the node's parts rather than from its protocol. */
export type NodeStatusParts = Pick<
  NodeStatus,
  | 'appliedIndex'
  | 'snapshotIndex'
  | 'storageError'
  | 'droppedMessages'
  | 'halted'
  | 'verification'
  | 'proposals'
>;

/** A node's status: its protocol's, with what its parts report. */
export function nodeStatus(id: NodeId, p: RaftProtocol, parts: NodeStatusParts): NodeStatus {
  const s = p.status();
  const termStart = p.termStartIndex();
  return {
    id,
    role: s.role,
    term: s.term,
    leaderId: s.leaderId,
    commitIndex: s.commitIndex,
    appliedIndex: parts.appliedIndex,
    lastIndex: s.lastIndex,
    snapshotIndex: parts.snapshotIndex,
    members: p.members(),
    ...(s.leadTransferee !== NONE ? { leadTransferee: s.leadTransferee } : {}),
    ...(s.progress ? { followers: s.progress } : {}),
    ...(termStart !== undefined ? { appliedOwnTerm: p.log.applied >= termStart } : {}),
    ...(parts.storageError ? { storageError: parts.storageError } : {}),
    droppedMessages: parts.droppedMessages,
    ...(parts.halted ? { halted: parts.halted } : {}),
    proposals: parts.proposals,
    verification: parts.verification,
  };
}
