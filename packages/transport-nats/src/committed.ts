import { DecodeError, pack, unpack, type CommandEnvelope, type CommittedEvent } from '@raftline/core';
import { fields, isCount } from './messages';

/**
 * Headers on every message of a group's committed stream, besides
 * `Nats-Msg-Id` (the log index, in decimal): a consumer can filter or route
 * on them without decoding the payload.
 */
export const COMMITTED_HEADERS = {
  /** The entry's Raft log index, in decimal. */
  index: 'Raftline-Index',
  /** The entry's Raft term, in decimal. */
  term: 'Raftline-Term',
  /** The command's handler name. */
  command: 'Raftline-Command',
} as const;

/** One committed command as its group's JetStream stream holds it. */
export interface CommittedRecord {
  /** The Raft log index of the command (strictly increasing along the stream, with gaps where no-op entries were). */
  readonly index: number;
  readonly term: number;
  /** The command as the leader stamped it: name, args, time and client session. */
  readonly command: CommandEnvelope;
}

/**
 * Encodes a committed command as a stream message payload: a msgpack map
 * `{ index, term, name, args, time, session? }`, readable from any language.
 */
export function encodeCommittedRecord(event: CommittedEvent | CommittedRecord): Uint8Array {
  const { index, term, command } = event;
  const { name, args, time, session } = command;
  return pack({ index, term, name, args, time, ...(session ? { session } : {}) });
}

/**
 * Decodes the payload of one message of a committed stream (a JsMsg's or a StoredMsg's `data`).
 * @returns the committed command with its index and term
 * @throws DecodeError when data is not an encoded committed record
 */
export function decodeCommittedRecord(data: Uint8Array): CommittedRecord {
  let f: Map<string, unknown>;
  try {
    f = fields(unpack(data), 'committed record');
  } catch (err) {
    throw new DecodeError('not a committed record: the payload is not a msgpack map', { cause: err });
  }
  const index = f.get('index');
  const term = f.get('term');
  const name = f.get('name');
  const args = f.get('args');
  const time = f.get('time');
  if (!isCount(index) || index < 1 || !isCount(term) || term < 1) {
    throw new DecodeError('not a committed record: index and term must be positive integers');
  }
  if (typeof name !== 'string' || !Array.isArray(args) || typeof time !== 'number') {
    throw new DecodeError('not a committed record: name, args or time is missing or ill-typed');
  }
  const raw = f.get('session');
  if (raw === undefined || raw === null) return { index, term, command: { name, args, time } };
  const s = (() => {
    try {
      return fields(raw, 'session');
    } catch (err) {
      throw new DecodeError('not a committed record: session is not a map', { cause: err });
    }
  })();
  const clientId = s.get('clientId');
  const seq = s.get('seq');
  const ackedBelow = s.get('ackedBelow');
  if (typeof clientId !== 'string' || typeof seq !== 'number') {
    throw new DecodeError('not a committed record: malformed client session');
  }
  const session = { clientId, seq, ...(typeof ackedBelow === 'number' ? { ackedBelow } : {}) };
  return { index, term, command: { name, args, time, session } };
}
