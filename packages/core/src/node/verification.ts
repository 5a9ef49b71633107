/**
 * Consistency verification: replicas are shown to hold the same state, not
 * assumed to.
 *
 * How it works, all through the log:
 * 1. The leader proposes a verification marker (an ordinary entry whose
 *    payload only raftline reads: it never reaches a handler, and the
 *    committed stream never shows it). Every replica that applies the
 *    marker at index N hashes its state there (Applier.digest) and keeps
 *    (N → digest) in a small history; writes go on meanwhile.
 * 2. The leader, once it applied marker N in the term it leads, proposes a
 *    report: N and its own digest there. Every replica that applies the
 *    report compares it with its own digest at N. One that differs has
 *    diverged at N: status().verification shows it, the logger logs an
 *    error, onDivergence listeners fire, and with divergenceAction
 *    'stop-applying' it stops applying (see NodeConfig.divergenceAction).
 *
 * Limits:
 * - The leader's digest is the reference: when the leader itself holds the
 *   wrong state, every follower finds itself diverged. Only a comparison of
 *   all replicas' digests at one marker (digestAt() on each, as the admin
 *   API does) tells which replica is the odd one out.
 * - A replica compares only markers it applied itself: one that restored a
 *   snapshot past a marker, or whose history (the last DIGEST_HISTORY
 *   markers) no longer holds it, skips that report. So does one whose digest
 *   scheme differs (a mixed-version group).
 * - What is found is kept in memory: a restarted replica forgets it, applies
 *   again from its snapshot and log, and is checked again at the next
 *   report it can compare. A replica that stopped applying takes no
 *   snapshots (its log is not compacted meanwhile); it still persists,
 *   acknowledges and votes, and as a leader refuses commands.
 */
import { createHash } from 'node:crypto';
import { pack, unpack } from '../codec';
import { ApplyTimeoutError, DivergedError, NodeStoppedError } from '../errors';
import type { Logger } from '../logger';
import type { Cancel, Clock } from '../ports/clock';
import type { Entry, NodeId } from '../protocol/types';
import type { Applier, ApplyResult } from './applier';
import type { NodeConfig } from './config';

/**
 * First element of a verification entry's payload, a msgpack positive
 * fixint: a command's first element is its name, a string, so a command
 * never looks like one, and decodeCommand refuses every verification entry.
 */
const VERIFY_TAG = 0x56;
const MARKER = 1;
const REPORT = 2;

/** Digests kept per replica: markers older than the last this many are forgotten. */
export const DIGEST_HISTORY = 64;

/** A replica's state differed from the leader's at a verification marker. */
export interface Divergence {
  /** The marker's log index. */
  readonly index: number;
  /** The index of the report that showed it. */
  readonly reportIndex: number;
  /** The leader that reported `expected`. */
  readonly leaderId: NodeId;
  /** The leader's digest at `index`. */
  readonly expected: string;
  /** This replica's digest at `index`. */
  readonly actual: string;
}

/** What status().verification reports. */
export interface VerificationStatus {
  /** Index of the last verification marker this replica applied since it started (0: none). */
  readonly lastIndex: number;
  /** This replica's digest at lastIndex. */
  readonly lastDigest?: string;
  /** The last marker whose report this replica compared with its own digest and found equal (0: none). */
  readonly lastMatchedIndex: number;
  /** Reports this replica compared with its own digest since it started, equal or not. */
  readonly compared: number;
  /** The first divergence found since the replica started (or installed a snapshot from the leader). */
  readonly diverged?: Divergence;
  /** Whether it stopped applying because of it (divergenceAction 'stop-applying'). */
  readonly stoppedApplying: boolean;
}

/** What RaftNode.verify() resolves with. */
export interface VerifyResult {
  /** The marker's log index: ask any replica for digestAt(index). */
  readonly index: number;
  /** The leader's digest there. */
  readonly digest: string;
  /** The report's log index: a replica that applied it has compared. */
  readonly reportIndex: number;
}

/** Options of RaftNode.digestAt(). */
export interface DigestAtOptions {
  /** How long to wait for this replica to apply the index; default NodeConfig.proposalTimeoutMs. */
  readonly timeoutMs?: number;
}

