/**
 * The wire form of client requests and replies, shared by serveClients (the
 * replica side) and NatsRaftClient: msgpack maps, with every field read
 * back explicitly.
 */
import {
  pack,
  PayloadTooLargeError,
  unpack,
  type CommandRequest,
  type NodeId,
  type QueryRequest,
  type ReadConsistency,
} from '@raftline/core';
import { fields } from './messages';
import { configProblemsField } from './remote-errors';

/** The read consistencies a replica serves, in one place. */
export const READ_CONSISTENCIES: readonly ReadConsistency[] = ['linearizable', 'lease', 'stale'];

/** Errors after which a command may or may not have committed. */
const OUTCOME_UNKNOWN = new Set(['LeadershipLostError', 'ProposalTimeoutError', 'NodeStoppedError']);

/** A replica's error, as it travels back to the client. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly leaderId?: string;
  /** True when the command may or may not have committed. */
  readonly unknown: boolean;
  /** PayloadTooLargeError's fields, so the client can raise the same error. */
  readonly tooLarge?: { what: 'command' | 'reply'; size: number; limit: number; limitName: string };
  /**
   * The error's own scalar fields (nodeId, reason, command, errorName, …; a
   * ConfigError's problems joined by newlines), so the client can rebuild its class.
   */
  readonly fields?: Readonly<Record<string, string | number | boolean>>;
}

/** Who leads, as the answering replica knows it: a client keeps the newest term's. */
export interface LeaderView {
  /** The leader of `term` ('' while none is known). */
  readonly leaderId: NodeId;
  readonly term: number;
}

/** Where a reply comes from: the answering replica and the leader it knows. */
export interface ReplyOrigin {
  readonly node?: NodeId;
  readonly leader?: LeaderView;
}

/** The wire form of a reply; a query's success carries the applied index it read at. */
export type Reply = ({ ok: true; value: unknown; appliedIndex?: number } | { ok: false; error: WireError }) &
  ReplyOrigin;

/** A query as it travels: the request plus how fresh it must be and how long the replica may confirm it. */
export interface WireQuery extends QueryRequest {
  readonly consistency: ReadConsistency;
  readonly timeoutMs?: number;
}

/** A replica's role-change notice, published on the group's leader subject. */
export interface LeaderNotice extends LeaderView {
  readonly node: NodeId;
  readonly role: string;
}

const OWN_FIELDS_SKIPPED = new Set(['name', 'message', 'stack', 'cause']);

/** What a replica tells the client about an error it met. */
export function describe(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const leaderId = (err as { leaderId?: unknown }).leaderId;
  const own: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(err)) {
    if (OWN_FIELDS_SKIPPED.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      own[key] = value;
  }
  Object.assign(own, configProblemsField(err));
  return {
    name: err.name,
    message: err.message,
    ...(typeof leaderId === 'string' && leaderId ? { leaderId } : {}),
    unknown: OUTCOME_UNKNOWN.has(err.name),
    ...(err instanceof PayloadTooLargeError
      ? { tooLarge: { what: err.what, size: err.size, limit: err.limit, limitName: err.limitName } }
      : {}),
    ...(Object.keys(own).length > 0 ? { fields: own } : {}),
  };
}

/**
 * Encodes a reply for a client. A reply larger than maxPayload (the server's
 * max_payload) cannot travel, so the client gets a PayloadTooLargeError
 * ('reply': the command applied) in its place rather than no answer.
 * @returns the bytes to respond with
 * @throws TypeError when the value holds something msgpack cannot encode
 */
export function encodeReply(reply: Reply, maxPayload: number | undefined): Uint8Array {
  const bytes = pack(reply);
  if (maxPayload === undefined || bytes.byteLength <= maxPayload) return bytes;
  const tooLarge = new PayloadTooLargeError('reply', bytes.byteLength, maxPayload, 'NATS max_payload');
  const { node, leader } = reply;
  return pack({ ok: false, error: describe(tooLarge), node, leader } satisfies Reply);
}

