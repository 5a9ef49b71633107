import { RaftlineError } from '@raftline/core';

/**
 * A cluster id, group id or node id cannot be used as one NATS subject token:
 * it is empty or contains a dot, whitespace, a control character or a
 * wildcard (`*`, `>`). `field` names the option and `value` the offending value.
 */
export class SubjectTokenError extends RaftlineError {
  constructor(
    readonly field: string,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`${field} (${JSON.stringify(value)}) is not a valid NATS subject token: ${problem}`);
  }
}

/** The transport was used after close(), or listen() was called twice. */
export class TransportStateError extends RaftlineError {}

/**
 * A replica refused or failed the command (or query). `remoteName` is the
 * replica's error name (CommandRejectedError, CommandFailedError,
 * UnknownCommandError, ReadNotConfirmedError, …); when it is one of
 * raftline's errors, `cause` is that error rebuilt as its own class, with
 * its fields (MachineClient throws the cause itself).
 * When `outcomeUnknown` is true (LeadershipLostError, ProposalTimeoutError,
 * NodeStoppedError) the command may or may not have committed: retry with the
 * same client session to apply it at most once (NatsRaftClient does so by
 * itself for a command with a session, up to its `retries`). `attempts` is
 * how many requests the client sent for the command.
 */
export class RemoteCommandError extends RaftlineError {
  constructor(
    readonly remoteName: string,
    message: string,
    readonly outcomeUnknown: boolean,
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(`${remoteName}: ${message}`, options);
  }
}

/**
 * A request was sent but no answer came back (a timeout, or the connection
 * dropped meanwhile), and no later attempt settled it: the command may or may
 * not have committed. `attempts` is how many requests the client sent for the
 * command (a client retries a command with a session by itself; see
 * NatsRaftClientOptions.retries); `cause` is the last attempt's error.
 */
export class OutcomeUnknownError extends RaftlineError {
  constructor(
    message: string,
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(`${message} (after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'})`, options);
  }
}

/**
 * No replica accepted the command within the client's timeout: every attempt
 * was refused (no leader known, no replica reachable), so nothing was applied.
 * `attempts` is how many requests the client sent.
 */
export class LeaderUnavailableError extends RaftlineError {
  constructor(
    readonly timeoutMs: number,
    readonly attempts = 0,
  ) {
    super(`no leader accepted the command within ${timeoutMs} ms; it was not applied`);
  }
}

/**
 * The committed stream in JetStream cannot be continued from this replica's
 * log: its last message is gone (deleted, or expired by a stream limit), it
 * does not decode, or it disagrees with the log at its index (the stream
 * holds another cluster's history). The mirror does not publish while this
 * holds; it retries, and reports the problem in its status.
 */
export class CommittedStreamError extends RaftlineError {
  constructor(
    readonly stream: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`stream ${stream}: ${message}`, options);
  }
}

/** Who answered for a node id: the process a live transport runs in. */
export interface LiveInstance {
  readonly pid: number;
  readonly host: string;
  /** When that transport was created (ms since the epoch). */
  readonly startedAt: number;
  /** `starting`: it was still in NatsTransport.create, started at the same moment and earlier. */
  readonly state: 'running' | 'starting';
}

/**
 * Another live transport answers for this (cluster, group, node): a second
 * process with the same node id would be a second Raft voter with one
 * identity. Thrown by NatsTransport.create, which then has subscribed to
 * nothing and published no Raft frame. Stop the other process, or give this
 * one another id. `other` is what the live one reported about itself.
 */
export class DuplicateNodeError extends RaftlineError {
  constructor(
    readonly cluster: string,
    readonly group: string,
    readonly nodeId: string,
    readonly other: LiveInstance,
  ) {
    super(
      `node ${nodeId} of ${cluster}/${group} is ` +
        (other.state === 'running'
          ? 'already running'
          : 'being started by another process at the same moment') +
        ` (pid ${other.pid} on ${other.host}, since ${new Date(other.startedAt).toISOString()})`,
    );
  }
}