type VerificationEntry =
  | { readonly kind: 'marker' }
  | { readonly kind: 'report'; readonly marker: number; readonly digest: string; readonly leader: NodeId }
  | { readonly kind: 'other' };

/** @returns the payload of a verification marker */
export function encodeMarker(): Uint8Array {
  return pack([VERIFY_TAG, MARKER]);
}

/** @returns the payload of a report: the leader's digest at marker */
export function encodeReport(marker: number, digest: string, leader: NodeId): Uint8Array {
  return pack([VERIFY_TAG, REPORT, marker, digest, leader]);
}

/**
 * Reads a verification entry's payload; looks at two bytes of anything else.
 * @returns what it is, 'other' for one of a kind this version does not know
 *   (or malformed), undefined when data is not a verification entry
 */
export function decodeVerification(data: Uint8Array): VerificationEntry | undefined {
  if (data.length < 2 || (data[0]! & 0xf0) !== 0x90 || data[1] !== VERIFY_TAG) return undefined;
  let v: unknown;
  try {
    v = unpack(data);
  } catch {
    return { kind: 'other' };
  }
  const [, kind, marker, digest, leader] = v as unknown[];
  if (kind === MARKER) return { kind: 'marker' };
  if (
    kind === REPORT &&
    Number.isSafeInteger(marker) &&
    typeof digest === 'string' &&
    typeof leader === 'string'
  ) {
    return { kind: 'report', marker: marker as number, digest, leader };
  }
  return { kind: 'other' };
}

/** The scheme of a digest: what precedes its first ':'. */
function schemeOf(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? '' : digest.slice(0, colon);
}

/** What the verifier needs of its node. */
export interface VerifierDeps {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly applier: Applier;
  readonly config: Pick<NodeConfig, 'verifyEveryEntries' | 'divergenceAction' | 'proposalTimeoutMs'>;
  /** Proposes one entry as a command is proposed; resolves with its outcome's value once applied here. */
  readonly propose: (data: Uint8Array, options: { readonly timeoutMs?: number }) => Promise<unknown>;
  /** Whether this node leads, and its current term. */
  readonly leadership: () => { readonly leader: boolean; readonly term: number };
  /** The protocol's applied index. */
  readonly applied: () => number;
}

interface Waiter {
  readonly index: number;
  resolve(digest: string | undefined): void;
  reject(error: Error): void;
  readonly cancel: Cancel;
}

/** What intercept() decided about one committed entry. */
export interface Interception {
  /** false: the replica stopped applying; the entry is left unapplied. */
  readonly applied: boolean;
  /** The outcome to settle the entry's proposal with. */
  readonly outcome: ApplyResult | undefined;
}

/**
 * One node's side of consistency verification (see the file comment).
 * RaftNode hands it every committed entry first (intercept), calls
 * afterReady() after each Ready, and delegates verify(), digestAt() and
 * onDivergence() to it.
 */
export class Verifier {
  private readonly history = new Map<number, string>();
  /** marker index → its report's index, once proposed here. */
  private readonly reports = new Map<number, Promise<number>>();
  private last: { readonly index: number; readonly digest: string } | undefined;
  private lastMatched = 0;
  private compared = 0;
  private divergence: Divergence | undefined;
  /** Set while stopped: the index of the last entry applied. */
  private stoppedAt: number | undefined;
  private commandsSinceMarker = 0;
  private markerInFlight = false;
  private reportsDue: { readonly index: number; readonly digest: string }[] = [];
  private readonly listeners = new Set<(d: Divergence) => void>();
  private waiters: Waiter[] = [];
  private closed = false;

  constructor(private readonly deps: VerifierDeps) {}

