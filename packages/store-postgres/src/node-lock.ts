import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { NodeAlreadyRunningError, NodeLockLostError, StoreUnavailableError, type LockHolder } from './errors';
import { databaseOf, type DedicatedSession, type SqlExecutor, type SqlSession } from './executor';
import type { Statements } from './sql';
import type { StoreOwner } from './store-base';

/**
 * One process at a time opens the stores of a (schema, group, node): a second
 * writer of the same rows would be a second Raft voter with the same identity.
 *
 * On PostgreSQL the lock is a session-level advisory lock on a connection of
 * its own (SqlExecutor.dedicatedSession), held for as long as the stores are
 * open. PostgreSQL releases it when that session ends, so a process killed
 * with kill -9 leaves nothing behind. The key is a 64-bit hash of (schema,
 * group, node) in pg_advisory_lock's bigint key space (which the two-int4 form
 * of the migration lock does not share); two ids with the same hash refuse
 * each other (a false NodeAlreadyRunningError, odds about n² / 2^65 for n
 * nodes), and can never both run.
 *
 * Under the advisory lock the holder bumps `epoch` in its node_lock row.
 * When the lock connection is lost (PostgreSQL restarted, the backend was
 * terminated, the heartbeat went unanswered) the stores stop acknowledging:
 * every call fails with StoreUnavailableError, and so does a call that was in
 * flight when the loss was noticed, while the lock is taken again in the
 * background. If the epoch is still this holder's, nobody else held the lock
 * meanwhile and the stores carry on. Otherwise another process ran on these
 * rows and every call fails with NodeLockLostError for good.
 *
 * What it cannot close: between PostgreSQL dropping the lock session and this
 * process noticing (the socket's close for a terminated backend, at most
 * HEARTBEAT_MS + PING_TIMEOUT_MS for a silent network) writes on the pool's
 * connections still succeed; a second process that takes the lock in that
 * window and writes at once can interleave with them.
 *
 * On an engine that is one session (PGlite) the lock is held in this process,
 * per database; another process cannot open the same data directory at all
 * (data-dir-lock.ts).
 */

/** How long createPostgresStores waits for a lock that a just-killed holder's session may still hold. */
export const START_WAIT_MS = 2000;
/** How often the lock connection is checked while idle. */
export const HEARTBEAT_MS = 2000;
/** A check the lock connection does not answer within this time counts as a lost connection. */
export const PING_TIMEOUT_MS = 5000;
const POLL_MS = 50;
const REGAIN_MIN_MS = 100;
/** Longest pause between attempts to take a lost lock back: the database back, the node writes again soon after. */
const REGAIN_MAX_MS = 250;

type State =
  | { readonly kind: 'held'; readonly session: DedicatedSession | undefined }
  | { readonly kind: 'regaining'; readonly cause: Error }
  | { readonly kind: 'lost'; readonly error: NodeLockLostError }
  | { readonly kind: 'released' };

interface LockRecord {
  epoch: string | number;
  holder: string;
  acquired_at: Date | string;
}

/** The held locks of single-session databases, by database, then key. */
const inProcess = new WeakMap<object, Set<string>>();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The advisory-lock key of (schema, group, node): a signed 64-bit integer, as text. */
export function nodeLockKey(schema: string, owner: StoreOwner): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['raftline node', schema, owner.groupId, owner.nodeId]))
    .digest();
  return digest.readBigInt64BE(0).toString();
}

/** The lock on one node's rows, shared by its three stores. */
export class NodeLock {
  private state: State;
  /** Counts losses: a call that saw another value at its start overlapped one. */
  private generation = 0;
  private verifying: Promise<void> | undefined;
  private suspected = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private regainTimer: NodeJS.Timeout | undefined;
  private regainDelay = REGAIN_MIN_MS;

  private constructor(
    private readonly db: SqlExecutor,
    private readonly sql: Statements,
    private readonly owner: StoreOwner,
    private readonly key: string,
    private readonly epoch: string,
    session: DedicatedSession | undefined,
  ) {
    this.state = { kind: 'held', session };
    if (session) this.watch(session);
  }

