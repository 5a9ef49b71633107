/**
 * Every named error raftline throws, in one place. Each is a class with a
 * stable `name` and, where another error caused it, a `cause`.
 */

/** Base class: `err instanceof RaftlineError` catches every raftline error. */
export class RaftlineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing, out of range or inconsistent; the message names every field involved. */
export class ConfigError extends RaftlineError {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * The node is not the leader, so it cannot accept a proposal. `leaderId` is the
 * leader it last heard of ('' when it knows none): retry there.
 */
export class NotLeaderError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly leaderId: string,
  ) {
    super(
      leaderId
        ? `node ${nodeId} is not the leader; the leader is ${leaderId}`
        : `node ${nodeId} is not the leader and knows no leader`,
    );
  }
}

/**
 * The leader is handing leadership over (thesis §3.10) and accepts no
 * proposals meanwhile; retry shortly, at the new leader.
 */
export class LeadershipTransferError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly transferee: string,
  ) {
    super(`node ${nodeId} is transferring leadership to ${transferee}; retry shortly`);
  }
}

/**
 * The node lost leadership before the command was known to commit. The
 * outcome is unknown: the command may still commit under the next leader.
 * Retry with the same client session to apply it at most once.
 */
export class LeadershipLostError extends RaftlineError {
  constructor(readonly index: number) {
    super(`leadership lost while entry ${index} was in flight; the command may or may not have committed`);
  }
}

/**
 * A linearizable or lease read could not be confirmed: leadership changed,
 * no leader is known, or the confirmation took longer than timeoutMs.
 * Nothing was read; reads are always safe to retry.
 */
export class ReadNotConfirmedError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly reason: string,
  ) {
    super(`read on node ${nodeId} not confirmed: ${reason}`);
  }
}

/** The command was not applied within timeoutMs. Like LeadershipLostError, its outcome is unknown. */
export class ProposalTimeoutError extends RaftlineError {
  constructor(readonly timeoutMs: number) {
    super(`proposal not applied within ${timeoutMs} ms; the command may or may not have committed`);
  }
}

/**
 * Too much is waiting already, so the request was refused at once: nothing
 * was appended, applied or read, and retrying later (with a pause) is safe.
 * `limitName` names the bound that was reached: 'maxPendingProposals',
 * 'maxPendingBytes' or 'maxPendingDelayMs' (the node's proposals waiting to
 * apply, NodeConfig), or
 * 'maxInFlightPerClient' (one client connection's requests a replica is
 * serving, serveClients). `limit` is its value. It carries no stack
 * trace: under overload one is made per refused request, and refusing must
 * cost far less than serving.
 */
export class OverloadedError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly limitName: string,
    readonly limit: number,
  ) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(
        `node ${nodeId} is overloaded: ${limitName} (${limit}) reached; nothing was applied, retry later`,
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }
}

/** @internal What make() returns, made without capturing a stack trace (errors made at a flood's rate). */
export function withoutStack<T>(make: () => T): T {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * The node was stopped (or is not started); nothing more is accepted. When
 * it stopped itself because it could not go on safely, `cause` says why
 * (a StateLostError).
 */
export class NodeStoppedError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    cause?: Error,
  ) {
    super(`node ${nodeId} is stopped${cause ? `: ${cause.message}` : ''}`, cause ? { cause } : undefined);
  }
}

/**
 * This replica's log ends before entries it had acknowledged to the leader as
 * durable: its storage was wiped, replaced by an older copy, or is not
 * durable (in-memory stores restarted). Raft counted those acknowledgements
 * towards commits and votes, so a replica that goes on without them could
 * help elect a leader that lacks committed entries. The node stops itself
 * (RaftNode.onHalt hears it; `raftline serve` exits 1). To bring it back:
 * remove it from the group, clear its storage and add it again; it then
 * catches up from the leader.
 */
export class StateLostError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    /** The last index of this replica's log now. */
    readonly lastIndex: number,
    readonly leaderId: string,
    /** The index the leader holds as acknowledged by this replica (at least). */
    readonly acknowledged: number,
  ) {
    super(
      `node ${nodeId} lost log entries it had acknowledged: its log ends at ${lastIndex}, ` +
        `but leader ${leaderId} holds it as having ${acknowledged} (storage wiped, restored from an older copy, ` +
        `or in-memory stores restarted); it stopped rather than vote or acknowledge without them. ` +
        `Remove it from the group, clear its storage and add it back`,
    );
  }
}

/** The state machine's validation refused the command before it was replicated; nothing was applied. */
export class CommandRejectedError extends RaftlineError {
  constructor(
    readonly command: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`command ${command} rejected: ${reason}`, options);
  }
}

/**
 * A payload is larger than a limit on its way, so it did not go there.
 * `what` says which payload and what that means:
 * - 'command': the command was refused before it was sent (a client checks
 *   the NATS server's max_payload) or before it entered the log (a replica
 *   checks NodeConfig.maxCommandBytes and its transport's limit): nothing
 *   was replicated or applied. Retrying the same command cannot succeed.
 * - 'reply': the command was applied, but its result is too large to send
 *   back to the client.
 * `size` and `limit` are in bytes; `limitName` names the limit
 * ('NATS max_payload', 'maxCommandBytes', …).
 */