  /** Whether this replica stopped applying at a divergence. */
  get stoppedApplying(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** The index the state machine holds: where it stopped, or the protocol's applied index. */
  appliedIndex(): number {
    return this.stoppedAt ?? this.deps.applied();
  }

  /** @throws DivergedError when this replica stopped applying */
  assertApplying(): void {
    if (this.stoppedAt !== undefined) throw this.divergedError();
  }

  /**
   * Sees committed entry e before RaftNode applies it.
   * @returns undefined when RaftNode applies e as usual; otherwise e was
   *   handled here (a verification entry), or left unapplied (stopped)
   */
  intercept(e: Entry): Interception | undefined {
    if (this.stoppedAt !== undefined) {
      return {
        applied: false,
        outcome: e.type === 'normal' ? { ok: false, error: this.divergedError() } : undefined,
      };
    }
    if (e.type !== 'normal') return undefined;
    const v = decodeVerification(e.data);
    if (!v) {
      this.commandsSinceMarker++;
      return undefined;
    }
    if (v.kind === 'marker') return { applied: true, outcome: this.applyMarker(e) };
    if (v.kind === 'report') return { applied: true, outcome: this.applyReport(e, v) };
    return { applied: true, outcome: undefined };
  }

  /**
   * After each Ready: answers digestAt() waiters, proposes due reports and,
   * on the leader, a periodic marker.
   */
  afterReady(): void {
    this.wake();
    const due = this.reportsDue;
    this.reportsDue = [];
    if (this.stoppedAt !== undefined) return;
    for (const r of due) {
      this.report(r.index, r.digest, {}).catch((err: unknown) =>
        this.deps.logger.debug(
          { node: this.deps.id, index: r.index, err },
          'verification report not applied',
        ),
      );
    }
    this.maybeMark();
  }

  /** The state was replaced by a snapshot from the leader: what diverged is gone. */
  onSnapshotInstalled(index: number): void {
    this.commandsSinceMarker = 0;
    if (this.stoppedAt === undefined) return;
    this.deps.logger.info(
      { node: this.deps.id, index },
      "the leader's snapshot replaced the diverged state; applying again",
    );
    this.stoppedAt = undefined;
    this.divergence = undefined;
  }

  /**
   * Leader: proposes a verification marker, at whose index every replica
   * digests its state, then a report of this leader's digest there, against
   * which every replica compares its own. Writes go on meanwhile; each of
   * the two entries may take options.timeoutMs.
   * @returns the marker's index and this leader's digest there, once the report is applied here
   * @throws NotLeaderError on a follower; LeadershipLostError / ProposalTimeoutError
   *   (nothing is lost: ask again); DivergedError when this replica stopped
   *   applying; TypeError when the state cannot be digested; NodeStoppedError
   */
  async verify(options: { readonly timeoutMs?: number }): Promise<VerifyResult> {
    this.assertApplying();
    const marker = (await this.deps.propose(encodeMarker(), options)) as { index: number; digest: string };
    const reportIndex = await this.report(marker.index, marker.digest, options);
    return { index: marker.index, digest: marker.digest, reportIndex };
  }

  /**
   * This replica's digest of its state at verification marker `index`,
   * once it has applied index (waiting up to options.timeoutMs, default
   * NodeConfig.proposalTimeoutMs, for it).
   * @returns the digest; undefined when index is no marker, or one this
   *   replica did not apply itself (it restored a snapshot past it), or one
   *   older than its last DIGEST_HISTORY markers
   * @throws ApplyTimeoutError when index was not applied within the timeout
   * @throws DivergedError when this replica stopped applying before index
   * @throws RangeError for an index that is not a positive integer
   * @throws NodeStoppedError once the node stopped
   */
  digestAt(index: number, options: DigestAtOptions = {}): Promise<string | undefined> {
    if (this.closed) return Promise.reject(new NodeStoppedError(this.deps.id));
    if (!Number.isSafeInteger(index) || index < 1)
      return Promise.reject(new RangeError(`index (${index}) must be a positive integer`));
    if (this.appliedIndex() >= index) return Promise.resolve(this.history.get(index));
    if (this.stoppedAt !== undefined) return Promise.reject(this.divergedError());
    const timeoutMs = options.timeoutMs ?? this.deps.config.proposalTimeoutMs;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        index,
        resolve,
        reject,
        cancel: this.deps.clock.setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new ApplyTimeoutError(this.deps.id, index, timeoutMs));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Calls listener whenever this replica finds its state differs from the
   * leader's report at a verification marker, until the returned function
   * is called. A listener that throws is logged and ignored.
   */
  onDivergence(listener: (d: Divergence) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): VerificationStatus {
    return {
      lastIndex: this.last?.index ?? 0,
      ...(this.last ? { lastDigest: this.last.digest } : {}),
      lastMatchedIndex: this.lastMatched,
      compared: this.compared,
      ...(this.divergence ? { diverged: this.divergence } : {}),
      stoppedApplying: this.stoppedAt !== undefined,
    };
  }

  /** The node stops: digestAt() waiters fail with NodeStoppedError. */
  close(): void {
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      w.cancel();
      w.reject(new NodeStoppedError(this.deps.id));
    }
  }

