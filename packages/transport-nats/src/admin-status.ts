/**
 * What one replica reports on the admin API's status operation, and how a
 * leader measures its followers' lag in time.
 */
import type {
  FollowerProgress,
  Membership,
  NodeId,
  NodeStatus,
  ProposalLoad,
  Role,
  VerificationStatus,
} from '@raftline/core';
import type { DropReason } from './drops';
import type { NatsTransportStats, SendDropReason } from './transport';

/** A configuration as the admin API shows it: `joint` while C_old,new is in force (`outgoing` non-empty). */
export interface AdminMembers extends Membership {
  readonly joint: boolean;
}

/**
 * How far one follower (voter or learner) is behind the leader, as the
 * leader knows it:
 * - `lagEntries`: the leader's last index minus the follower's match index
 *   (the highest index the leader knows the follower holds);
 * - `lagMs`: how long ago the leader first held the oldest entry the
 *   follower lacks (the one after its match index): the follower's log is
 *   that far behind the leader's in time; 0 when it holds every entry of
 *   the leader. Measured on the
 *   leader's clock alone, from samples of its own last index every
 *   `lagSampleMs` (so it reads up to lagSampleMs low), kept for `lagWindowMs`:
 *   a follower further behind reads lagWindowMs (or the time the leader has
 *   been sampling, if shorter) with `lagMsAtLeast: true`.
 */
export interface FollowerLag extends FollowerProgress {
  readonly lagEntries: number;
  readonly lagMs: number;
  /** Set when the follower is further behind than the samples reach: lagMs is a lower bound. */
  readonly lagMsAtLeast?: true;
}

/** Messages and frames a replica dropped, by reason. */
export interface ReplicaDrops {
  /** Inbound Raft messages its node could not handle (NodeStatus.droppedMessages). */
  readonly node: number;
  /** Inbound frames its transport refused, by DropReason (when serveAdmin was given the transport). */
  readonly received?: Readonly<Record<DropReason, number>>;
  /** Outbound messages its transport did not publish, by reason (likewise). */
  readonly sent?: Readonly<Record<SendDropReason, number>>;
}

/** One replica's answer to the status operation. */
export interface ReplicaStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  /** The leader this replica knows of ('' for none). */
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly members: AdminMembers;
  /** The node leadership is being transferred to, while a transfer runs. */
  readonly leadTransferee?: NodeId;
  /** On the leader: each follower's progress and lag. */
  readonly followers?: Readonly<Record<NodeId, FollowerLag>>;
  /** The last storage error, while the replica retries it (its store is unhealthy). */
  readonly storageError?: string;
  readonly drops: ReplicaDrops;
  /** Proposals waiting on this replica, their bytes, and those refused with OverloadedError (RaftNode.status().proposals). */
  readonly proposals?: ProposalLoad;
  /** Consistency verification on this replica (RaftNode.status().verification). */
  readonly verification?: VerificationStatus;
  /** Whether the transport is connected to NATS (when serveAdmin was given the transport). */
  readonly connected?: boolean;
  /** Milliseconds since the replica started serving admin requests (or since serveAdmin's startedAt). */
  readonly uptimeMs: number;
  /** The replica's raftline version (@raftline/transport-nats's, unless serveAdmin was told another). */
  readonly version: string;
}

/**
 * Samples of this replica's last log index over time, kept for windowMs:
 * how a leader tells how long ago it first held an index.
 */
export class LastIndexHistory {
  /** Ascending in index and time: (when lastIndex first reached index). */
  private samples: { at: number; index: number }[] = [];
  private readonly since: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.since = now;
  }

  /** Records the last index at time now. A smaller one (a truncated log) forgets the samples above it. */
  record(now: number, lastIndex: number): void {
    while (this.samples.length > 0 && this.samples[this.samples.length - 1]!.index > lastIndex) {
      this.samples.pop();
    }
    const last = this.samples[this.samples.length - 1];
    if (!last || last.index < lastIndex) this.samples.push({ at: now, index: lastIndex });
    // Keep one sample older than the window: it tells what was held when the window began.
    while (this.samples.length > 1 && this.samples[1]!.at <= now - this.windowMs) this.samples.shift();
  }

  /**
   * How long ago (at time now) this replica first held index.
   * @returns the age in ms and whether it is only a lower bound (index was
   *   held before the oldest sample kept); 0 for an index not held yet
   */
  ageOf(now: number, index: number): { ms: number; atLeast: boolean } {
    const first = this.samples.find((s) => s.index >= index);
    if (!first) return { ms: 0, atLeast: false };
    if (first === this.samples[0]) {
      // Held from the oldest sample on: since the window's start, or since sampling began.
      const bound = Math.min(now - this.since, this.windowMs);
      return { ms: Math.max(now - first.at, bound), atLeast: true };
    }
    return { ms: now - first.at, atLeast: false };
  }
}

/** What buildReplicaStatus reads besides the node's status. */
export interface StatusContext {
  readonly now: number;
  readonly startedAt: number;
  readonly version: string;
  readonly history: LastIndexHistory;
  readonly transport?: { stats(): NatsTransportStats };
}

/** @returns the admin view of a node's status */
export function buildReplicaStatus(s: NodeStatus, ctx: StatusContext): ReplicaStatus {
  const stats = ctx.transport?.stats();
  const followers = s.followers && lagOf(s.followers, s.lastIndex, ctx);
  return {
    id: s.id,
    role: s.role,
    term: s.term,
    leaderId: s.leaderId,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    members: { ...s.members, joint: s.members.outgoing.length > 0 },
    ...(s.leadTransferee !== undefined ? { leadTransferee: s.leadTransferee } : {}),
    ...(followers ? { followers } : {}),
    ...(s.storageError !== undefined ? { storageError: s.storageError } : {}),
    drops: {
      node: s.droppedMessages,
      ...(stats ? { received: stats.dropped, sent: stats.sendDropped } : {}),
    },
    ...(s.proposals ? { proposals: s.proposals } : {}),
    ...(s.verification ? { verification: s.verification } : {}),
    ...(stats ? { connected: stats.connected } : {}),
    uptimeMs: Math.max(0, ctx.now - ctx.startedAt),
    version: ctx.version,
  };
}

function lagOf(
  progress: Readonly<Record<NodeId, FollowerProgress>>,
  lastIndex: number,
  ctx: StatusContext,
): Record<NodeId, FollowerLag> {
  const out: Record<NodeId, FollowerLag> = {};
  for (const [id, p] of Object.entries(progress)) {
    const lagEntries = Math.max(0, lastIndex - p.match);
    const age = lagEntries === 0 ? { ms: 0, atLeast: false } : ctx.history.ageOf(ctx.now, p.match + 1);
    out[id] = { ...p, lagEntries, lagMs: age.ms, ...(age.atLeast ? { lagMsAtLeast: true as const } : {}) };
  }
  return out;
}
