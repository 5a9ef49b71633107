import type { ProtocolConfig } from './config';
import type { LeaderHost } from './leader-host';
import { allMembers, committedIndex, jointVoteResult } from './membership';
import { Progress } from './progress';
import { LeaderReads } from './reads';
import { LeaderTransfer } from './transfer';
import {
  NONE,
  type AppendResponse,
  type FollowerProgress,
  type HeartbeatResponse,
  type Message,
  type NodeId,
} from './types';

/**
 * Everything only a leader keeps, created by becomeLeader and dropped when
 * the role ends: each follower's progress and flow control (§5.3),
 * commitment (§5.3, §5.4.2), and, in parts of their own, ReadIndex and the
 * lease (reads.ts, thesis §6.4) and leadership transfer (transfer.ts,
 * thesis §3.10).
 */
export class Leader {
  readonly progress = new Map<NodeId, Progress>();
  /** ReadIndex and the lease (thesis §6.4). */
  readonly reads: LeaderReads;
  /** Leadership transfer (thesis §3.10). */
  readonly transfer: LeaderTransfer;
  private elapsedTicks = 0;
  /** A commit advanced that some follower may not have heard of (see flushCommit). */
  private commitUnsent = false;

  constructor(private readonly host: LeaderHost) {
    this.reads = new LeaderReads(host, this);
    this.transfer = new LeaderTransfer(host, this.progress);
    this.syncMembers();
  }

  /** Ticks since this leadership began: the clock of the read lease and of unanswered probes. */
  get ticks(): number {
    return this.elapsedTicks;
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
    this.transfer.syncMembers();
  }

  /** One tick of leader time; abandons a transfer that outlived an election timeout (thesis §3.10). */
  tick(): void {
    this.elapsedTicks++;
    this.transfer.tick();
    this.flushCommit();
  }

  /**
   * Tells followers of a commit they have not heard of, once a tick: an
   * append of its own per commit would double the messages of a lone
   * command, while under load the commit rides on the next entries.
   */
  private flushCommit(): void {
    if (!this.commitUnsent) return;
    this.commitUnsent = false;
    const { committed } = this.host.log;
    for (const pr of this.progress.values()) if (pr.commitSent < committed) pr.pendingEmpty = true;
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
    this.transfer.maybeSendTimeoutNow(m.from);
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
    if (m.context !== '') this.reads.handleAck(m.from, m.context);
  }

  /**
   * §5.3, §5.4.2: commit the highest index a quorum holds durably, but only
   * if that entry is of the current term; the leader counts only what it has
   * itself made durable (log.stable, thesis §10.2.1). Tells followers when it
   * moves: at once, or with lazyCommitNotify by the next append or tick
   * (at once still when the commit takes in a configuration entry).
   */
  maybeCommit(): void {
    const { log, term } = this.host;
    const q = committedIndex(this.host.membership, (id) =>
      id === this.host.id ? log.stable : (this.progress.get(id)?.match ?? 0),
    );
    if (q <= log.committed || log.term(q) !== term) return;
    const { pendingConfIndex } = this.host;
    // A configuration committed is told at once: followers act on it (a removed leader steps down now).
    const eager =
      !this.host.config.lazyCommitNotify || (log.committed < pendingConfIndex && pendingConfIndex <= q);
    log.commitTo(q);
    if (eager) for (const pr of this.progress.values()) pr.pendingEmpty = true;
    else this.commitUnsent = true; // the next append or tick tells them
    this.reads.releaseBeforeCommit();
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
      pr.commitSent = Math.max(pr.commitSent, commit);
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
    pr.commitSent = log.committed;
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

  /** Each follower's progress, for status(). */
  view(): Record<NodeId, FollowerProgress> {
    const out: Record<NodeId, FollowerProgress> = {};
    for (const [id, pr] of this.progress) out[id] = pr.view();
    return out;
  }
}

/** What the leader's step and tick handlers need from the peer that leads (peer.ts). */
export interface LeaderPeer {
  readonly term: number;
  readonly config: ProtocolConfig;
  readonly leader: Leader | undefined;
  electionElapsed: number;
  heartbeatElapsed: number;
  becomeFollower(term: number, leaderId: NodeId): void;
}

/** The leader's step handler: messages of its own term. */
export function stepLeader(r: LeaderPeer, m: Message): void {
  const leader = r.leader!;
  switch (m.type) {
    case 'append-resp':
      leader.handleAppendResponse(m);
      return;
    case 'heartbeat-resp':
      leader.handleHeartbeatResponse(m);
      return;
    case 'read-index':
      if (leader.progress.has(m.from)) leader.reads.readIndex(m.context, m.from, m.lease);
      return;
    case 'vote':
    case 'pre-vote':
    case 'vote-resp':
    case 'pre-vote-resp':
    case 'append':
    case 'heartbeat':
    case 'timeout-now':
    case 'read-index-resp':
    case 'snapshot':
    case 'snapshot-chunk':
    case 'snapshot-chunk-resp':
      return; // no other leader exists in our term (§5.2 election safety); chunks are the runtime's
    default:
      assertNever(m);
  }
}

/**
 * The leader's tick handler: heartbeats every heartbeatTicks, and with
 * check-quorum a step down after an election timeout in which no quorum
 * was heard from (thesis §6.2).
 */
export function tickHeartbeat(r: LeaderPeer): void {
  const leader = r.leader!;
  leader.tick();
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.config.electionTicks) {
    r.electionElapsed = 0;
    if (r.config.checkQuorum && !leader.quorumActive()) {
      // Thesis §6.2: a leader that cannot reach a quorum stops serving.
      r.becomeFollower(r.term, NONE);
      return;
    }
  }
  if (r.heartbeatElapsed >= r.config.heartbeatTicks) {
    r.heartbeatElapsed = 0;
    leader.bcastHeartbeat();
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
