import { RaftlineError } from '../errors';
import type { ProtocolConfig } from './config';
import type { RaftLog } from './log';
import { allMembers, allVoters, committedIndex, jointVoteResult, type Membership } from './membership';
import { Progress } from './progress';
import { ReadOnlyQueue, type PendingRead } from './read-only';
import {
  NONE,
  type AppendResponse,
  type FollowerProgress,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type ReadState,
  type SnapshotInfo,
} from './types';

/** What the Leader needs from the RaftProtocol that owns it. */
export interface LeaderHost {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  readonly term: number;
  readonly membership: Membership;
  send(m: Message): void;
  readState(rs: ReadState): void;
  /** The newest durable snapshot, to send to followers that need compacted entries. */
  readonly snapshot: SnapshotInfo | undefined;
}

/**
 * Everything only a leader keeps, created by becomeLeader and dropped when
 * the role ends: each follower's progress and flow control (§5.3),
 * commitment (§5.3, §5.4.2), ReadIndex and the lease (thesis §6.4), and
 * leadership transfer (thesis §3.10).
 */
export class Leader {
  readonly progress = new Map<NodeId, Progress>();
  /** Ticks since this leadership began: the clock of the read lease. */
  private ticks = 0;
  private readonly reads = new ReadOnlyQueue();
  /** Reads that arrived before the first commit of this term (§6.4 step 1). */
  private readsBeforeCommit: { context: string; from: NodeId; lease: boolean }[] = [];
  transferee: NodeId = NONE;
  private transferElapsed = 0;
  /** A TimeoutNow went out this term, so voters may ignore our lease: no more lease reads. */
  private transferredThisTerm = false;

  constructor(private readonly host: LeaderHost) {
    this.syncMembers();
  }

  /** Tracks progress for exactly the current members: new ones start probing, removed ones are dropped. */
  syncMembers(): void {
    const members = allMembers(this.host.membership).filter((id) => id !== this.host.id);
    for (const id of [...this.progress.keys()]) if (!members.includes(id)) this.progress.delete(id);
    for (const id of members) {
      if (this.progress.has(id)) continue;
      const pr = new Progress(this.host.log.lastIndex() + 1, this.host.config.maxInflightMessages);
      pr.pendingEmpty = true;
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
    if (this.transferee !== NONE && !this.host.membership.voters.includes(this.transferee))
      this.transferee = NONE;
  }

  /** One tick of leader time; abandons a transfer that outlived an election timeout (thesis §3.10). */
  tick(): void {
    this.ticks++;
    if (this.transferee !== NONE && ++this.transferElapsed >= this.host.config.electionTicks) {
      this.transferee = NONE;
    }
  }

  /** Counts the voters heard from since the last check (thesis §6.2), then starts a new round. */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>([[this.host.id, true]]);
    for (const [id, pr] of this.progress) {
      if (pr.recentActive) active.set(id, true);
      pr.recentActive = false;
    }
    return jointVoteResult(this.host.membership, active) === 'won';
  }

  // ------------------------------------------------------------ replication

  handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      // Skip the follower's whole conflicting term in one step.
      const hint = m.hintTerm > 0 ? this.host.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex;
      if (pr.maybeDecrTo(m.index, hint)) pr.pendingEmpty = true;
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    // Whatever became of the transfer, this ack shows the follower's log: a moot snapshot is not waited for.
    if (pr.snapshotMoot(this.host.log.firstIndex())) pr.becomeReplicate();
    if (!updated) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    this.maybeCommit();
    if (m.from === this.transferee && pr.match === this.host.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    pr.lastAckSentAt = Math.max(pr.lastAckSentAt, m.sentAt);
    // A full window of lost appends would otherwise stall this follower for good.
    if (pr.isPaused()) pr.freeFirstInflight();
    if (pr.match < this.host.log.lastIndex()) pr.pendingEmpty = true;
    if (m.context !== '') this.handleReadAck(m.from, m.context);
  }

