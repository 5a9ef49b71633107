/**
 * The wire form of client requests and replies, shared by serveClients (the
 * replica side) and NatsRaftClient: msgpack maps, with every field read
 * back explicitly.
 */
import { pack, PayloadTooLargeError, unpack, type CommandRequest } from '@raftline/core';
import { fields } from './messages';

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
}

/** The wire form of a reply. */
export type Reply = { ok: true; value: unknown } | { ok: false; error: WireError };

/** What a replica tells the client about an error it met. */
export function describe(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const leaderId = (err as { leaderId?: unknown }).leaderId;
  return {
    name: err.name,
    message: err.message,
    ...(typeof leaderId === 'string' && leaderId ? { leaderId } : {}),
    unknown: OUTCOME_UNKNOWN.has(err.name),
    ...(err instanceof PayloadTooLargeError
      ? { tooLarge: { what: err.what, size: err.size, limit: err.limit, limitName: err.limitName } }
      : {}),
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
  return pack({ ok: false, error: describe(tooLarge) } satisfies Reply);
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
    if (f.get('ok') === true) return { ok: true, value: f.get('value') };
    const e = fields(f.get('error'), 'error');
    const leaderId = e.get('leaderId');
    const tooLarge = decodeTooLarge(e.get('tooLarge'));
    return {
      ok: false,
      error: {
        name: String(e.get('name')),
        message: String(e.get('message')),
        ...(typeof leaderId === 'string' ? { leaderId } : {}),
        unknown: e.get('unknown') === true,
        ...(tooLarge ? { tooLarge } : {}),
      },
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

function unpackOrUndefined(data: Uint8Array): unknown {
  try {
    return unpack(data);
  } catch {
    return undefined;
  }
}
