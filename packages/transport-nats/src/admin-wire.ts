/**
 * The wire form of the admin API, shared by serveAdmin (the replica side) and
 * AdminClient: JSON on both ways, so any NATS client (`nats req`, a browser
 * dashboard over WebSocket) can speak it. A request is a JSON object (an
 * empty payload reads as `{}`); a reply is `{ ok: true, node, value }` or
 * `{ ok: false, node, error: { name, message, fields? } }`.
 */
import type { NodeId, RaftlineError } from '@raftline/core';
import {
  AdminPermissionError,
  AdminRefusedError,
  AdminRequestError,
  AdminTimeoutError,
  RemoteAdminError,
} from './admin-errors';
import { isNoResponders } from './client';
import { describe, type WireError } from './client-wire';
import type { NatsConnection } from './nats';
import { reviveError } from './remote-errors';
import { checkToken } from './subjects';

/**
 * Every admin operation, as the last token of its subject:
 * - status: the replica's ReplicaStatus (any replica)
 * - add-learner, add-voter, promote, remove: membership changes (the leader)
 * - transfer: leadership transfer (the leader)
 * - snapshot: a snapshot now (the replica asked)
 * - verify: a verification marker and the leader's digest there (the leader)
 * - digest: the replica's digest at a verification marker (any replica)
 */
export const ADMIN_OPERATIONS = [
  'status',
  'add-learner',
  'add-voter',
  'promote',
  'remove',
  'transfer',
  'snapshot',
  'verify',
  'digest',
] as const;

/** One admin operation. */
export type AdminOperation = (typeof ADMIN_OPERATIONS)[number];

/** The largest timeoutMs a request may ask a replica for (5 minutes). */
export const MAX_ADMIN_TIMEOUT_MS = 300_000;

/** The fields of each operation's request. */
export interface AdminRequests {
  status: Record<string, never>;
  'add-learner': { node: NodeId; timeoutMs?: number };
  'add-voter': { node: NodeId; timeoutMs?: number; maxLag?: number };
  promote: { node: NodeId; timeoutMs?: number };
  remove: { node: NodeId; timeoutMs?: number };
  transfer: { to?: NodeId; timeoutMs?: number };
  snapshot: { timeoutMs?: number };
  verify: { timeoutMs?: number };
  digest: { index: number; timeoutMs?: number };
}

type FieldKind = 'node' | 'timeout' | 'count' | 'index';

/** Each operation's fields: their kind, and whether they are required. */
const FIELDS: Readonly<Record<AdminOperation, Readonly<Record<string, [FieldKind, boolean]>>>> = {
  status: {},
  'add-learner': { node: ['node', true], timeoutMs: ['timeout', false] },
  'add-voter': { node: ['node', true], timeoutMs: ['timeout', false], maxLag: ['count', false] },
  promote: { node: ['node', true], timeoutMs: ['timeout', false] },
  remove: { node: ['node', true], timeoutMs: ['timeout', false] },
  transfer: { to: ['node', false], timeoutMs: ['timeout', false] },
  snapshot: { timeoutMs: ['timeout', false] },
  verify: { timeoutMs: ['timeout', false] },
  digest: { index: ['index', true], timeoutMs: ['timeout', false] },
};

/** Whether name is an admin operation. */
export function isAdminOperation(name: string): name is AdminOperation {
  return (ADMIN_OPERATIONS as readonly string[]).includes(name);
}

/**
 * Reads an admin request.
 * @returns its fields, checked
 * @throws AdminRequestError naming the problem: not JSON, not an object, an
 *   unknown or missing key, a value of the wrong type
 */
export function decodeAdminRequest<O extends AdminOperation>(
  operation: O,
  data: Uint8Array,
): AdminRequests[O] {
  let raw: unknown = {};
  if (data.byteLength > 0) {
    try {
      raw = JSON.parse(new TextDecoder().decode(data));
    } catch {
      throw new AdminRequestError(operation, 'the payload is not JSON');
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AdminRequestError(operation, 'the payload is not a JSON object');
  }
  const fields = FIELDS[operation];
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(fields, key)) problems.push(`unknown key ${JSON.stringify(key)}`);
  }
  for (const [key, [kind, required]] of Object.entries(fields)) {
    const value = (raw as Record<string, unknown>)[key];
    if (value === undefined) {
      if (required) problems.push(`${key} is missing`);
      continue;
    }
    const problem = checkField(key, kind, value);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw new AdminRequestError(operation, problems.join('; '));
  return raw as AdminRequests[O];
}

function checkField(key: string, kind: FieldKind, value: unknown): string | undefined {
  if (kind === 'node') {
    if (typeof value !== 'string') return `${key} must be a node id (a string)`;
    try {
      checkToken(key, value);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `${key} must be an integer`;
  if (kind === 'timeout' && (value < 1 || value > MAX_ADMIN_TIMEOUT_MS)) {
    return `${key} (${value}) must be between 1 and ${MAX_ADMIN_TIMEOUT_MS}`;
  }
  if (kind === 'count' && value < 0) return `${key} (${value}) must not be negative`;
  if (kind === 'index' && value < 1) return `${key} (${value}) must be positive`;
  return undefined;
}

/** @returns the JSON bytes of a request */
export function encodeAdminRequest(request: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(request));
}

/** An admin reply as it travels. */
export type AdminReply =
  | { readonly ok: true; readonly node: NodeId; readonly value: unknown }
  | { readonly ok: false; readonly node: NodeId; readonly error: WireError };

/** @returns the JSON bytes of the reply carrying value */
export function encodeAdminValue(node: NodeId, value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ ok: true, node, value }));
}

