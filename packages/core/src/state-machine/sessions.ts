/**
 * The exactly-once session table (Raft thesis §6.3): per client, the results
 * of the commands it has not acknowledged yet, and the log index each was
 * first applied at, so that a retried (clientId, seq) returns its first
 * result instead of applying again, and the committed stream can name the
 * entry it duplicates.
 *
 * Everything here is driven by replicated values only (the entry's time, the
 * client's seq and ackedBelow), so every replica keeps the same table and a
 * snapshot holds it byte for byte.
 */
import { CommandFailedError, DecodeError, UnknownCommandError } from '../errors';
import type { ApplyResult } from '../node/applier';
import { pack, unpack } from '../codec';
import { FRAMEWORK_COMMAND_PREFIX } from '../node/command';
import { decodeTree, encodeTree } from './tree';

/** One client's session. */
interface Session {
  /** Replicated time of the last command that named this session. */
  lastSeen: number;
  /** Results of seqs below this one were acknowledged and dropped. */
  ackedBelow: number;
  /** seq → the first result, encoded (immutable, as it will be snapshotted), and the index it was applied at. */
  readonly results: Map<number, StoredResult>;
}

/** A first result as the table keeps it. */
interface StoredResult {
  readonly result: Uint8Array;
  /** The log index at which (clientId, seq) was first applied. */
  readonly index: number;
}

/** A stored result as it sits in a snapshot row: [seq, encoded result, first index]. */
type ResultRow = [seq: number, result: Uint8Array, index: number];

/** A session as it sits in a snapshot. */
type SessionRow = [clientId: string, lastSeen: number, ackedBelow: number, results: ResultRow[]];

/**
 * The framework's command that registers a client session (Raft thesis
 * §6.3, RegisterClient): `{ name: REGISTER_SESSION, args: [nonce] }`, with no
 * session of its own, where nonce is 1 to 64 of [A-Za-z0-9_-] (a random
 * UUID). MachineHost handles it; the machine never sees it. Its result is
 * the session's id, `$<index>.<nonce>`: the registration's log index makes
 * it unique in the log, the nonce across logs (a group rebuilt from empty).
 *
 * A registered id ('$' first) is known only while its session lives: a
 * command naming one the table does not hold (never registered, expired, or
 * evicted) is refused with SessionExpiredError, at any seq, so a retry after
 * expiry is never applied again. Ids without the '$' keep the unregistered
 * behaviour: their seq 1 opens a session (and so applies again if retried
 * after that session expired).
 */
export const REGISTER_SESSION = `${FRAMEWORK_COMMAND_PREFIX}register`;

const NONCE = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether clientId names a registered session (see REGISTER_SESSION). */
export function isRegisteredSessionId(clientId: string): boolean {
  return clientId.startsWith('$');
}

/**
 * Checks a registration request's arguments.
 * @returns the nonce, or a problem (a string starting with "args") when the arguments are not [nonce]
 */
export function registrationNonce(args: readonly unknown[]): { nonce: string } | { problem: string } {
  if (!Array.isArray(args) || args.length !== 1) return { problem: 'args must be [nonce]' };
  const nonce: unknown = args[0];
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
    return { problem: 'args[0] (nonce) must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -' };
  }
  return { nonce };
}

/** What the table knows about one (clientId, seq) before it is applied. */
export type Lookup =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly result: ApplyResult; readonly index: number }
  | { readonly kind: 'expired' };

const OK = 0;
const FAILED = 1;
const UNKNOWN = 2;

/**
 * Encodes a result for storage: `[0, value]`, `[2, command, kind]` for
 * UnknownCommandError, `[1, command, reason]` or `[1, command, reason,
 * errorName]` for CommandFailedError (the first is also what raftline wrote
 * before it kept the error's name; both decode).
 * @returns the encoded result
 * @throws TypeError when a successful result's value is not plain data
 */
export function encodeResult(result: ApplyResult): Uint8Array {
  if (result.ok) return pack([OK, encodeTree(result.value, 'the result', 'return plain data from handlers')]);
  const e = result.error;
  if (e instanceof UnknownCommandError) return pack([UNKNOWN, e.command, e.kind]);
  if (e instanceof CommandFailedError) {
    // [FAILED, command, reason] as before the error's name was kept; [.., errorName] with it.
    const row = [FAILED, e.command, e.reason];
    return pack(e.errorName === undefined ? row : [...row, e.errorName]);
  }
  return pack([FAILED, '', e.message]);
}

/**
 * Decodes a stored result.
 * @returns a fresh copy of the stored result
 * @throws DecodeError when data is not an encoded result
 */
export function decodeResult(data: Uint8Array): ApplyResult {
  const v = unpack(data);
  if (!Array.isArray(v)) throw new DecodeError('stored session result is malformed');
  const [tag, a, b, c] = v as unknown[];
  if (tag === OK) return { ok: true, value: decodeTree(a) };
  if (tag === UNKNOWN && typeof a === 'string' && (b === 'command' || b === 'query')) {
    return { ok: false, error: new UnknownCommandError(a, b) };
  }
  if (tag === FAILED && typeof a === 'string' && typeof b === 'string' && v.length <= 4) {
    if (v.length === 3) return { ok: false, error: new CommandFailedError(a, b) };
    if (typeof c === 'string') return { ok: false, error: new CommandFailedError(a, b, c) };
  }
  throw new DecodeError('stored session result is malformed');
}

