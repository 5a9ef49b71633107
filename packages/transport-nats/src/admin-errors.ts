import { RaftlineError, type NodeId } from '@raftline/core';

/**
 * Base class of the admin API's own errors (AdminClient, serveAdmin):
 * `err instanceof AdminError` catches each of them. `operation` names the
 * admin operation ('status', 'add-voter', …). Errors a replica raised that
 * are core's (MembershipChangeError, LeadershipTransferError,
 * ProposalTimeoutError, DivergedError, ConfigError, …) reach the caller as
 * those classes instead, rebuilt on the client with their fields.
 */
export class AdminError extends RaftlineError {
  constructor(
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The NATS server refused to let this connection publish on an admin
 * subject: its user lacks the permission (see the README's "NATS
 * permissions"). Nothing was sent; retrying with the same user cannot help.
 */
export class AdminPermissionError extends AdminError {
  constructor(
    operation: string,
    readonly subject: string,
    options?: { cause?: unknown },
  ) {
    super(operation, `${operation}: this NATS user may not publish on ${subject}`, options);
  }
}

/**
 * No replica (for an operation that runs on the leader: no leader) answered
 * within timeoutMs. `attempts` is how many requests were sent. When
 * `outcomeUnknown` is true a request went unanswered, so the operation may
 * have been carried out: read status() before deciding, or run it again —
 * every admin operation but an untargeted leadership transfer is idempotent.
 */
export class AdminUnavailableError extends AdminError {
  constructor(
    operation: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly outcomeUnknown: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      operation,
      `${operation}: no ${attempts === 0 ? 'replica was found' : 'replica carried it out'} within ${timeoutMs} ms` +
        (outcomeUnknown ? '; it may or may not have been carried out' : '; it was not carried out'),
      options,
    );
  }
}

/**
 * The replica (the leader, for a membership change or a transfer) did not
 * finish the operation within its timeoutMs. It may still finish: each
 * membership operation is idempotent, so run it again, or read status().
 */
export class AdminTimeoutError extends AdminError {
  constructor(
    operation: string,
    readonly nodeId: NodeId,
    readonly timeoutMs: number,
  ) {
    super(operation, `${operation} did not finish on ${nodeId} within ${timeoutMs} ms; it may still finish`);
  }
}

/**
 * The operation cannot apply to the group as it is, and was not tried:
 * promoting a node that is not a learner, adding as a learner a node that
 * is a voter, removing the last voter, transferring leadership to a node
 * that is not a voter. `reason` says which.
 */
export class AdminRefusedError extends AdminError {
  constructor(
    operation: string,
    readonly reason: string,
  ) {
    super(operation, `${operation} refused: ${reason}`);
  }
}

/**
 * A replica could not read an admin request: not JSON, not an object, an
 * unknown operation or key, a field of the wrong type. `problem` says which.
 * AdminClient never sends one; other clients (a dashboard) may.
 */
export class AdminRequestError extends AdminError {
  constructor(
    operation: string,
    readonly problem: string,
  ) {
    super(operation, `malformed ${operation} request: ${problem}`);
  }
}

/**
 * A replica failed the operation with an error that is not one of
 * raftline's (its `remoteName` and message are kept), or answered with
 * something that is not an admin reply.
 */
export class RemoteAdminError extends AdminError {
  constructor(
    operation: string,
    readonly nodeId: NodeId,
    readonly remoteName: string,
    remoteMessage: string,
  ) {
    super(operation, `${operation} failed on ${nodeId}: ${remoteName}: ${remoteMessage}`);
  }
}
