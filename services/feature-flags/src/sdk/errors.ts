/**
 * The errors of the client SDK (FlagClient). Each has a stable `name`; those
 * that wrap another failure keep it as `cause`.
 */
import { RaftlineError } from '@raftline/core';

/** The client was closed: nothing more is evaluated against new state, waits end, writes are refused. */
export class FlagClientClosedError extends RaftlineError {
  constructor(readonly environment: string) {
    super(`the flag client of environment ${environment} is closed`);
  }
}

/** waitFor(index) gave up: the client had not applied that index within timeoutMs. */
export class WaitTimeoutError extends RaftlineError {
  constructor(
    readonly index: number,
    /** The index the client had applied when it gave up. */
    readonly appliedIndex: number,
    readonly timeoutMs: number,
  ) {
    super(`index ${index} not applied within ${timeoutMs} ms (the client is at ${appliedIndex})`);
  }
}

/**
 * A committed command could not be applied to the client's copy of the
 * environment as the replicas applied it (a command this version of the SDK
 * does not know, or a copy that no longer matches the log). The client
 * reloads a snapshot when it meets one; `index` is the command's.
 */
export class ViewOutOfDateError extends RaftlineError {
  constructor(
    readonly index: number,
    readonly command: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot apply command ${command} at index ${index} locally: ${detail}`, options);
  }
}
