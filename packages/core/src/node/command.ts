import { pack, unpack } from '../codec';
import { DecodeError } from '../errors';

/**
 * An exactly-once client session (Raft thesis §6.3): a client numbers its
 * commands 1, 2, 3, …; a retried (clientId, seq) applies once and returns the
 * first result.
 */
export interface ClientSession {
  readonly clientId: string;
  readonly seq: number;
  /** Every seq below this one has its response: the replicas may forget those results. */
  readonly ackedBelow?: number;
}

/**
 * Names of the framework's own commands (session registration) start with
 * this; no `@Command` may use it, and the committed stream never yields them.
 */
export const FRAMEWORK_COMMAND_PREFIX = '$raftline.';

/** A command as a client submits it: a handler name and its arguments. */
export interface CommandRequest {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly session?: ClientSession;
}

/** A command as it sits in the log: the request plus the time the leader stamped on it. */
export interface CommandEnvelope extends CommandRequest {
  /** Leader's clock (ms) when it accepted the command; replicas never read their own clock to apply. */
  readonly time: number;
}

/** Encodes an envelope as a log entry payload. */
export function encodeCommand(envelope: CommandEnvelope): Uint8Array {
  const { name, args, time, session } = envelope;
  return pack(
    session ? [name, args, time, session.clientId, session.seq, session.ackedBelow ?? 0] : [name, args, time],
  );
}

/**
 * Decodes a log entry payload.
 * @throws DecodeError when data is not an encoded envelope
 */
export function decodeCommand(data: Uint8Array): CommandEnvelope {
  const v = unpack(data);
  if (!Array.isArray(v) || typeof v[0] !== 'string' || !Array.isArray(v[1]) || typeof v[2] !== 'number') {
    throw new DecodeError('entry payload is not a command envelope');
  }
  const [name, args, time, clientId, seq, ackedBelow] = v as [
    string,
    unknown[],
    number,
    unknown,
    unknown,
    unknown,
  ];
  if (clientId === undefined) return { name, args, time };
  if (typeof clientId !== 'string' || typeof seq !== 'number' || typeof ackedBelow !== 'number') {
    throw new DecodeError('entry payload has a malformed client session');
  }
  return { name, args, time, session: { clientId, seq, ackedBelow } };
}
