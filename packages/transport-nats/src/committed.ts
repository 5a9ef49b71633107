import {
  DecodeError,
  pack,
  unpack,
  type CommandEnvelope,
  type CommittedEvent,
  type OutcomeError,
} from '@raftline/core';
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
  /** The command's outcome: `applied`, `failed` or `duplicate`. */
  outcome: 'Raftline-Outcome',
  /** On a duplicate: the log index (decimal) of the entry it repeats, whose outcome holds. */
  duplicateOf: 'Raftline-Duplicate-Of',
  /** On a failed command: the error's name (e.g. CommandFailedError); its message is in the payload. */
  error: 'Raftline-Error',
} as const;

/**
 * A command's outcome as the stream holds it: CommandOutcome without the
 * handler's value (the stream carries what every replica agrees on, not a
 * result only the publishing leader may still hold).
 */
export type RecordOutcome =
  | { readonly kind: 'applied' }
  | { readonly kind: 'failed'; readonly error: OutcomeError }
  | { readonly kind: 'duplicate'; readonly of: number };

/** One committed command as its group's JetStream stream holds it. */
export interface CommittedRecord {
  /** The Raft log index of the command (strictly increasing along the stream, with gaps where no-op entries were). */
  readonly index: number;
  readonly term: number;
  /** The command as the leader stamped it: name, args, time and client session. */
  readonly command: CommandEnvelope;
  /** What became of it: applied, failed (with the error) or duplicate (of an earlier index). */
  readonly outcome: RecordOutcome;
}

/** The outcome a record carries for an event: its value left out. */
export function recordOutcome(event: CommittedEvent | CommittedRecord): RecordOutcome {
  const o = event.outcome;
  if (o.kind === 'failed') {
    const { name, message, errorName } = o.error;
    return {
      kind: 'failed',
      error: errorName === undefined ? { name, message } : { name, message, errorName },
    };
  }
  if (o.kind === 'duplicate') return { kind: 'duplicate', of: o.of };
  return { kind: 'applied' };
}

/**
 * Encodes a committed command as a stream message payload: a msgpack map
 * `{ index, term, name, args, time, session?, outcome }`, readable from any
 * language; `outcome` is `{ kind: 'applied' }`, `{ kind: 'failed', error:
 * { name, message, errorName? } }` (see OutcomeError) or `{ kind: 'duplicate', of }`.
 */
export function encodeCommittedRecord(event: CommittedEvent | CommittedRecord): Uint8Array {
  const { index, term, command } = event;
  const { name, args, time, session } = command;
  return pack({
    index,
    term,
    name,
    args,
    time,
    ...(session ? { session } : {}),
    outcome: recordOutcome(event),
  });
}

function mapOf(raw: unknown, what: string): Map<string, unknown> {
  try {
    return fields(raw, what);
  } catch (err) {
    throw new DecodeError(`not a committed record: ${what} is not a map`, { cause: err });
  }
}

/**
 * Reads only the index and term of a committed stream message (a record of
 * any raftline version): enough to know where a stream ends or to search it.
 * @throws DecodeError when data has no positive index and term
 */
export function decodeCommittedPosition(data: Uint8Array): { index: number; term: number } {
  let raw: unknown;
  try {
    raw = unpack(data);
  } catch (err) {
    throw new DecodeError('not a committed record: the payload is not msgpack', { cause: err });
  }
  const f = mapOf(raw, 'the payload');
  const index = f.get('index');
  const term = f.get('term');
  if (!isCount(index) || index < 1 || !isCount(term) || term < 1) {
    throw new DecodeError('not a committed record: index and term must be positive integers');
  }
  return { index, term };
}

function decodeOutcome(raw: unknown): RecordOutcome {
  if (raw === undefined || raw === null) {
    throw new DecodeError('not a committed record: it has no outcome (an earlier raftline wrote it)');
  }
  const o = mapOf(raw, 'outcome');
  const kind = o.get('kind');
  if (kind === 'applied') return { kind };
  if (kind === 'duplicate') {
    const of = o.get('of');
    if (isCount(of) && of >= 1) return { kind, of };
  }
  if (kind === 'failed') {
    const e = mapOf(o.get('error'), 'outcome.error');
    const name = e.get('name');
    const message = e.get('message');
    const errorName = e.get('errorName');
    if (typeof name === 'string' && typeof message === 'string') {
      if (errorName === undefined || errorName === null) return { kind, error: { name, message } };
      if (typeof errorName === 'string') return { kind, error: { name, message, errorName } };
    }
  }
  throw new DecodeError(`not a committed record: outcome (${String(kind)}) is malformed`);
}

/**
 * Decodes the payload of one message of a committed stream (a JsMsg's or a StoredMsg's `data`).
 * @returns the committed command with its index, term and outcome
 * @throws DecodeError when data is not an encoded committed record
 */
export function decodeCommittedRecord(data: Uint8Array): CommittedRecord {
  const { index, term } = decodeCommittedPosition(data);
  const f = mapOf(unpack(data), 'the payload');
  const name = f.get('name');
  const args = f.get('args');
  const time = f.get('time');
  if (typeof name !== 'string' || !Array.isArray(args) || typeof time !== 'number') {
    throw new DecodeError('not a committed record: name, args or time is missing or ill-typed');
  }
  const outcome = decodeOutcome(f.get('outcome'));
  const raw = f.get('session');
  if (raw === undefined || raw === null) return { index, term, command: { name, args, time }, outcome };
  const s = mapOf(raw, 'session');
  const clientId = s.get('clientId');
  const seq = s.get('seq');
  const ackedBelow = s.get('ackedBelow');
  if (typeof clientId !== 'string' || typeof seq !== 'number') {
    throw new DecodeError('not a committed record: malformed client session');
  }
  const session = { clientId, seq, ...(typeof ackedBelow === 'number' ? { ackedBelow } : {}) };
  return { index, term, command: { name, args, time, session }, outcome };
}

/** The outcome headers of a record, as COMMITTED_HEADERS names them. */
export function outcomeHeaders(outcome: RecordOutcome): [string, string][] {
  const out: [string, string][] = [[COMMITTED_HEADERS.outcome, outcome.kind]];
  if (outcome.kind === 'duplicate') out.push([COMMITTED_HEADERS.duplicateOf, String(outcome.of)]);
  // A header value is one line of printable ASCII; an error name normally is.
  if (outcome.kind === 'failed')
    out.push([COMMITTED_HEADERS.error, outcome.error.name.replace(/[^\x20-\x7e]/g, '?')]);
  return out;
}