  /**
   * §5.3, §5.4.2: commit the highest index a quorum holds durably, but only
   * if that entry is of the current term; the leader counts only what it has
   * itself made durable (log.stable, thesis §10.2.1). Tells followers when it moves.
   */
  maybeCommit(): void {
    const { log, term } = this.host;
    const q = committedIndex(this.host.membership, (id) =>
      id === this.host.id ? log.stable : (this.progress.get(id)?.match ?? 0),
    );
    if (q <= log.committed || log.term(q) !== term) return;
    log.commitTo(q);
    for (const pr of this.progress.values()) pr.pendingEmpty = true;
    const waiting = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const r of waiting) this.readIndex(r.context, r.from, r.lease);
  }

  /**
   * Heartbeats to every follower, carrying the newest waiting read's context
   * (thesis §6.4). A probe unanswered for an election timeout is released to
   * go out again: its heartbeats may go unanswered too (a follower that does
   * not yet know us as a member answers nothing but an append, see mayLead).
   */
  bcastHeartbeat(): void {
    const context = this.reads.lastContext();
    const { id, term, log, config } = this.host;
    for (const [to, pr] of this.progress) {
      if (pr.state === 'probe' && pr.probeSent && this.ticks - pr.probeSentAt >= config.electionTicks) {
        pr.probeSent = false;
        pr.pendingEmpty = true;
      }
      const commit = Math.min(pr.match, log.committed);
      this.host.send({ type: 'heartbeat', from: id, to, term, commit, context, sentAt: this.ticks });
    }
  }

  /** Sends each follower what it lacks, batching everything proposed since the last Ready. */
  flushAppends(): void {
    for (const [to, pr] of this.progress) {
      if (pr.pendingEmpty) this.maybeSendAppend(to, pr, true);
      while (this.maybeSendAppend(to, pr, false));
    }
  }

  /** Returns whether an append was sent. */
  private maybeSendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const { log, config } = this.host;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, pr);
    const entries = log.slice(
      pr.next,
      log.lastIndex(),
      config.maxEntriesPerMessage,
      config.maxBytesPerMessage,
    );
    if (entries.length === 0 && !sendIfEmpty) return false;
    const { id: from, term } = this.host;
    this.host.send({ type: 'append', from, to, term, prevIndex, prevTerm, entries, commit: log.committed });
    pr.sent(prevIndex + entries.length, entries.length);
    pr.probeSentAt = this.ticks;
    pr.pendingEmpty = false;
    return true;
  }

  /** §7: the entries the follower needs are compacted away; send the snapshot instead. */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.host.snapshot;
    if (!snapshot) return false;
    pr.becomeSnapshot(snapshot.index);
    this.host.send({ type: 'snapshot', from: this.host.id, to, term: this.host.term, snapshot });
    return true;
  }

  /**
   * The runtime's outcome of a snapshot transfer to `to`. 'finished': every
   * chunk was acknowledged, so probe from after the snapshot (the follower's
   * own ack may have been lost). 'failed': fall back to probing from its
   * match, which sends the snapshot again. Either way only while the
   * follower's progress still waits for a snapshot.
   */
  reportSnapshot(to: NodeId, outcome: 'finished' | 'failed'): void {
    const pr = this.progress.get(to);
    if (!pr || pr.state !== 'snapshot') return;
    if (outcome === 'failed') {
      pr.snapshotFailed();
      pr.pendingEmpty = true;
      return;
    }
    pr.snapshotFinished();
    pr.probeSentAt = this.ticks;
  }

  // ------------------------------------------------------------------ reads

  /** ReadIndex (thesis §6.4) for a read from `from`: ourselves or a follower. */
  readIndex(context: string, from: NodeId, lease: boolean): void {
    const { log, term } = this.host;
    if (log.term(log.committed) !== term) {
      this.readsBeforeCommit.push({ context, from, lease });
      return;
    }
    const read = { context, index: log.committed, from };
    const voters = allVoters(this.host.membership);
    const alone = voters.length === 1 && voters[0] === this.host.id;
    if (alone || (lease && this.leaseValid())) {
      this.serveRead(read);
      return;
    }
    this.reads.add(context, read.index, from, this.host.id);
    this.bcastHeartbeat();
  }

  private handleReadAck(from: NodeId, context: string): void {
    const acks = this.reads.recvAck(from, context);
    if (!acks) return;
    const votes = new Map([...acks].map((id) => [id, true] as const));
    if (jointVoteResult(this.host.membership, votes) !== 'won') return;
    for (const r of this.reads.release(context)) this.serveRead(r);
  }

  private serveRead(r: Pick<PendingRead, 'context' | 'index' | 'from'>): void {
    if (r.from === this.host.id) {
      this.host.readState({ index: r.index, context: r.context });
      return;
    }
    const { id: from, term } = this.host;
    this.host.send({
      type: 'read-index-resp',
      from,
      to: r.from,
      term,
      context: r.context,
      index: r.index,
      reject: false,
    });
  }

  /**
   * The leader lease: a quorum acknowledged a heartbeat sent less than
   * electionTicks − leaseDriftTicks ticks ago, and voters ignore other
   * candidates for electionTicks after hearing from us, so no other leader
   * can exist yet. Never valid without check-quorum, or once this term sent
   * a TimeoutNow (a transfer's votes bypass the lease).
   */
  private leaseValid(): boolean {
    const { config } = this.host;
    if (!config.leaseReads || !config.checkQuorum || this.transferredThisTerm || this.transferee !== NONE) {
      return false;
    }
    const confirmed = committedIndex(this.host.membership, (id) =>
      id === this.host.id ? this.ticks : (this.progress.get(id)?.lastAckSentAt ?? -Infinity),
    );
    return this.ticks - confirmed < config.electionTicks - config.leaseDriftTicks;
  }

  // --------------------------------------------------------------- transfer

  /**
   * Starts a leadership transfer to `to`, or to the most up-to-date other voter.
   * @throws RaftlineError when the target is not another voter
   */
  transfer(to: NodeId | undefined): void {
    const target = to ?? this.mostUpToDateFollower();
    if (target === undefined || target === this.host.id || !this.host.membership.voters.includes(target)) {
      throw new RaftlineError(
        `cannot transfer leadership to ${String(target ?? 'nobody')}: not another voter`,
      );
    }
    if (this.transferee === target) return;
    this.transferee = target;
    this.transferElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.host.log.lastIndex()) this.sendTimeoutNow(target);
    else pr.pendingEmpty = true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.transferredThisTerm = true;
    this.host.send({ type: 'timeout-now', from: this.host.id, to, term: this.host.term });
  }

  /** The other voter with the highest match index (first in voter order on a tie). */
  private mostUpToDateFollower(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of this.host.membership.voters) {
      const match = this.progress.get(id)?.match ?? -1;
      if (id !== this.host.id && match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  /** Each follower's progress, for status(). */
  view(): Record<NodeId, FollowerProgress> {
    const out: Record<NodeId, FollowerProgress> = {};
    for (const [id, pr] of this.progress) out[id] = pr.view();
    return out;
  }
}
