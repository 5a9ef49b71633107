import { RaftlineError } from '../errors';
import type { LeaderHost } from './leader-host';
import type { Progress } from './progress';
import { NONE, type NodeId } from './types';

/**
 * Leadership transfer for one leadership (thesis §3.10): the leader brings
 * the target up to date, then sends it TimeoutNow; the target campaigns at
 * once (follower.ts). A transfer not done within an election timeout is
 * abandoned. Created and dropped with the Leader.
 */
export class LeaderTransfer {
  /** The voter leadership is moving to, or NONE. Proposals are refused while it is set. */
  transferee: NodeId = NONE;
  private elapsed = 0;
  /** A TimeoutNow went out this term, so voters may ignore our lease: no more lease reads. */
  private sentThisTerm = false;

  constructor(
    private readonly host: LeaderHost,
    private readonly progress: ReadonlyMap<NodeId, Progress>,
  ) {}

  /**
   * Starts a transfer to `to`, or to the most up-to-date other voter; a
   * transfer to the current transferee changes nothing.
   * @throws RaftlineError when the target is not another voter
   */
  start(to: NodeId | undefined): void {
    const target = to ?? this.mostUpToDateFollower();
    if (target === undefined || target === this.host.id || !this.host.membership.voters.includes(target)) {
      throw new RaftlineError(
        `cannot transfer leadership to ${String(target ?? 'nobody')}: not another voter`,
      );
    }
    if (this.transferee === target) return;
    this.transferee = target;
    this.elapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.host.log.lastIndex()) this.sendTimeoutNow(target);
    else pr.pendingEmpty = true;
  }

  /** One tick of leader time; abandons a transfer that outlived an election timeout. */
  tick(): void {
    if (this.transferee !== NONE && ++this.elapsed >= this.host.config.electionTicks) {
      this.transferee = NONE;
    }
  }

  /** `from`'s match advanced: the transferee, once it holds the whole log, is told to campaign. */
  maybeSendTimeoutNow(from: NodeId): void {
    if (from === this.transferee && this.progress.get(from)?.match === this.host.log.lastIndex()) {
      this.sendTimeoutNow(from);
    }
  }

  /** The membership changed: a transferee that is no longer a voter ends the transfer. */
  syncMembers(): void {
    if (this.transferee !== NONE && !this.host.membership.voters.includes(this.transferee))
      this.transferee = NONE;
  }

  /** Whether voters may ignore our lease: a transfer runs, or this term already sent a TimeoutNow. */
  breaksLease(): boolean {
    return this.sentThisTerm || this.transferee !== NONE;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.sentThisTerm = true;
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
}
