import { ReadNotConfirmedError } from '../errors';
import type { Cancel } from '../ports/clock';
import type { RaftProtocol } from '../protocol/raft';
import type { ReadState } from '../protocol/types';
import type { NodeContext } from './context';

/**
 * How fresh a query must be:
 * - 'linearizable' (ReadIndex, thesis §6.4): the leader confirms it still leads
 *   with a heartbeat round, and the query runs once this replica applied the
 *   leader's commit index as of the request. Never stale, on any replica.
 * - 'lease': like linearizable, but the leader skips the heartbeat round while
 *   its lease holds (a quorum acknowledged it within electionTimeoutMs ×
 *   (1 − maxClockDrift)). Correct as long as clocks drift less than that
 *   margin: a leader that did not run for a while counts the ticks its
 *   clock says it missed before it judges the lease (TickClock); falls back
 *   to a heartbeat round once the lease has run out.
 * - 'stale': this replica's local state, at once; reports the index it read at.
 */
export type ReadConsistency = 'linearizable' | 'lease' | 'stale';

/** Options of one query. */
export interface QueryOptions {
  readonly consistency?: ReadConsistency;
  /** Overrides NodeConfig.proposalTimeoutMs for confirming the read. */
  readonly timeoutMs?: number;
}

/** A query's answer and the log index of the state it read. */
export interface QueryResult {
  readonly value: unknown;
  readonly appliedIndex: number;
}

interface PendingRead {
  readonly name: string;
  readonly args: readonly unknown[];
  /** The read index, once the leader confirmed it (a Ready's readStates). */
  index: number | undefined;
  resolve(value: QueryResult): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

/** Nodes created in this process, a part of each read nonce. */
let instances = 0;

/**
 * The node's ReadIndex reads (thesis §6.4): each waits for the leader to
 * confirm its read index, then for this replica to apply up to it, and
 * runs then on the local state. A read whose confirmation may never come
 * (leadership changed, timeout, stop) fails with ReadNotConfirmedError:
 * nothing was read, so it may be retried freely.
 */
export class NodeReads {
  private seq = 0;
  /** Makes read contexts unique across restarts, so a leader never confuses an old read with a new one. */
  private readonly nonce: string;
  private readonly pending = new Map<string, PendingRead>();

  /** `queryLocal` runs a query on the local state as of the applied index (RaftNode.queryLocal). */
  constructor(
    private readonly ctx: Pick<NodeContext, 'id' | 'clock' | 'kick'>,
    private readonly queryLocal: (name: string, args: readonly unknown[]) => QueryResult,
  ) {
    this.nonce = `${ctx.clock.now().toString(36)}.${(++instances).toString(36)}`;
  }

  /**
   * Asks `protocol` for a read index and resolves with the query's answer
   * once it is applied here.
   * @throws ReadNotConfirmedError when no leader is known (nothing was asked)
   */
  start(
    protocol: RaftProtocol,
    name: string,
    args: readonly unknown[],
    consistency: 'linearizable' | 'lease',
    timeoutMs: number,
  ): Promise<QueryResult> {
    const { id, clock } = this.ctx;
    const context = `${id}/${this.nonce}/${++this.seq}`;
    if (!protocol.readIndex(context, consistency === 'lease' ? 'lease' : 'safe')) {
      throw new ReadNotConfirmedError(id, 'no leader is known');
    }
    const result = new Promise<QueryResult>((resolve, reject) => {
      const cancelTimer = clock.setTimeout(() => {
        if (this.pending.delete(context)) {
          reject(new ReadNotConfirmedError(id, `not confirmed within ${timeoutMs} ms`));
        }
      }, timeoutMs);
      this.pending.set(context, { name, args, index: undefined, resolve, reject, cancelTimer });
    });
    this.ctx.kick();
    return result;
  }

  /** Records the read indexes a Ready confirmed; those reads now wait only for apply. */
  confirm(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const read = this.pending.get(rs.context);
      if (read) read.index = rs.index;
    }
  }

  /** Runs every read whose read index this replica has applied. */
  serve(applied: number): void {
    for (const [context, read] of this.pending) {
      if (read.index === undefined || read.index > applied) continue;
      this.pending.delete(context);
      read.cancelTimer();
      try {
        read.resolve(this.queryLocal(read.name, read.args));
      } catch (err) {
        read.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Fails reads whose confirmation may never come (all of them when `all`, e.g. on stop). */
  fail(reason: string, all: boolean): void {
    for (const [context, read] of this.pending) {
      if (read.index !== undefined && !all) continue; // confirmed: it only waits for apply
      this.pending.delete(context);
      read.cancelTimer();
      read.reject(new ReadNotConfirmedError(this.ctx.id, reason));
    }
  }
}
