import { LeadershipTransferError } from '../errors';
import type { RaftProtocol } from '../protocol/raft';
import { NONE, type NodeId } from '../protocol/types';
import type { NodeContext } from './context';

/**
 * Leadership transfer as the node runs it (thesis §3.10): the protocol
 * moves leadership; this waits for the transfer to end, holds back work
 * that must not run meanwhile (proposals refused with
 * LeadershipTransferError), and releases it once a leader is known again.
 */
export class LeadershipTransfer {
  private waiters: (() => void)[] = [];

  constructor(private readonly ctx: NodeContext) {}

  /**
   * Moves leadership to `to`, or to the most up-to-date other voter.
   * @returns the new leader's id, once this node has heard of it ('' if it heard of none in time)
   * @throws NotLeaderError when this node is not the leader
   * @throws LeadershipTransferError when the transfer did not finish within an election timeout
   */
  async transfer(protocol: RaftProtocol, to?: NodeId): Promise<NodeId> {
    const { id, leaderId, isRunning } = this.ctx;
    const { tickMs, electionTimeoutMs } = this.ctx.config;
    protocol.transferLeader(to);
    this.ctx.kick();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (protocol.softState().role === 'leader') {
      throw new LeadershipTransferError(id, to ?? 'the most up-to-date voter');
    }
    for (let waited = 0; leaderId() === NONE || leaderId() === id; waited += tickMs) {
      if (waited > 2 * electionTimeoutMs || !isRunning()) break;
      await this.ctx.sleep(tickMs);
    }
    return leaderId() === id ? NONE : leaderId();
  }

  /**
   * Holds fn until the running leadership transfer ends and a leader is known
   * again, then runs it. Fix: a transfer ends on the old leader when the
   * target's vote request deposes it, before the target has won, so running fn
   * at once failed held proposals with a NotLeaderError naming no leader.
   */
  afterTransfer<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => this.waiters.push(resolve))
      .then(() => this.awaitKnownLeader())
      .then(fn);
  }

  /** Releases the waiters once the protocol runs no transfer any more. */
  maybeEnd(): void {
    if (this.waiters.length === 0) return;
    if (this.ctx.protocol()!.status().leadTransferee === NONE) this.release();
  }

  /** Releases every waiter (the transfer ended, or the node stopped). */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits, at most two election timeouts, until some leader is known (this node or another). */
  private async awaitKnownLeader(): Promise<void> {
    const { leaderId, isRunning } = this.ctx;
    const { tickMs, electionTimeoutMs } = this.ctx.config;
    for (let waited = 0; leaderId() === NONE; waited += tickMs) {
      if (waited > 2 * electionTimeoutMs || !isRunning()) return;
      await this.ctx.sleep(tickMs);
    }
  }
}
