import type { LeaderHost } from './leader-host';
import { allVoters, committedIndex, jointVoteResult } from './membership';
import type { Progress } from './progress';
import { ReadOnlyQueue, type PendingRead } from './read-only';
import type { LeaderTransfer } from './transfer';
import type { NodeId } from './types';

/** What the reads need from the Leader that owns them. */
export interface ReadsLeader {
  /** Ticks since this leadership began: the clock of the lease. */
  readonly ticks: number;
  readonly progress: ReadonlyMap<NodeId, Progress>;
  readonly transfer: Pick<LeaderTransfer, 'breaksLease'>;
  /** A heartbeat round carrying the newest waiting read's context (lastContext). */
  bcastHeartbeat(): void;
}

/**
 * ReadIndex and the leader lease for one leadership (thesis §6.4): a read
 * is answered with the commit index once a quorum confirmed, by a heartbeat
 * round sent after the read arrived, that this node still leads; or at once
 * while the lease holds. Created and dropped with the Leader.
 */
export class LeaderReads {
  private readonly queue = new ReadOnlyQueue();
  /** Reads that arrived before the first commit of this term (§6.4 step 1). */
  private beforeCommit: { context: string; from: NodeId; lease: boolean }[] = [];

  constructor(
    private readonly host: LeaderHost,
    private readonly leader: ReadsLeader,
  ) {}

  /** ReadIndex for a read from `from`: ourselves or a follower. */
  readIndex(context: string, from: NodeId, lease: boolean): void {
    const { log, term } = this.host;
    if (log.term(log.committed) !== term) {
      this.beforeCommit.push({ context, from, lease });
      return;
    }
    const read = { context, index: log.committed, from };
    const voters = allVoters(this.host.membership);
    const alone = voters.length === 1 && voters[0] === this.host.id;
    if (alone || (lease && this.leaseValid())) {
      this.serveRead(read);
      return;
    }
    this.queue.add(context, read.index, from, this.host.id);
    this.leader.bcastHeartbeat();
  }

  /** The first entry of this term committed: the reads that waited for it go on. */
  releaseBeforeCommit(): void {
    const waiting = this.beforeCommit;
    this.beforeCommit = [];
    for (const r of waiting) this.readIndex(r.context, r.from, r.lease);
  }

  /** The context the next heartbeat round should carry ('' when nothing waits). */
  lastContext(): string {
    return this.queue.lastContext();
  }

  /** `from` answered a heartbeat round carrying `context`: a quorum of answers serves it and every older read. */
  handleAck(from: NodeId, context: string): void {
    const acks = this.queue.recvAck(from, context);
    if (!acks) return;
    const votes = new Map([...acks].map((id) => [id, true] as const));
    if (jointVoteResult(this.host.membership, votes) !== 'won') return;
    for (const r of this.queue.release(context)) this.serveRead(r);
  }

  private serveRead(r: Pick<PendingRead, 'context' | 'index' | 'from'>): void {
    if (r.from === this.host.id) {
      this.host.readState({ index: r.index, context: r.context });
      return;
    }
    const { id: from, term } = this.host;
    // The follower applies up to the read index before it answers: it must know that much is committed.
    const pr = this.leader.progress.get(r.from);
    if (pr && pr.commitSent < r.index) pr.pendingEmpty = true;
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
    if (!config.leaseReads || !config.checkQuorum || this.leader.transfer.breaksLease()) return false;
    const { ticks, progress } = this.leader;
    const confirmed = committedIndex(this.host.membership, (id) =>
      id === this.host.id ? ticks : (progress.get(id)?.lastAckSentAt ?? -Infinity),
    );
    return ticks - confirmed < config.electionTicks - config.leaseDriftTicks;
  }
}
