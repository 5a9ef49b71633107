import type { NodeId } from './types';

/** A read waiting for the leader to confirm it still leads (thesis §6.4). */
export interface PendingRead {
  readonly context: string;
  /** The leader's commit index when the read arrived: the read index. */
  readonly index: number;
  /** Who asked: the leader itself or a follower to answer with read-index-resp. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/**
 * The leader's ReadIndex queue. Each request records the commit index at
 * arrival; a heartbeat round carrying the newest request's context confirms
 * leadership for it and for every older request (they were all made before
 * that round was sent), so one round serves a whole batch of reads.
 */
export class ReadOnlyQueue {
  private queue: PendingRead[] = [];

  /** Queues a read; a repeated context is ignored (it is already waiting). */
  add(context: string, index: number, from: NodeId, self: NodeId): void {
    if (this.queue.some((r) => r.context === context)) return;
    this.queue.push({ context, index, from, acks: new Set([self]) });
  }

  /** The context the next heartbeat round should carry ('' when nothing waits). */
  lastContext(): string {
    return this.queue[this.queue.length - 1]?.context ?? '';
  }

  /** Records that `from` answered a round carrying `context`. Returns that request's acks, or undefined if unknown. */
  recvAck(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const r = this.queue.find((q) => q.context === context);
    if (!r) return undefined;
    r.acks.add(from);
    return r.acks;
  }

  /** Removes and returns the request with `context` and every request queued before it. */
  release(context: string): PendingRead[] {
    const at = this.queue.findIndex((q) => q.context === context);
    if (at < 0) return [];
    return this.queue.splice(0, at + 1);
  }

  /** Drops every pending read (leadership lost); returns them. */
  clear(): PendingRead[] {
    const all = this.queue;
    this.queue = [];
    return all;
  }

  get size(): number {
    return this.queue.length;
  }
}