/** Encodes a query request. */
export function encodeQuery(query: WireQuery): Uint8Array {
  const { name, args, consistency, timeoutMs } = query;
  return pack({ name, args, consistency, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

/** Decodes a query request, or undefined when it is malformed. */
export function decodeQuery(data: Uint8Array): WireQuery | undefined {
  const raw = unpackOrUndefined(data);
  if (raw === undefined) return undefined;
  try {
    const f = fields(raw, 'query');
    const name = f.get('name');
    const args = f.get('args');
    const consistency = f.get('consistency');
    const timeoutMs = f.get('timeoutMs');
    if (typeof name !== 'string' || !Array.isArray(args)) return undefined;
    if (!READ_CONSISTENCIES.includes(consistency as ReadConsistency)) return undefined;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) return undefined;
    return { name, args, consistency: consistency as ReadConsistency, ...(timeoutMs ? { timeoutMs } : {}) };
  } catch {
    return undefined;
  }
}

/** Encodes a role-change notice. */
export function encodeNotice(notice: LeaderNotice): Uint8Array {
  return pack(notice);
}

/** Decodes a role-change notice, or undefined when it is malformed. */
export function decodeNotice(data: Uint8Array): LeaderNotice | undefined {
  try {
    const f = fields(unpackOrUndefined(data), 'notice');
    const view = decodeView(f);
    const node = f.get('node');
    const role = f.get('role');
    if (!view || typeof node !== 'string' || typeof role !== 'string') return undefined;
    return { node, role, ...view };
  } catch {
    return undefined;
  }
}

function decodeView(f: Map<string, unknown>): LeaderView | undefined {
  const leaderId = f.get('leaderId');
  const term = f.get('term');
  if (typeof leaderId !== 'string' || typeof term !== 'number' || !Number.isSafeInteger(term))
    return undefined;
  return { leaderId, term };
}

function decodeOrigin(f: Map<string, unknown>): ReplyOrigin {
  const node = f.get('node');
  const raw = f.get('leader');
  const leader = raw === undefined || raw === null ? undefined : decodeView(fields(raw, 'leader'));
  return { ...(typeof node === 'string' ? { node } : {}), ...(leader ? { leader } : {}) };
}

/** Encodes a client request. */
export function encodeRequest(request: CommandRequest): Uint8Array {
  return pack({ name: request.name, args: request.args, session: request.session });
}

/** Decodes a client request, or undefined when it is malformed. */
export function decodeRequest(data: Uint8Array): CommandRequest | undefined {
  const raw = unpackOrUndefined(data);
  if (raw === undefined) return undefined;
  try {
    const f = fields(raw, 'request');
    const name = f.get('name');
    const args = f.get('args');
    if (typeof name !== 'string' || !Array.isArray(args)) return undefined;
    const session = f.get('session');
    if (session === undefined || session === null) return { name, args };
    const s = fields(session, 'session');
    const clientId = s.get('clientId');
    const seq = s.get('seq');
    if (typeof clientId !== 'string' || typeof seq !== 'number') return undefined;
    const ackedBelow = s.get('ackedBelow');
    return {
      name,
      args,
      session: { clientId, seq, ...(typeof ackedBelow === 'number' ? { ackedBelow } : {}) },
    };
  } catch {
    return undefined;
  }
}

/** Decodes a reply; a malformed one reads as an error whose outcome is unknown. */
export function decodeReply(data: Uint8Array): Reply {
  const raw = unpackOrUndefined(data);
  try {
    const f = fields(raw, 'reply');
    const origin = decodeOrigin(f);
    if (f.get('ok') === true) {
      const appliedIndex = f.get('appliedIndex');
      return {
        ok: true,
        value: f.get('value'),
        ...(typeof appliedIndex === 'number' ? { appliedIndex } : {}),
        ...origin,
      };
    }
    const e = fields(f.get('error'), 'error');
    const leaderId = e.get('leaderId');
    const tooLarge = decodeTooLarge(e.get('tooLarge'));
    const own = decodeFields(e.get('fields'));
    return {
      ok: false,
      error: {
        name: String(e.get('name')),
        message: String(e.get('message')),
        ...(typeof leaderId === 'string' ? { leaderId } : {}),
        unknown: e.get('unknown') === true,
        ...(tooLarge ? { tooLarge } : {}),
        ...(own ? { fields: own } : {}),
      },
      ...origin,
    };
  } catch {
    return { ok: false, error: { name: 'DecodeError', message: 'malformed reply', unknown: true } };
  }
}

function decodeTooLarge(raw: unknown): WireError['tooLarge'] {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw, 'tooLarge');
  const what = f.get('what');
  const size = f.get('size');
  const limit = f.get('limit');
  const limitName = f.get('limitName');
  if (what !== 'command' && what !== 'reply') return undefined;
  if (typeof size !== 'number' || typeof limit !== 'number' || typeof limitName !== 'string')
    return undefined;
  return { what, size, limit, limitName };
}

function decodeFields(raw: unknown): WireError['fields'] {
  if (raw === undefined || raw === null) return undefined;
  const own: Record<string, string | number | boolean> = {};
  for (const [key, value] of fields(raw, 'fields')) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      own[key] = value;
  }
  return own;
}

function unpackOrUndefined(data: Uint8Array): unknown {
  try {
    return unpack(data);
  } catch {
    return undefined;
  }
}