/**
 * Client sessions ordered from least to most recently used.
 * Invariant: map order is by lastSeen, non-decreasing (touch() moves a
 * session to the end and time never goes back), so expiry and LRU eviction
 * both take from the front.
 */
export class SessionTable {
  private sessions = new Map<string, Session>();

  /**
   * @param maxResults results one session keeps unacknowledged at most: past
   *   it, the oldest stored goes, and its seq and those below count as
   *   acknowledged (a resend of them is refused as expired, never applied
   *   again), so a client that never acknowledges cannot grow the table
   */
  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions: number,
    private readonly maxResults: number = Infinity,
  ) {}

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Drops every session idle for longer than ttlMs at replicated time `now`. */
  expire(now: number): void {
    for (const [clientId, s] of this.sessions) {
      if (now - s.lastSeen <= this.ttlMs) break;
      this.sessions.delete(clientId);
    }
  }

  /**
   * Looks up (clientId, seq): a stored first result (with the index it was
   * applied at), a new command, or one the table can no longer vouch for (an
   * unknown registered session; an unknown unregistered client past seq 1; a
   * seq whose result was acknowledged and dropped).
   * @returns the lookup's outcome
   */
  lookup(clientId: string, seq: number): Lookup {
    const s = this.sessions.get(clientId);
    if (!s) return seq === 1 && !isRegisteredSessionId(clientId) ? { kind: 'new' } : { kind: 'expired' };
    const stored = s.results.get(seq);
    if (stored) return { kind: 'duplicate', result: decodeResult(stored.result), index: stored.index };
    return seq < s.ackedBelow ? { kind: 'expired' } : { kind: 'new' };
  }

  /**
   * Marks the session used at `now`, creating it if needed, raises its
   * ackedBelow (never past seq, so this command's result stays) and drops
   * acknowledged results; then evicts least recently used sessions beyond
   * maxSessions. Never evicts this session (maxSessions ≥ 1).
   */
  touch(clientId: string, seq: number, ackedBelow: number, now: number): void {
    const s = this.sessions.get(clientId) ?? { lastSeen: now, ackedBelow: 0, results: new Map() };
    this.sessions.delete(clientId);
    this.sessions.set(clientId, s);
    s.lastSeen = now;
    const acked = Math.min(ackedBelow, seq);
    if (acked > s.ackedBelow) {
      s.ackedBelow = acked;
      for (const stored of s.results.keys()) if (stored < acked) s.results.delete(stored);
    }
    for (const [oldest] of this.sessions) {
      if (this.sessions.size <= this.maxSessions) break;
      this.sessions.delete(oldest);
    }
  }

  /** Opens the registered session clientId at `now` (see REGISTER_SESSION), evicting as touch() does. */
  register(clientId: string, now: number): void {
    this.touch(clientId, 0, 0, now);
  }

  /**
   * Stores the first result of (clientId, seq), applied at log index `index`;
   * the session must exist (touch() first).
   */
  store(clientId: string, seq: number, result: Uint8Array, index: number): void {
    const s = this.sessions.get(clientId);
    if (!s) return;
    s.results.set(seq, { result, index });
    for (const [oldest] of s.results) {
      if (s.results.size <= this.maxResults) break;
      s.results.delete(oldest);
      s.ackedBelow = Math.max(s.ackedBelow, oldest + 1);
    }
  }

  /** @returns the table as snapshot rows, least recently used first */
  toRows(): SessionRow[] {
    return [...this.sessions].map(([id, s]) => [
      id,
      s.lastSeen,
      s.ackedBelow,
      [...s.results].map(([seq, r]): ResultRow => [seq, r.result, r.index]),
    ]);
  }

  /**
   * Replaces the table with snapshot rows.
   * @throws DecodeError when rows are malformed (the table is left unchanged)
   */
  fromRows(rows: unknown): void {
    if (!Array.isArray(rows)) throw new DecodeError('snapshot session table is malformed');
    const next = new Map<string, Session>();
    for (const row of rows as unknown[]) {
      const [id, lastSeen, ackedBelow, results] = Array.isArray(row) ? (row as unknown[]) : [];
      if (
        typeof id !== 'string' ||
        typeof lastSeen !== 'number' ||
        typeof ackedBelow !== 'number' ||
        !Array.isArray(results) ||
        !results.every(isResultRow)
      ) {
        throw new DecodeError('snapshot session row is malformed');
      }
      const stored = (results as ResultRow[]).map(([seq, result, index]): [number, StoredResult] => [
        seq,
        { result, index },
      ]);
      next.set(id, { lastSeen, ackedBelow, results: new Map(stored) });
    }
    this.sessions = next;
  }
}

function isResultRow(r: unknown): r is ResultRow {
  return (
    Array.isArray(r) &&
    typeof r[0] === 'number' &&
    r[1] instanceof Uint8Array &&
    Number.isSafeInteger(r[2]) &&
    (r[2] as number) >= 1
  );
}