export class PayloadTooLargeError extends RaftlineError {
  constructor(
    readonly what: 'command' | 'reply',
    readonly size: number,
    readonly limit: number,
    readonly limitName: string,
  ) {
    super(
      `${what} of ${size} bytes exceeds ${limitName} (${limit} bytes); ` +
        (what === 'command'
          ? 'nothing was applied'
          : 'the command was applied but its result cannot be sent back'),
    );
  }
}

/**
 * A membership change was refused: another is still in progress (at most one
 * at a time), it would leave no voter, or its target is invalid.
 */
export class MembershipChangeError extends RaftlineError {}

/**
 * The command's handler threw while applying (or the framework failed it:
 * the handler returned a Promise, its session was malformed, its result is
 * not plain data); every replica saw the same failure.
 *
 * `reason` is what the handler threw's message. `errorName` is its `name`,
 * or its class's name when it keeps the `name` Error gives it
 * (`'StaleTokenError'` for a `class StaleTokenError extends Error {}`,
 * `'Error'` for a plain Error), so a caller can tell one refusal from another without
 * parsing the message; it is undefined when the framework failed the command
 * or the handler threw something that is not an Error. It is replicated like
 * the rest of the result (kept for exactly-once retries, in snapshots, on the
 * committed stream as `error.errorName`, and over NATS), so every replica and
 * every caller sees the same one. The message names it too, unless it is the
 * plain `'Error'`: `command ack failed while applying: StaleTokenError: token 3 < 4`.
 */
export class CommandFailedError extends RaftlineError {
  constructor(
    readonly command: string,
    readonly reason: string,
    readonly errorName?: string,
  ) {
    const named = errorName && errorName !== 'Error' ? `${errorName}: ` : '';
    super(`command ${command} failed while applying: ${named}${reason}`);
  }
}

/** No handler is registered for that command or query name. */
export class UnknownCommandError extends RaftlineError {
  constructor(
    readonly command: string,
    readonly kind: 'command' | 'query' = 'command',
  ) {
    super(`unknown ${kind} ${command}`);
  }
}

/** A state-machine class declares two handlers for one name, or two of a hook that allows one. */
export class DuplicateHandlerError extends RaftlineError {}

/** A state-machine class misses something the framework needs (the `@StateMachine` decorator, a validated command). */
export class MissingHandlerError extends RaftlineError {}

/**
 * The client session was expired (or never registered) when a retried
 * command arrived, so the framework cannot tell whether it already applied.
 */
export class SessionExpiredError extends RaftlineError {
  constructor(readonly clientId: string) {
    super(`client session ${clientId} is unknown or expired; start a new session`);
  }
}

/** The requested log entries were compacted into a snapshot. */
export class CompactedError extends RaftlineError {
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super(`entry ${index} is compacted; the log starts at ${firstIndex}`);
  }
}

/**
 * The committed stream cannot say what became of entry `index` (applied,
 * failed or duplicate): this replica restarted from a snapshot that carries
 * no outcomes (one an earlier raftline wrote), so outcomes are known only
 * from `knownFrom` on. Resume from knownFrom, or from another replica.
 */
export class OutcomeUnavailableError extends RaftlineError {
  constructor(
    readonly index: number,
    readonly knownFrom: number,
  ) {
    super(`the outcome of entry ${index} is not known here; outcomes are known from index ${knownFrom} on`);
  }
}

/** An append would leave a gap in the log. */
export class LogGapError extends RaftlineError {
  constructor(
    readonly index: number,
    readonly lastIndex: number,
  ) {
    super(`append at ${index} would leave a gap after last index ${lastIndex}`);
  }
}

/** No snapshot has been committed yet. */
export class SnapshotNotFoundError extends RaftlineError {
  constructor() {
    super('no snapshot');
  }
}

/** A payload could not be decoded (malformed, truncated or of another version). */
export class DecodeError extends RaftlineError {}

/**
 * This replica's state differs from the leader's: at the verification
 * marker `index` its digest was `actual` where the leader reported
 * `expected` (see RaftNode.verify()). With divergenceAction 'stop-applying'
 * (the default) it stopped applying there, and refuses queries (and, as a
 * leader, commands) with this error rather than serve state that differs,
 * until it restarts or installs a snapshot from the leader. Ask another
 * replica. A command that was already in flight when it stopped may still
 * commit and apply on the others: its outcome is unknown, so retry it with
 * the same session.
 */
export class DivergedError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly index: number,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `node ${nodeId} diverged from the leader at verification marker ${index} ` +
        `(its digest ${actual}, the leader's ${expected}); it stopped applying`,
    );
  }
}

/** This replica had not applied entry `index` within timeoutMs (RaftNode.digestAt()); ask again later. */
export class ApplyTimeoutError extends RaftlineError {
  constructor(
    readonly nodeId: string,
    readonly index: number,
    readonly timeoutMs: number,
  ) {
    super(`node ${nodeId} did not apply entry ${index} within ${timeoutMs} ms`);
  }
}
