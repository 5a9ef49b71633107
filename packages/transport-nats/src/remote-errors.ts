/**
 * Rebuilds a replica's error, as it came over the wire, as the same core
 * class the replica raised, so that a caller in another process can catch
 * `ReadNotConfirmedError` or `SessionExpiredError` exactly as one in the
 * replica's process would. Only raftline's own errors are rebuilt, from the
 * scalar fields their constructors take (WireError.fields); anything else
 * (an error a query handler threw) has no class to rebuild.
 */
import {
  ApplyTimeoutError,
  CommandFailedError,
  CommandRejectedError,
  ConfigError,
  DecodeError,
  DivergedError,
  LeadershipLostError,
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
  OverloadedError,
  PayloadTooLargeError,
  ProposalTimeoutError,
  RaftlineError,
  ReadNotConfirmedError,
  SessionExpiredError,
  UnknownCommandError,
} from '@raftline/core';
import type { WireError } from './client-wire';

type Fields = NonNullable<WireError['fields']>;

const str = (f: Fields, key: string): string | undefined => {
  const v = f[key];
  return typeof v === 'string' ? v : undefined;
};
const num = (f: Fields, key: string): number | undefined => {
  const v = f[key];
  return typeof v === 'number' ? v : undefined;
};

/** Each rebuildable class, by name: its constructor from the fields, or undefined when one is missing. */
const REVIVERS: Readonly<Record<string, (f: Fields, message: string) => RaftlineError | undefined>> = {
  NotLeaderError: (f) => both(str(f, 'nodeId'), str(f, 'leaderId'), (a, b) => new NotLeaderError(a, b)),
  LeadershipTransferError: (f) =>
    both(str(f, 'nodeId'), str(f, 'transferee'), (a, b) => new LeadershipTransferError(a, b)),
  LeadershipLostError: (f) => one(num(f, 'index'), (i) => new LeadershipLostError(i)),
  ReadNotConfirmedError: (f) =>
    both(str(f, 'nodeId'), str(f, 'reason'), (a, b) => new ReadNotConfirmedError(a, b)),
  ProposalTimeoutError: (f) => one(num(f, 'timeoutMs'), (t) => new ProposalTimeoutError(t)),
  NodeStoppedError: (f) => one(str(f, 'nodeId'), (id) => new NodeStoppedError(id)),
  OverloadedError: (f) => {
    const [node, limitName, limit] = [str(f, 'nodeId'), str(f, 'limitName'), num(f, 'limit')];
    return node !== undefined && limitName !== undefined && limit !== undefined
      ? new OverloadedError(node, limitName, limit)
      : undefined;
  },
  CommandRejectedError: (f) =>
    both(str(f, 'command'), str(f, 'reason'), (a, b) => new CommandRejectedError(a, b)),
  CommandFailedError: (f) =>
    both(str(f, 'command'), str(f, 'reason'), (a, b) => new CommandFailedError(a, b, str(f, 'errorName'))),
  UnknownCommandError: (f) => {
    const kind = str(f, 'kind');
    if (kind !== 'command' && kind !== 'query') return undefined;
    return one(str(f, 'command'), (c) => new UnknownCommandError(c, kind));
  },
  SessionExpiredError: (f) => one(str(f, 'clientId'), (id) => new SessionExpiredError(id)),
  MembershipChangeError: (_f, message) => new MembershipChangeError(message),
  DecodeError: (_f, message) => new DecodeError(message),
  DivergedError: (f) => {
    const [node, index, expected, actual] = [
      str(f, 'nodeId'),
      num(f, 'index'),
      str(f, 'expected'),
      str(f, 'actual'),
    ];
    return node !== undefined && index !== undefined && expected !== undefined && actual !== undefined
      ? new DivergedError(node, index, expected, actual)
      : undefined;
  },
  ApplyTimeoutError: (f) => {
    const [node, index, ms] = [str(f, 'nodeId'), num(f, 'index'), num(f, 'timeoutMs')];
    return node !== undefined && index !== undefined && ms !== undefined
      ? new ApplyTimeoutError(node, index, ms)
      : undefined;
  },
  // describe() sends ConfigError's problems joined by newlines (see configProblemsField).
  ConfigError: (f) => one(str(f, 'problems'), (p) => new ConfigError(p.split('\n'))),
};

/**
 * ConfigError's problems are a list, which a wire error's scalar fields
 * cannot hold: this is the field that carries them (joined by newlines).
 * @returns `{ problems }` for a ConfigError, else `{}`
 */
export function configProblemsField(err: unknown): { problems?: string } {
  return err instanceof ConfigError ? { problems: err.problems.join('\n') } : {};
}

function one<A>(a: A | undefined, make: (a: A) => RaftlineError): RaftlineError | undefined {
  return a === undefined ? undefined : make(a);
}

function both<A, B>(a: A | undefined, b: B | undefined, make: (a: A, b: B) => RaftlineError) {
  return a === undefined || b === undefined ? undefined : make(a, b);
}

/**
 * The core error a replica's wire error stands for.
 * @returns an instance of the class the replica raised, with the same fields
 *   (and so the same message), or undefined when it is not one of raftline's
 *   errors or its fields are missing
 */
export function reviveError(error: WireError): RaftlineError | undefined {
  if (error.tooLarge) {
    const { what, size, limit, limitName } = error.tooLarge;
    return new PayloadTooLargeError(what, size, limit, limitName);
  }
  if (!Object.hasOwn(REVIVERS, error.name)) return undefined; // never a name of Object.prototype
  return REVIVERS[error.name]!(error.fields ?? {}, error.message);
}