  // ------------------------------------------------------------ internals

  private applyMarker(e: Entry): ApplyResult {
    this.commandsSinceMarker = 0;
    let digest: string;
    try {
      digest = this.digestNow();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.deps.logger.error(
        { node: this.deps.id, index: e.index, err: error },
        'the state could not be digested at a verification marker',
      );
      return { ok: false, error };
    }
    this.history.set(e.index, digest);
    if (this.history.size > DIGEST_HISTORY) this.history.delete(this.history.keys().next().value!);
    this.last = { index: e.index, digest };
    const { leader, term } = this.deps.leadership();
    if (leader && term === e.term) this.reportsDue.push({ index: e.index, digest });
    return { ok: true, value: { index: e.index, digest } };
  }

  private applyReport(e: Entry, r: { marker: number; digest: string; leader: NodeId }): ApplyResult {
    const own = this.history.get(r.marker);
    const done: ApplyResult = { ok: true, value: e.index };
    if (own === undefined || schemeOf(own) !== schemeOf(r.digest)) return done; // nothing to compare with
    this.compared++;
    if (own === r.digest) {
      this.lastMatched = Math.max(this.lastMatched, r.marker);
      return done;
    }
    this.diverge({
      index: r.marker,
      reportIndex: e.index,
      leaderId: r.leader,
      expected: r.digest,
      actual: own,
    });
    return done;
  }

  private diverge(d: Divergence): void {
    this.divergence ??= d;
    const action = this.deps.config.divergenceAction;
    const stop = action === 'stop-applying';
    this.deps.logger.error(
      { node: this.deps.id, ...d, action },
      stop
        ? "state diverged from the leader's at a verification marker; stopped applying"
        : "state diverged from the leader's at a verification marker",
    );
    if (stop) this.stoppedAt = d.reportIndex;
    for (const listener of this.listeners) {
      try {
        listener(d);
      } catch (err) {
        this.deps.logger.warn({ node: this.deps.id, err }, 'divergence listener threw');
      }
    }
  }

  /** Proposes the report of marker index once (later calls share it). @returns the report's index */
  private report(index: number, digest: string, options: { readonly timeoutMs?: number }): Promise<number> {
    const known = this.reports.get(index);
    if (known) return known;
    const proposed = this.deps.propose(encodeReport(index, digest, this.deps.id), options) as Promise<number>;
    this.reports.set(index, proposed);
    if (this.reports.size > DIGEST_HISTORY) this.reports.delete(this.reports.keys().next().value!);
    proposed.catch(() => {
      if (this.reports.get(index) === proposed) this.reports.delete(index); // a later call may try again
    });
    return proposed;
  }

  /** On the leader: a marker once verifyEveryEntries commands were applied since the last one. */
  private maybeMark(): void {
    const every = this.deps.config.verifyEveryEntries;
    if (every === 0 || this.markerInFlight || this.commandsSinceMarker < every) return;
    if (!this.deps.leadership().leader) return;
    this.markerInFlight = true;
    this.deps
      .propose(encodeMarker(), {})
      .catch((err: unknown) =>
        this.deps.logger.debug({ node: this.deps.id, err }, 'periodic verification marker not applied'),
      )
      .finally(() => (this.markerInFlight = false));
  }

  private digestNow(): string {
    const { applier } = this.deps;
    if (applier.digest) return applier.digest();
    return `s1:${createHash('sha256').update(applier.snapshot()).digest('hex')}`;
  }

  private divergedError(): DivergedError {
    const d = this.divergence!;
    return new DivergedError(this.deps.id, d.index, d.expected, d.actual);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const applied = this.appliedIndex();
    const stopped = this.stoppedAt !== undefined;
    const waiting: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.index <= applied) {
        w.cancel();
        w.resolve(this.history.get(w.index));
      } else if (stopped) {
        w.cancel();
        w.reject(this.divergedError());
      } else waiting.push(w);
    }
    this.waiters = waiting;
  }
}
