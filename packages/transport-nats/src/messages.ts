import {
  ENTRY_TYPES,
  MESSAGE_TYPES,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type NodeId,
} from '@raftline/core';
import { FrameRejection } from './drops';

/**
 * The wire form of one Raft message inside a frame: the message without
 * `from` and `to` (the frame's envelope carries them once). Entries travel as
 * [index, term, type, data] tuples.
 */
export type WireMessage = Record<string, unknown>;

type WireEntry = [number, number, Entry['type'], Uint8Array];

/** Encodes one message for a frame body; every field is copied explicitly, so nothing extra leaks on the wire. */
export function encodeMessage(m: Message): WireMessage {
  switch (m.type) {
    case 'vote':
    case 'pre-vote':
      return {
        type: m.type,
        term: m.term,
        lastIndex: m.lastIndex,
        lastTerm: m.lastTerm,
        transfer: m.transfer,
      };
    case 'vote-resp':
    case 'pre-vote-resp':
      return { type: m.type, term: m.term, reject: m.reject };
    case 'append':
      return {
        type: m.type,
        term: m.term,
        prevIndex: m.prevIndex,
        prevTerm: m.prevTerm,
        commit: m.commit,
        entries: m.entries.map((e): WireEntry => [e.index, e.term, e.type, e.data]),
      };
    case 'append-resp':
      return {
        type: m.type,
        term: m.term,
        reject: m.reject,
        index: m.index,
        hintIndex: m.hintIndex,
        hintTerm: m.hintTerm,
      };
    case 'heartbeat':
      return { type: m.type, term: m.term, commit: m.commit, context: m.context, sentAt: m.sentAt };
    case 'heartbeat-resp':
      return { type: m.type, term: m.term, context: m.context, sentAt: m.sentAt };
    case 'timeout-now':
      return { type: m.type, term: m.term };
    case 'read-index':
      return { type: m.type, term: m.term, context: m.context, lease: m.lease };
    case 'read-index-resp':
      return { type: m.type, term: m.term, context: m.context, index: m.index, reject: m.reject };
    case 'snapshot':
      return { type: m.type, term: m.term, snapshot: encodeSnapshotInfo(m.snapshot) };
    case 'snapshot-chunk':
      return {
        type: m.type,
        term: m.term,
        snapshot: encodeSnapshotInfo(m.snapshot),
        offset: m.offset,
        data: m.data,
        last: m.last,
        checksum: m.checksum,
      };
    case 'snapshot-chunk-resp':
      return { type: m.type, term: m.term, index: m.index, offset: m.offset, reject: m.reject };
    default: {
      const never: never = m;
      throw new TypeError(`unknown message type ${String((never as Message).type)}`);
    }
  }
}

const KNOWN_TYPES = new Set<string>(MESSAGE_TYPES);

/**
 * Decodes and validates one message of a frame body (a msgpack map, decoded as a Map).
 * @returns the message, addressed from `from` to `to`
 * @throws FrameRejection 'type' for an unknown message type, 'malformed' for a missing or ill-typed field
 */
export function decodeMessage(raw: unknown, from: NodeId, to: NodeId): Message {
  const f = fields(raw, 'message');
  const type = f.get('type');
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) {
    throw new FrameRejection('type', `unknown message type ${JSON.stringify(type)}`);
  }
  const t = type as MessageType;
  const term = count(f, 'term');
  switch (t) {
    case 'vote':
    case 'pre-vote':
      return {
        type: t,
        from,
        to,
        term,
        lastIndex: count(f, 'lastIndex'),
        lastTerm: count(f, 'lastTerm'),
        transfer: flag(f, 'transfer'),
      };
    case 'vote-resp':
    case 'pre-vote-resp':
      return { type: t, from, to, term, reject: flag(f, 'reject') };
    case 'append': {
      const entries = f.get('entries');
      if (!Array.isArray(entries)) throw new FrameRejection('malformed', 'append.entries is not a list');
      return {
        type: t,
        from,
        to,
        term,
        prevIndex: count(f, 'prevIndex'),
        prevTerm: count(f, 'prevTerm'),
        commit: count(f, 'commit'),
        entries: entries.map(decodeEntry),
      };
    }
    case 'append-resp':
      return {
        type: t,
        from,
        to,
        term,
        reject: flag(f, 'reject'),
        index: count(f, 'index'),
        hintIndex: count(f, 'hintIndex'),
        hintTerm: count(f, 'hintTerm'),
      };
    case 'heartbeat':
      return {
        type: t,
        from,
        to,
        term,
        commit: count(f, 'commit'),
        context: text(f, 'context'),
        sentAt: count(f, 'sentAt'),
      };
    case 'heartbeat-resp':
      return { type: t, from, to, term, context: text(f, 'context'), sentAt: count(f, 'sentAt') };
    case 'timeout-now':
      return { type: t, from, to, term };
    case 'read-index':
      return { type: t, from, to, term, context: text(f, 'context'), lease: flag(f, 'lease') };
    case 'read-index-resp':
      return {
        type: t,
        from,
        to,
        term,
        context: text(f, 'context'),
        index: count(f, 'index'),
        reject: flag(f, 'reject'),
      };
    case 'snapshot':
      return { type: t, from, to, term, snapshot: decodeSnapshotInfo(f.get('snapshot')) };
    case 'snapshot-chunk':
      return {
        type: t,
        from,
        to,
        term,
        snapshot: decodeSnapshotInfo(f.get('snapshot')),
        offset: count(f, 'offset'),
        data: bytes(f, 'data'),
        last: flag(f, 'last'),
        checksum: count(f, 'checksum'),
      };
    case 'snapshot-chunk-resp':
      return {
        type: t,
        from,
        to,
        term,
        index: count(f, 'index'),
        offset: count(f, 'offset'),
        reject: flag(f, 'reject'),
      };
    default: {
      const never: never = t;
      throw new FrameRejection('type', `unknown message type ${String(never)}`);
    }
  }
}

