/**
 * Every named error of the flag store, in one place.
 *
 * A replica turns what a @Command handler throws into CommandFailedError,
 * which keeps the error's name (errorName) and message (reason) on every
 * replica and over the wire. What a validator refuses becomes
 * CommandRejectedError, which keeps a reason string only: the store writes
 * it as `<ErrorName>: <message>` (reasonOf). flagErrorName(err) reads the
 * name back from either, locally or from a remote client.
 */
import { CommandFailedError, CommandRejectedError, RaftlineError } from '@raftline/core';

/** A compare-and-set write found the flag (or segment) at another version than expected. */
export class VersionConflictError extends RaftlineError {
  constructor(
    readonly environment: string,
    readonly key: string,
    readonly kind: 'flag' | 'segment',
    readonly expectedVersion: number,
    /** 0: it does not exist. */
    readonly actualVersion: number,
  ) {
    super(
      `${kind} ${environment}/${key} is at version ${actualVersion === 0 ? '0 (absent)' : actualVersion}, ` +
        `not ${expectedVersion}${expectedVersion === 0 ? ' (absent)' : ''}: someone else changed it first`,
    );
  }
}

/** A delete or a history read named a flag the environment does not hold. */
export class FlagNotFoundError extends RaftlineError {
  constructor(
    readonly environment: string,
    readonly key: string,
  ) {
    super(`flag ${environment}/${key} does not exist`);
  }
}

/** A flag or a delete named a segment the environment does not hold. */
export class SegmentNotFoundError extends RaftlineError {
  constructor(
    readonly environment: string,
    readonly segment: string,
    readonly where?: string,
  ) {
    super(`segment ${environment}/${segment} does not exist${where ? ` (${where})` : ''}`);
  }
}

/** A segment cannot be deleted while flags use it. */
export class SegmentInUseError extends RaftlineError {
  constructor(
    readonly environment: string,
    readonly segment: string,
    readonly flags: readonly string[],
  ) {
    super(`segment ${environment}/${segment} is used by ${flags.join(', ')}: change those flags first`);
  }
}

/** A flag definition, a segment definition or a name breaks a rule; `problems` names each field. */
export class InvalidDefinitionError extends RaftlineError {
  constructor(
    readonly what: string,
    readonly problems: readonly string[],
  ) {
    super(`${what} is invalid: ${problems.join('; ')}`);
  }
}

/** A regular expression is outside the bounded dialect (see regex.ts). */
export class UnsupportedPatternError extends RaftlineError {
  constructor(
    readonly pattern: string,
    readonly at: number,
    readonly problem: string,
  ) {
    super(`pattern ${JSON.stringify(pattern)} at ${at}: ${problem}`);
  }
}

/** A flagd document uses targeting this store does not support; `path` points at it. */
export class UnsupportedTargetingError extends RaftlineError {
  constructor(
    readonly operator: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`${path}: ${operator} is not supported${detail ? `: ${detail}` : ''}`);
  }
}

/** A flagd document is not a flag-definition document; `problems` names each field. */
export class InvalidFlagdDocumentError extends RaftlineError {
  constructor(readonly problems: readonly string[]) {
    super(`not a flagd flag-definition document: ${problems.join('; ')}`);
  }
}

/** Names of the errors above: what flagErrorName() can answer. */
export const FLAG_ERROR_NAMES = [
  'VersionConflictError',
  'FlagNotFoundError',
  'SegmentNotFoundError',
  'SegmentInUseError',
  'InvalidDefinitionError',
  'UnsupportedPatternError',
  'UnsupportedTargetingError',
  'InvalidFlagdDocumentError',
] as const;

/** One of FLAG_ERROR_NAMES. */
export type FlagErrorName = (typeof FLAG_ERROR_NAMES)[number];

const NAMES: ReadonlySet<string> = new Set(FLAG_ERROR_NAMES);

/**
 * The reason a validator gives for err: `<name>: <message>` for the errors
 * above, so that the name survives CommandRejectedError.
 */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return NAMES.has(err.name) ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

/**
 * Which flag-store error a failed or refused command carries, on this
 * replica or on a remote client (which sees only the reason).
 * @param err what a command rejected with
 * @returns the error's name (e.g. 'VersionConflictError'), or undefined when
 *   err is not a flag-store error or a CommandFailedError /
 *   CommandRejectedError carrying one
 */
export function flagErrorName(err: unknown): FlagErrorName | undefined {
  if (err instanceof RaftlineError && NAMES.has(err.name)) return err.name as FlagErrorName;
  const errorName = err instanceof Error ? (err as Error & { errorName?: unknown }).errorName : undefined;
  if (typeof errorName === 'string' && NAMES.has(errorName)) return errorName as FlagErrorName;
  const reason =
    err instanceof CommandFailedError || err instanceof CommandRejectedError
      ? err.reason
      : err instanceof Error && (err.name === 'CommandFailedError' || err.name === 'CommandRejectedError')
        ? (err as Error & { reason?: unknown }).reason
        : undefined;
  if (typeof reason !== 'string') return undefined;
  const name = /^([A-Za-z]+Error): /.exec(reason)?.[1];
  return name !== undefined && NAMES.has(name) ? (name as FlagErrorName) : undefined;
}
