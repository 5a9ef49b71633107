import {
  LeadershipLostError,
  LeadershipTransferError,
  NotLeaderError,
  OverloadedError,
  PayloadTooLargeError,
  ProposalTimeoutError,
} from '../errors';
import type { Cancel } from '../ports/clock';
import type { RaftProtocol } from '../protocol/raft';
import type { Entry, Proposed } from '../protocol/types';
import type { ApplyResult } from './applier';
import { encodeCommand, type CommandEnvelope } from './command';
import type { NodeContext } from './context';
import type { ProposalLoad } from './status';
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

/** A proposal waiting, before its append, for this leader to apply an entry of its term. */
interface CatchingUp {
  resolve(): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

/**
 * The delay bound (NodeConfig.maxPendingDelayMs) applies from this many
 * proposals waiting on: fewer cannot be a queue worth shedding, however long
 * the oldest has waited (a storage stall, an election).
 */
export const DELAY_BOUND_FROM = 64;

/** What an append made: the protocol's Proposed, and the bytes of the entries it appended when the caller counts them. */
export type Appended = Proposed & { readonly bytes?: number };

/** How an append proceeds: on any node (membership, markers), or only on a leader whose state is current. */
export type AppendGate = 'any' | 'current-leader';

/**
 * The proposals waiting for their entries to apply here, by the log index
 * of their first entry. A proposal resolves with its outcome once applied
 * in the term it was proposed in, and fails with LeadershipLostError when
 * another term's entry took its index or this node stopped leading
 * (outcome unknown: it may still commit).
 */
export class Proposals {
  private readonly pending = new Map<number, Pending>();
  private readonly catchingUp = new Set<CatchingUp>();
  /**
   * Proposals admitted and not yet settled (waiting to catch up, for a
   * transfer, or to apply): when each was admitted, oldest first; and their bytes.
   */
  private readonly admitted = new Map<number, number>();
  private admissions = 0;
  private admittedBytes = 0;
  private refused = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly transfers: Pick<LeadershipTransfer, 'afterTransfer'>,
  ) {}

  /**
   * Appends through `append` (a protocol proposal) and resolves when the
   * entry is applied here. Proposals refused while a leadership transfer
   * runs wait for it to end and are tried again.
   *
   * With gate 'current-leader' (commands, whose validation reads state),
   * `append` runs only on a leader that has applied an entry of its own
   * term, so that it sees every command acknowledged before (§5.4.2, §8):
   * any other node fails at once with NotLeaderError; a leader elected a
   * moment ago waits for that, within the same timeout, and fails with
   * NotLeaderError when it stops leading meanwhile (nothing was appended:
   * the command was not applied, retry at the leader) or with
   * ProposalTimeoutError. A leader long caught up appends synchronously.
   * Every failure is a rejection, never a throw.
   *
   * Admission comes first: with maxPendingProposals proposals, or
   * maxPendingBytes of their entries (as `append` reports them in
   * Appended.bytes), already waiting here, or with at least
   * DELAY_BOUND_FROM waiting of which the oldest has waited
   * maxPendingDelayMs, it fails at once with OverloadedError and appends
   * nothing.
   */
  appendAndWait(
    options: ProposeOptions,
    append: (protocol: RaftProtocol) => Appended,
    gate: AppendGate = 'any',
  ): Promise<unknown> {
    const full = this.refuseIfFull();
    if (full) return Promise.reject(full);
    const ticket = this.admissions++;
    this.admitted.set(ticket, this.ctx.clock.now());
    let held = 0; // this proposal's bytes, once appended (again after a transfer: counted once)
    const counted = (protocol: RaftProtocol): Proposed => {
      const appended = append(protocol);
      const bytes = appended.bytes ?? 0;
      this.admittedBytes += bytes - held;
      held = bytes;
      return appended;
    };
    const release = () => {
      this.admitted.delete(ticket);
      this.admittedBytes -= held;
    };
    const timeoutMs = options.timeoutMs ?? this.ctx.config.proposalTimeoutMs;
    const outcome = this.attempt(counted, gate, timeoutMs, timeoutMs);
    outcome.then(release, release);
    return outcome;
  }

  /** The OverloadedError a proposal arriving now gets, counted as refused; undefined when it would be admitted. */
  refuseIfFull(): OverloadedError | undefined {
    const full = this.refusal();
    if (full) this.refused++;
    return full;
  }

  /** The bound a proposal arriving now would pass, as the error it gets; undefined when it is admitted. */
  private refusal(): OverloadedError | undefined {
    const { maxPendingProposals, maxPendingBytes, maxPendingDelayMs } = this.ctx.config;
    const pending = this.admitted.size;
    if (pending >= maxPendingProposals)
      return new OverloadedError(this.ctx.id, 'maxPendingProposals', maxPendingProposals);
    if (this.admittedBytes >= maxPendingBytes)
      return new OverloadedError(this.ctx.id, 'maxPendingBytes', maxPendingBytes);
    if (maxPendingDelayMs > 0 && pending >= DELAY_BOUND_FROM) {
      const oldest = this.admitted.values().next().value!;
      if (this.ctx.clock.now() - oldest >= maxPendingDelayMs)
        return new OverloadedError(this.ctx.id, 'maxPendingDelayMs', maxPendingDelayMs);
    }
    return undefined;
  }

