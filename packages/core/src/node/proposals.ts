import {
  LeadershipLostError,
  LeadershipTransferError,
  PayloadTooLargeError,
  ProposalTimeoutError,
} from '../errors';
import type { Cancel } from '../ports/clock';
import type { RaftProtocol } from '../protocol/raft';
import type { Entry, Proposed } from '../protocol/types';
import type { ApplyResult } from './applier';
import { encodeCommand, type CommandEnvelope } from './command';
import type { NodeContext } from './context';
import type { LeadershipTransfer } from './transfer';

/** Options of one proposal. */
export interface ProposeOptions {
  /** Overrides NodeConfig.proposalTimeoutMs. */
  readonly timeoutMs?: number;
}

/**
 * Encodes a command for the log.
 * @throws PayloadTooLargeError when the entry exceeds maxCommandBytes or the transport's maxEntryBytes
 */
export function encodeProposal(
  envelope: CommandEnvelope,
  maxCommandBytes: number,
  maxEntryBytes: number | undefined,
): Uint8Array {
  const data = encodeCommand(envelope);
  const carried = maxEntryBytes ?? Infinity;
  if (data.byteLength > Math.min(maxCommandBytes, carried)) {
    throw carried < maxCommandBytes
      ? new PayloadTooLargeError('command', data.byteLength, carried, "the transport's maxEntryBytes")
      : new PayloadTooLargeError('command', data.byteLength, maxCommandBytes, 'maxCommandBytes');
  }
  return data;
}

interface Pending {
  readonly term: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

/**
 * The proposals waiting for their entries to apply here, by the log index
 * of their first entry. A proposal resolves with its outcome once applied
 * in the term it was proposed in, and fails with LeadershipLostError when
 * another term's entry took its index or this node stopped leading
 * (outcome unknown: it may still commit).
 */
export class Proposals {
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly transfers: Pick<LeadershipTransfer, 'afterTransfer'>,
  ) {}

  /**
   * Appends through `append` (a protocol proposal) and resolves when the
   * entry is applied here. Proposals refused while a leadership transfer
   * runs wait for it to end and are tried again.
   * Every failure is a rejection, never a throw.
   */
  appendAndWait(options: ProposeOptions, append: (protocol: RaftProtocol) => Proposed): Promise<unknown> {
    let firstIndex: number;
    let term: number;
    try {
      ({ firstIndex, term } = append(this.ctx.running()));
    } catch (err) {
      if (err instanceof LeadershipTransferError)
        return this.transfers.afterTransfer(() => this.appendAndWait(options, append));
      return Promise.reject(err); // one error channel: every failure is a rejection
    }
    const timeoutMs = options.timeoutMs ?? this.ctx.config.proposalTimeoutMs;
    const result = new Promise<unknown>((resolve, reject) => {
      const cancelTimer = this.ctx.clock.setTimeout(() => {
        if (this.pending.delete(firstIndex)) reject(new ProposalTimeoutError(timeoutMs));
      }, timeoutMs);
      this.pending.set(firstIndex, { term, resolve, reject, cancelTimer });
    });
    this.ctx.kick();
    return result;
  }

  /** Resolves the proposal that produced entry e, if it was proposed here in the same term. */
  settle(e: Entry, outcome: ApplyResult | undefined): void {
    const pending = this.pending.get(e.index);
    if (!pending) return;
    this.pending.delete(e.index);
    pending.cancelTimer();
    if (pending.term !== e.term) pending.reject(new LeadershipLostError(e.index));
    else if (!outcome) pending.resolve(undefined);
    else if (outcome.ok) pending.resolve(outcome.value);
    else pending.reject(outcome.error);
  }

  /** This node stopped leading: every waiting proposal's outcome is unknown. */
  leadershipLost(): void {
    for (const index of [...this.pending.keys()]) {
      const pending = this.pending.get(index)!;
      this.pending.delete(index);
      pending.cancelTimer();
      pending.reject(new LeadershipLostError(index));
    }
  }

  /** Fails every waiting proposal with error() (the node stopped). */
  failAll(error: () => Error): void {
    for (const pending of this.pending.values()) {
      pending.cancelTimer();
      pending.reject(error());
    }
    this.pending.clear();
  }
}