type SnapshotInfo = Extract<Message, { type: 'snapshot' }>['snapshot'];

/** A snapshot's identity on the wire: [index, term, voters, outgoing, learners]. */
function encodeSnapshotInfo(
  s: SnapshotInfo,
): [number, number, readonly NodeId[], readonly NodeId[], readonly NodeId[]] {
  return [s.index, s.term, s.membership.voters, s.membership.outgoing, s.membership.learners];
}

function decodeSnapshotInfo(raw: unknown): SnapshotInfo {
  if (!Array.isArray(raw) || raw.length !== 5) {
    throw new FrameRejection(
      'malformed',
      'snapshot is not an [index, term, voters, outgoing, learners] tuple',
    );
  }
  const [index, term, voters, outgoing, learners] = raw as unknown[];
  if (!isCount(index) || !isCount(term)) {
    throw new FrameRejection('malformed', 'snapshot index and term must be non-negative integers');
  }
  return {
    index,
    term,
    membership: { voters: ids(voters), outgoing: ids(outgoing), learners: ids(learners) },
  };
}

function ids(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new FrameRejection('malformed', 'snapshot membership is not a list of node ids');
  }
  return v as string[];
}

function bytes(f: Map<string, unknown>, key: string): Uint8Array {
  const v = f.get(key);
  if (!(v instanceof Uint8Array)) throw new FrameRejection('malformed', `${key} is not bytes`);
  // Copy: the decoded bytes are a view into the inbound buffer, which a message must not pin.
  return new Uint8Array(v);
}

function decodeEntry(raw: unknown): Entry {
  if (!Array.isArray(raw) || raw.length !== 4)
    throw new FrameRejection('malformed', 'entry is not a 4-tuple');
  const [index, term, type, data] = raw as unknown[];
  if (!isCount(index) || index < 1 || !isCount(term) || term < 1) {
    throw new FrameRejection('malformed', 'entry index and term must be positive integers');
  }
  if (!isEntryType(type)) throw new FrameRejection('malformed', `entry type ${String(type)}`);
  if (!(data instanceof Uint8Array)) throw new FrameRejection('malformed', 'entry data is not bytes');
  // Copy: the decoded bytes are a view into the inbound buffer, which an entry must not pin.
  return { index, term, type, data: new Uint8Array(data) };
}

function isEntryType(v: unknown): v is EntryType {
  return (ENTRY_TYPES as readonly unknown[]).includes(v);
}

/**
 * Reads a msgpack map (the codec decodes maps as plain objects) as a Map of its fields.
 * @throws FrameRejection 'malformed' when raw is not a plain object
 */
export function fields(raw: unknown, what: string): Map<string, unknown> {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const proto: unknown = Object.getPrototypeOf(raw);
    if (proto === Object.prototype || proto === null) return new Map(Object.entries(raw));
  }
  throw new FrameRejection('malformed', `${what} is not a map`);
}

/** Whether v is a non-negative safe integer. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads a non-negative integer field.
 * @throws FrameRejection 'malformed' when it is missing or ill-typed
 */
export function count(f: Map<string, unknown>, key: string): number {
  const v = f.get(key);
  if (!isCount(v)) throw new FrameRejection('malformed', `${key} is not a non-negative integer`);
  return v;
}

function text(f: Map<string, unknown>, key: string): string {
  const v = f.get(key);
  if (typeof v !== 'string') throw new FrameRejection('malformed', `${key} is not a string`);
  return v;
}

function flag(f: Map<string, unknown>, key: string): boolean {
  const v = f.get(key);
  if (typeof v !== 'boolean') throw new FrameRejection('malformed', `${key} is not a boolean`);
  return v;
}