  /**
   * Takes the lock of owner's rows in sql.schema, waiting up to START_WAIT_MS
   * for a holder that is going away, and records this process in node_lock.
   * @returns the held lock
   * @throws NodeAlreadyRunningError when another holder keeps it
   * @throws the driver's error when the database fails
   */
  static async acquire(db: SqlExecutor, sql: Statements, owner: StoreOwner): Promise<NodeLock> {
    const key = nodeLockKey(sql.schema, owner);
    const params = [owner.groupId, owner.nodeId];
    const holder = `pid ${process.pid} on ${hostname()}`;
    const claim = async (session: SqlSession): Promise<string> => {
      const res = await session.query<{ epoch: string | number }>(sql.claimNodeLock, [...params, holder]);
      return String(res.rows[0]?.epoch);
    };
    const deadline = Date.now() + START_WAIT_MS;
    if (!db.dedicatedSession) {
      const held = inProcess.get(databaseOf(db)) ?? new Set<string>();
      inProcess.set(databaseOf(db), held);
      while (held.has(key)) {
        if (Date.now() >= deadline) throw await refusal(db, sql, owner);
        await sleep(POLL_MS);
      }
      held.add(key);
      try {
        return new NodeLock(db, sql, owner, key, await claim(db), undefined);
      } catch (err) {
        held.delete(key);
        throw err;
      }
    }
    const session = await db.dedicatedSession();
    try {
      while (!(await tryLock(session, key))) {
        if (Date.now() >= deadline) throw await refusal(session, sql, owner);
        await sleep(POLL_MS);
      }
      return new NodeLock(db, sql, owner, key, await claim(session), session);
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  /**
   * Call before a store operation.
   * @returns a token for confirm()
   * @throws NodeLockLostError once another process held the lock
   * @throws StoreUnavailableError (naming `operation`) while the lock is being taken back
   */
  async check(operation: string): Promise<number> {
    if (this.suspected && this.state.kind === 'held') {
      this.verifying ??= this.verify().finally(() => (this.verifying = undefined));
      await this.verifying;
    }
    this.throwUnlessHeld(operation);
    return this.generation;
  }

  /**
   * Call after a store operation succeeded: it is acknowledged only if the
   * lock was held throughout.
   * @throws NodeLockLostError or StoreUnavailableError (outcome unknown) when a loss overlapped it
   */
  confirm(token: number, operation: string): void {
    this.throwUnlessHeld(operation);
    if (token !== this.generation) {
      throw new StoreUnavailableError(operation, {
        cause: new Error('the node lock connection was lost while the call ran'),
      });
    }
  }

  /** A store call failed: check the lock connection before the next call runs. */
  suspect(): void {
    this.suspected = true;
  }

  /** Releases the lock (ends its connection). Idempotent. */
  async release(): Promise<void> {
    const state = this.state;
    if (state.kind === 'released') return;
    this.state = { kind: 'released' };
    clearInterval(this.heartbeat);
    clearTimeout(this.regainTimer);
    if (state.kind === 'held' && state.session) await state.session.close();
    if (!this.db.dedicatedSession) inProcess.get(databaseOf(this.db))?.delete(this.key);
  }

  // ------------------------------------------------------------ internals

  private throwUnlessHeld(operation: string): void {
    const state = this.state;
    if (state.kind === 'lost') throw state.error;
    if (state.kind === 'regaining') throw new StoreUnavailableError(operation, { cause: state.cause });
  }

  private watch(session: DedicatedSession): void {
    void session.lost.then((err) => this.onLost(session, err));
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      this.verifying ??= this.verify().finally(() => (this.verifying = undefined));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Pings the lock connection; a failure or silence past PING_TIMEOUT_MS counts as its loss. */
  private async verify(): Promise<void> {
    this.suspected = false;
    const state = this.state;
    if (state.kind !== 'held' || !state.session) return;
    const { session } = state;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        session.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the lock connection did not answer within ${PING_TIMEOUT_MS} ms`)),
            PING_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      this.onLost(session, err instanceof Error ? err : new Error(String(err)));
    } finally {
      clearTimeout(timer);
    }
  }

  private onLost(session: DedicatedSession, cause: Error): void {
    const state = this.state;
    if (state.kind !== 'held' || state.session !== session) return;
    this.generation++;
    clearInterval(this.heartbeat);
    this.state = { kind: 'regaining', cause };
    void session.close();
    this.regainDelay = REGAIN_MIN_MS;
    this.scheduleRegain(0);
  }

  private scheduleRegain(ms: number): void {
    this.regainTimer = setTimeout(() => void this.regain(), ms);
    this.regainTimer.unref();
  }

  /** One attempt to take the lock back; rescheduled until it is held, lost or released. */
  private async regain(): Promise<void> {
    if (this.state.kind !== 'regaining' || !this.db.dedicatedSession) return;
    let session: DedicatedSession | undefined;
    try {
      session = await this.db.dedicatedSession();
      const locked = await tryLock(session, this.key);
      const row = await readRecord(session, this.sql, this.owner);
      const sameEpoch = row !== undefined && String(row.epoch) === this.epoch;
      if (this.state.kind !== 'regaining') {
        await session.close();
        return;
      }
      if (locked && sameEpoch) {
        this.state = { kind: 'held', session };
        this.watch(session);
        return;
      }
      await session.close();
      if (!sameEpoch) {
        const by = row ? ` (${row.holder}, since ${new Date(row.acquired_at).toISOString()})` : '';
        this.state = {
          kind: 'lost',
          error: new NodeLockLostError(
            this.owner.groupId,
            this.owner.nodeId,
            `another process took the lock while its connection was gone${by}`,
          ),
        };
        return;
      }
      // Not locked, epoch still ours: our old session lingers on the server, or
      // a newcomer has the lock but has not claimed it yet. Try again.
    } catch (err) {
      await session?.close();
      if (this.state.kind === 'regaining') {
        this.state = { kind: 'regaining', cause: err instanceof Error ? err : new Error(String(err)) };
      }
    }
    if (this.state.kind !== 'regaining') return;
    this.scheduleRegain(this.regainDelay);
    this.regainDelay = Math.min(this.regainDelay * 2, REGAIN_MAX_MS);
  }
}

async function tryLock(session: SqlSession, key: string): Promise<boolean> {
  const res = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
    key,
  ]);
  return res.rows[0]?.locked === true;
}

async function readRecord(
  session: SqlSession,
  sql: Statements,
  owner: StoreOwner,
): Promise<LockRecord | undefined> {
  const res = await session.query<LockRecord>(sql.readNodeLock, [owner.groupId, owner.nodeId]);
  return res.rows[0];
}

/** The error for a lock another holder keeps, naming it when its row can be read. */
async function refusal(
  session: SqlSession,
  sql: Statements,
  owner: StoreOwner,
): Promise<NodeAlreadyRunningError> {
  let heldBy: LockHolder | undefined;
  try {
    const row = await readRecord(session, sql, owner);
    if (row) heldBy = { holder: row.holder, since: new Date(row.acquired_at) };
  } catch {
    // the name of the holder is a courtesy: the refusal stands without it
  }
  return new NodeAlreadyRunningError(owner.groupId, owner.nodeId, sql.schema, heldBy);
}