  /** How many proposals wait here to be applied, the bytes of their entries, and how many were refused. */
  load(): ProposalLoad {
    return { pending: this.admitted.size, pendingBytes: this.admittedBytes, refused: this.refused };
  }

  /** appendAndWait with leftMs of its timeoutMs still to go (less after waiting to catch up). */
  private attempt(
    append: (protocol: RaftProtocol) => Proposed,
    gate: AppendGate,
    timeoutMs: number,
    leftMs: number,
  ): Promise<unknown> {
    let firstIndex: number;
    let term: number;
    try {
      const protocol = this.ctx.running();
      if (gate === 'current-leader' && !leadsWithCurrentState(this.ctx.id, protocol))
        return this.afterCatchUp(timeoutMs, leftMs, (left) => this.attempt(append, gate, timeoutMs, left));
      ({ firstIndex, term } = append(protocol));
    } catch (err) {
      if (err instanceof LeadershipTransferError)
        return this.transfers.afterTransfer(() => this.attempt(append, gate, timeoutMs, timeoutMs));
      return Promise.reject(err); // one error channel: every failure is a rejection
    }
    const result = new Promise<unknown>((resolve, reject) => {
      const cancelTimer = this.ctx.clock.setTimeout(() => {
        if (this.pending.delete(firstIndex)) reject(new ProposalTimeoutError(timeoutMs));
      }, leftMs);
      this.pending.set(firstIndex, { term, resolve, reject, cancelTimer });
    });
    this.ctx.kick();
    return result;
  }

  /**
   * Waits, at most leftMs, until this leader has applied an entry of its
   * term (released by maybeCaughtUp), then runs `next` with the time left.
   */
  private afterCatchUp(
    timeoutMs: number,
    leftMs: number,
    next: (leftMs: number) => Promise<unknown>,
  ): Promise<unknown> {
    const since = this.ctx.clock.now();
    const caughtUp = new Promise<void>((resolve, reject) => {
      const waiter: CatchingUp = { resolve, reject, cancelTimer: () => {} };
      waiter.cancelTimer = this.ctx.clock.setTimeout(() => {
        if (this.catchingUp.delete(waiter)) reject(new ProposalTimeoutError(timeoutMs));
      }, leftMs);
      this.catchingUp.add(waiter);
    });
    return caughtUp.then(() => next(Math.max(1, leftMs - (this.ctx.clock.now() - since))));
  }

  /**
   * After each Ready: once this leader has applied an entry of its term, the
   * proposals that waited for it go on (in the order they arrived); when it
   * no longer leads, they fail with NotLeaderError (never appended).
   */
  maybeCaughtUp(protocol: RaftProtocol): void {
    if (this.catchingUp.size === 0) return;
    const start = protocol.termStartIndex();
    if (start === undefined) {
      this.failCatchingUp(() => new NotLeaderError(this.ctx.id, protocol.softState().leaderId));
      return;
    }
    if (protocol.log.applied < start) return;
    const waiting = [...this.catchingUp];
    this.catchingUp.clear();
    for (const w of waiting) {
      w.cancelTimer();
      w.resolve();
    }
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

  /**
   * This node stopped leading: every waiting proposal's outcome is unknown;
   * the ones still waiting to catch up were never appended (NotLeaderError).
   */
  leadershipLost(): void {
    this.failCatchingUp(() => new NotLeaderError(this.ctx.id, this.ctx.leaderId()));
    for (const index of [...this.pending.keys()]) {
      const pending = this.pending.get(index)!;
      this.pending.delete(index);
      pending.cancelTimer();
      pending.reject(new LeadershipLostError(index));
    }
  }

  /** Fails every waiting proposal with error() (the node stopped). */
  failAll(error: () => Error): void {
    this.failCatchingUp(error);
    for (const pending of this.pending.values()) {
      pending.cancelTimer();
      pending.reject(error());
    }
    this.pending.clear();
  }

  private failCatchingUp(error: () => Error): void {
    const waiting = [...this.catchingUp];
    this.catchingUp.clear();
    for (const w of waiting) {
      w.cancelTimer();
      w.reject(error());
    }
  }
}

/**
 * Whether a command may be validated and appended now: this node leads and
 * has applied an entry of its own term (its election no-op, §8), so its
 * state holds every command acknowledged before the proposal arrived.
 * @returns false on a leader that has not applied one yet
 * @throws NotLeaderError on any other node (with the leader it knows of)
 */
function leadsWithCurrentState(id: string, protocol: RaftProtocol): boolean {
  const start = protocol.termStartIndex();
  if (start === undefined) throw new NotLeaderError(id, protocol.softState().leaderId);
  return protocol.log.applied >= start;
}
