/**
 * The CLI's exit codes and errors, in one place. Scripts can rely on the
 * codes; every error a user can cause prints as one line, without a stack.
 */
import { ConfigError, RaftlineError } from '@raftline/core';

/** What each exit code of `raftline` means (the README's table is this one). */
export const EXIT = {
  /** Done as asked. */
  ok: 0,
  /** The operation was refused or failed (a refused membership change, a command whose handler threw, …). */
  failed: 1,
  /** Bad usage or configuration: an unknown flag, invalid JSON arguments, an invalid config file; nothing was done. */
  usage: 2,
  /** `verify`: the replicas' digests differ, or some replica gave none. */
  diverged: 3,
  /** No replica, or no leader, answered in time; nothing was done. */
  unavailable: 4,
  /** The outcome is unknown: the request went unanswered and may have been carried out. */
  outcomeUnknown: 5,
  /** The NATS user may not do this (authorization refused by the server). */
  permission: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A usage error of the command line itself (bad JSON arguments, a missing --group); exits EXIT.usage. */
export class UsageError extends RaftlineError {
  constructor(message: string) {
    super(message);
  }
}

/** A group's committed-stream mirror could not start (JetStream not enabled, no permission on its API, …). */
export class MirrorStartError extends RaftlineError {
  constructor(
    readonly group: string,
    options: { cause: unknown },
  ) {
    super(
      `groups.${group}.mirror: the committed stream's JetStream mirror cannot start (is JetStream enabled on the NATS server?): ${
        options.cause instanceof Error ? options.cause.message : String(options.cause)
      }; set groups.${group}.mirror: false to run without it (raftline tail reads it)`,
      options,
    );
  }
}

/** A command that ran but whose result is a failure of its own kind (verify's divergence); carries its exit code. */
export class CommandExit extends RaftlineError {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

const UNAVAILABLE = new Set([
  'AdminUnavailableError',
  'LeaderUnavailableError',
  'ReadNotConfirmedError',
  'NodeStoppedError',
  'CommittedStreamError',
  'StoreUnavailableError',
]);
const OUTCOME_UNKNOWN = new Set([
  'OutcomeUnknownError',
  'AdminTimeoutError',
  'ProposalTimeoutError',
  'LeadershipLostError',
]);
const PERMISSION = new Set(['AdminPermissionError', 'PermissionViolationError', 'AuthorizationError']);
const USAGE = new Set([
  'ConfigError',
  'UsageError',
  'SubjectTokenError',
  'DuplicateNodeError',
  'NodeAlreadyRunningError',
  'DataDirInUseError',
  'MissingHandlerError',
  'DuplicateHandlerError',
]);

/** The exit code for an error that ended a command. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommandExit) return err.code;
  if (err instanceof ConfigError) return EXIT.usage;
  const e = err as { name?: unknown; outcomeUnknown?: unknown; code?: unknown } | undefined;
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name === 'AdminUnavailableError' && e?.outcomeUnknown === true) return EXIT.outcomeUnknown;
  if (name === 'RemoteCommandError' && e?.outcomeUnknown === true) return EXIT.outcomeUnknown;
  if (USAGE.has(name)) return EXIT.usage;
  if (PERMISSION.has(name) || e?.code === 'PERMISSIONS_VIOLATION' || e?.code === 'AUTHORIZATION_VIOLATION') {
    return EXIT.permission;
  }
  if (OUTCOME_UNKNOWN.has(name)) return EXIT.outcomeUnknown;
  if (UNAVAILABLE.has(name) || isConnectionError(err)) return EXIT.unavailable;
  return EXIT.failed;
}

/** nats.js's errors when no server could be reached. */
function isConnectionError(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return (
    e?.name === 'ConnectionError' ||
    e?.code === 'CONNECTION_REFUSED' ||
    (e?.name === 'errors' && e?.code === 'ECONNREFUSED')
  );
}

/**
 * The one line an error prints as: its message, the name first for a named
 * raftline error a user may look up. The stack only with RAFTLINE_DEBUG=1.
 */
export function describeError(err: unknown): string {
  if (process.env.RAFTLINE_DEBUG === '1' && err instanceof Error && err.stack) return err.stack;
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof CommandExit) {
    return err.message;
  }
  if (err instanceof Error) {
    // A replica's error, already named in its message: `CommandFailedError: …`.
    if (err.name === 'RemoteCommandError' || err.name === 'RemoteAdminError') return err.message;
    const message = err.message.replace(/\s*\n\s*/g, ' ');
    const named = err.name && err.name !== 'Error' && !message.startsWith(err.name);
    return named ? `${err.name}: ${message}` : message;
  }
  return String(err);
}