/** @returns the JSON bytes of the reply carrying error, with its scalar fields (see describe) */
export function encodeAdminError(node: NodeId, error: unknown): Uint8Array {
  const { name, message, fields } = describe(error);
  const body = { name, message, ...(fields ? { fields } : {}) };
  return new TextEncoder().encode(JSON.stringify({ ok: false, node, error: body }));
}

/**
 * Reads an admin reply.
 * @returns the reply, or undefined when the bytes are not one
 */
export function decodeAdminReply(data: Uint8Array): AdminReply | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.node !== 'string') return undefined;
  if (r.ok === true) return { ok: true, node: r.node, value: r.value };
  const e = r.error as Record<string, unknown> | undefined;
  if (r.ok !== false || typeof e !== 'object' || e === null) return undefined;
  if (typeof e.name !== 'string' || typeof e.message !== 'string') return undefined;
  const fields: Record<string, string | number | boolean> = {};
  if (typeof e.fields === 'object' && e.fields !== null) {
    for (const [key, value] of Object.entries(e.fields)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        fields[key] = value;
    }
  }
  const error: WireError = { name: e.name, message: e.message, unknown: false, fields };
  return { ok: false, node: r.node, error };
}

type Fields = Readonly<Record<string, string | number | boolean>>;
const str = (f: Fields, key: string) => (typeof f[key] === 'string' ? f[key] : undefined);
const num = (f: Fields, key: string) => (typeof f[key] === 'number' ? f[key] : undefined);

/** The admin errors, by name (core's own are rebuilt by reviveError, remote-errors.ts). */
const ADMIN_REVIVERS: Readonly<Record<string, (f: Fields) => RaftlineError | undefined>> = {
  AdminTimeoutError: (f) => {
    const [op, node, ms] = [str(f, 'operation'), str(f, 'nodeId'), num(f, 'timeoutMs')];
    return op !== undefined && node !== undefined && ms !== undefined
      ? new AdminTimeoutError(op, node, ms)
      : undefined;
  },
  AdminRefusedError: (f) => {
    const [op, reason] = [str(f, 'operation'), str(f, 'reason')];
    return op !== undefined && reason !== undefined ? new AdminRefusedError(op, reason) : undefined;
  },
  AdminRequestError: (f) => {
    const [op, problem] = [str(f, 'operation'), str(f, 'problem')];
    return op !== undefined && problem !== undefined ? new AdminRequestError(op, problem) : undefined;
  },
};

/**
 * The error a replica's error reply stands for, rebuilt as its own class
 * where it is one of raftline's (an AdminError, or a core error with its
 * fields), else a RemoteAdminError naming it.
 */
export function reviveAdminError(operation: string, node: NodeId, error: WireError): Error {
  const f = error.fields ?? {};
  const own = Object.hasOwn(ADMIN_REVIVERS, error.name) ? ADMIN_REVIVERS[error.name]!(f) : undefined;
  return own ?? reviveError(error) ?? new RemoteAdminError(operation, node, error.name, error.message);
}

/** What an answer to one request was. */
export type AdminAnswer =
  | { readonly kind: 'reply'; readonly reply: AdminReply }
  /** No answer: `delivered` is false when nobody subscribes (nothing ran), true after a timeout (it may have run). */
  | { readonly kind: 'none'; readonly reason: string; readonly delivered: boolean };

/** Sends one request and says what came back. @throws AdminPermissionError, RemoteAdminError for an answer that is no admin reply */
export async function requestAdmin(
  connection: NatsConnection,
  subject: string,
  operation: string,
  body: object,
  waitMs: number,
): Promise<AdminAnswer> {
  try {
    const msg = await connection.request(subject, encodeAdminRequest(body), {
      timeout: waitMs,
    });
    const reply = decodeAdminReply(msg.data);
    if (!reply) {
      const from = subject.split('.').slice(-2, -1)[0] ?? subject;
      throw new RemoteAdminError(
        operation,
        from,
        'DecodeError',
        `the answer on ${subject} is not an admin reply`,
      );
    }
    return { kind: 'reply', reply };
  } catch (err) {
    if (err instanceof RemoteAdminError) throw err;
    if (isPermissionViolation(err)) throw new AdminPermissionError(operation, subject, { cause: err });
    if (isNoResponders(err))
      return { kind: 'none', reason: 'nobody serves its admin subject', delivered: false };
    if (isTimeout(err)) return { kind: 'none', reason: `no answer within ${waitMs} ms`, delivered: true };
    throw err; // the connection is closed or draining: not the group's doing
  }
}

function errorNamed(err: unknown, name: string): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === name || (err.cause instanceof Error && err.cause.name === name);
}

function isPermissionViolation(err: unknown): boolean {
  return errorNamed(err, 'PermissionViolationError');
}

function isTimeout(err: unknown): boolean {
  return errorNamed(err, 'TimeoutError');
}
