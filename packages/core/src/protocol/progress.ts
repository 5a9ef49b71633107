import type { FollowerProgress, NodeId } from './types';

/**
 * The leader's record of one follower (§5.3 nextIndex/matchIndex), with the
 * flow control that makes replication pipelined but bounded.
 *
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** In snapshot state: the index of the snapshot being installed. */
  pendingSnapshot = 0;
  /** In probe state: an append is out and unanswered, so wait before sending another. */
  probeSent = false;
  /** Leader ticks when probeSent was last set: a probe unanswered for an election timeout is sent again. */
  probeSentAt = 0;
  /** Last index of each append in flight, oldest first (replicate state). */
  private inflight: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** sentAt of the newest heartbeat this follower acknowledged (the leader lease's evidence). */
  lastAckSentAt = -Infinity;
  /** The leader owes this follower an append, even an empty one (to carry the commit index). */
  pendingEmpty = false;
  /** The commit index the last append (or heartbeat) to this follower carried. */
  commitSent = 0;

  constructor(
    next: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  /** The follower needs entries the leader compacted: send it snapshot `index`, and nothing else until it lands. */
  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflight = [];
  }

  /**
   * The runtime delivered every chunk of the snapshot: probe from just after
   * it (etcd's StateSnapshot → StateProbe). The probe waits, as if one were
   * out, for the follower's append-resp to the install; if that was lost, the
   * next heartbeat response releases a probe at the snapshot's index, which
   * the follower acknowledges (or rejects, when it never installed it, and
   * the snapshot is sent again).
   */
  snapshotFinished(): void {
    if (this.state !== 'snapshot') return;
    this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.probeSent = true;
  }

  /** The snapshot failed to install: probe again from what the follower is known to hold. */
  snapshotFailed(): void {
    if (this.state !== 'snapshot') return;
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.next = this.match + 1;
  }

  /**
   * In snapshot state, whether an acknowledgement made the transfer moot: the
   * follower holds the snapshot's index, or the leader's log (from
   * firstIndex on) again holds everything after what the follower has.
   */
  snapshotMoot(firstIndex: number): boolean {
    return this.state === 'snapshot' && (this.match >= this.pendingSnapshot || this.match + 1 >= firstIndex);
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.inflight = [];
    this.next = this.match + 1;
  }

  /** Whether the leader must hold back further appends until a response arrives. */
  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.state === 'probe' ? this.probeSent : this.inflight.length >= this.maxInflight;
  }

  /**
   * A heartbeat answered while the replicate window is full: the appends in it
   * may all have been lost, and with the window full nothing else would go out,
   * so the follower could never catch up. Free the oldest slot (as etcd does):
   * the next append either is acked or, if the follower lacks what it follows,
   * is rejected and turns this progress back to probing.
   */
  freeFirstInflight(): void {
    if (this.state === 'replicate') this.inflight.shift();
  }

  /** Records an append sent with entries up to lastIndex. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else {
      this.probeSent = true;
    }
  }

  /**
   * A success ack for index. Returns false when it is stale (not news).
   */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    let k = 0;
    while (k < this.inflight.length && this.inflight[k]! <= index) k++;
    if (k > 0) this.inflight.splice(0, k);
    return updated;
  }

  /**
   * A rejection of an append whose prevIndex was `rejected`; `hint` is the
   * highest index the leader now thinks might match. Returns false when the
   * rejection is stale and must be ignored.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    // No append goes out in snapshot state: a rejection then answers one sent before, and the snapshot supersedes it.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
    } else if (rejected !== this.next - 1) {
      return false;
    }
    this.state = 'probe';
    this.inflight = [];
    this.next = Math.max(this.match + 1, Math.min(rejected, hint + 1));
    this.probeSent = false;
    return true;
  }

  view(): FollowerProgress {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.state === 'replicate' ? this.inflight.length : this.probeSent ? 1 : 0,
      recentActive: this.recentActive,
    };
  }
}

/** The size of a majority of n voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of voters hold (§5.3): sort match
 * indexes descending and take the quorum-th.
 */
export function quorumMatch(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] ?? 0;
}

/** Outcome of a vote count: won once a quorum granted, lost once a quorum rejected. */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): 'won' | 'lost' | 'pending' {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (rejected >= q) return 'lost';
  return 'pending';
}
