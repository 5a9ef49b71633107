import {
  CompactedError,
  RaftlineError,
  type Entry,
  type HardState,
  type MemoryLogStore,
  type MemoryStableStore,
  type NodeId,
  type Role,
} from '@raftline/core';

/**
 * The properties SimCluster.check() verifies; a SafetyViolationError names one.
 * - election safety (§5.2): at most one leader per term, over the whole run;
 * - log matching (§5.3): one entry per (index, term) anywhere, ever, and
 *   logs that share an (index, term) agree on the term before it (hence on
 *   the whole prefix, by induction);
 * - leader completeness (§5.4): an entry committed in term t is in the log of
 *   every leader of a term ≥ t, or covered by that leader's snapshot;
 * - state-machine safety (§5.4.3): no two nodes commit or apply different
 *   entries at one index, no node replaces an entry it committed, and
 *   snapshots agree with the committed log (a snapshot ending at (i, t)
 *   means i@t committed) and with each other (byte-identical at one index);
 * - log shape: contiguous indexes and non-decreasing terms in a durable log,
 *   and a durable snapshot covering everything compacted out of it;
 * - durable commit: a durable commit index never points past the durable log
 *   (checked only while writes complete at once: with slow storage the hard
 *   state may land before the entries it covers, and a restart clamps it);
 * - node health: no node threw, logged an error, or dropped a message it
 *   could not handle (the simulated network only carries well-formed ones).
 */
export type SafetyProperty =
  | 'election safety'
  | 'log matching'
  | 'leader completeness'
  | 'state-machine safety'
  | 'log shape'
  | 'durable commit'
  | 'node health';

/** A safety property failed; `property` names it and the message starts with it. */
export class SafetyViolationError extends RaftlineError {
  constructor(
    readonly property: SafetyProperty,
    readonly detail: string,
  ) {
    super(`${property} violated: ${detail}`);
  }
}

/** A node's newest durable snapshot: the last entry it covers, a digest of its state, and its configuration. */
export interface SnapshotView {
  readonly index: number;
  readonly term: number;
  readonly digest: string;
  /** The configuration stored with it, rendered canonically (sets in name order). */
  readonly config: string;
}

/** What the monitor reads of one node: its durable stores, and its role while it runs. */
export interface NodeView {
  readonly id: NodeId;
  readonly log: MemoryLogStore;
  readonly stable: MemoryStableStore;
  /** The newest durable snapshot, if any. */
  readonly snapshot?: SnapshotView | undefined;
  /** Present while the node runs. */
  readonly live?: { readonly role: Role; readonly term: number };
}

interface Known {
  readonly entry: Entry;
  /** Term of the entry before it in the log it was first seen in (-1: unknown, the log was compacted there). */
  readonly prevTerm: number;
  readonly by: NodeId;
}

interface Committed {
  readonly term: number;
  /** The lowest current term of a node seen holding it committed: it was committed in a term ≤ this. */
  minTerm: number;
  readonly by: NodeId;
}

interface Applied {
  readonly term: number;
  readonly key: string;
  readonly by: NodeId;
  readonly what: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let k = 0; k < a.byteLength; k++) if (a[k] !== b[k]) return false;
  return true;
}

function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a === b || (a.index === b.index && a.term === b.term && a.type === b.type && sameBytes(a.data, b.data))
  );
}

function show(e: Entry | undefined, index?: number): string {
  return e ? `${e.index}@t${e.term}${e.type === 'noop' ? ' (noop)' : ''}` : `nothing at ${index ?? '?'}`;
}

/** The first index last seen in each store: it only grows (compaction), so reading from it rarely throws. */
const firstSeen = new WeakMap<MemoryLogStore, number>();

/** The durable log of a MemoryLogStore and the index of its first entry. */
function durableLog(log: MemoryLogStore): { first: number; entries: Entry[] } {
  const last = log.lastIndexSync();
  const hint = firstSeen.get(log) ?? 1;
  try {
    return { first: hint, entries: log.entriesSync(hint, last + 1) };
  } catch (err) {
    if (!(err instanceof CompactedError)) throw err;
    firstSeen.set(log, err.firstIndex);
    return { first: err.firstIndex, entries: log.entriesSync(err.firstIndex, last + 1) };
  }
}

const NO_SNAPSHOT: SnapshotView = { index: 0, term: 0, digest: '', config: '' };

/**
 * Keeps the history of a simulated run and checks every observation against
 * it, so that a violation is caught even when the nodes involved have since
 * crashed, restarted or been deposed. Incremental: each check() re-reads only
 * the part of each durable log that changed (entries are compared by
 * reference with the previous read, index by index, so compaction does not
 * force a re-read) and the newly committed indexes.
 *
 * Logs may start past index 1 (compacted behind a snapshot): what a snapshot
 * covers counts as held, committed and applied by its node.
 */
export class SafetyMonitor {
  private first: SafetyViolationError | undefined;
  private readonly leaders = new Map<number, NodeId>();
  /** index → term → the first entry seen there. */
  private readonly known: (Map<number, Known> | undefined)[] = [];
  /** index → the entry committed there. */
  private readonly committed: (Committed | undefined)[] = [];
  private readonly appliedAt: (Applied | undefined)[] = [];
  private maxCommitted = 0;
  private readonly mirrors = new Map<NodeId, { first: number; entries: readonly Entry[] }>();
  private readonly commitScanned = new Map<NodeId, number>();
  /** index → the first snapshot seen ending there, and its node. */
  private readonly snapshots = new Map<number, { snap: SnapshotView; by: NodeId }>();
  private readonly snapshotSeen = new Map<NodeId, SnapshotView>();

  /** strictDurability (default true): a durable commit index past the durable log is a violation. */
  constructor(private readonly options: { readonly strictDurability?: boolean } = {}) {}

  /** @returns the first violation recorded, if any */
  violation(): SafetyViolationError | undefined {
    return this.first;
  }

  /** Records a violation found elsewhere (only the first one is kept); never throws. */
  fail(property: SafetyProperty, detail: string): void {
    this.first ??= new SafetyViolationError(property, detail);
  }

  /** Every (term → leader) seen so far. */
  leaderHistory(): ReadonlyMap<number, NodeId> {
    return this.leaders;
  }

  /**
   * Records that id became leader of term, with its durable log (and
   * snapshot) at that moment, checked for leader completeness. Never
   * throws: a violation is kept for the next check().
   */
  leaderElected(id: NodeId, term: number, log: MemoryLogStore, snapshot?: SnapshotView): void {
    const prior = this.leaders.get(term);
    if (prior !== undefined && prior !== id)
      this.fail('election safety', `term ${term} has two leaders: ${prior} and ${id}`);
    this.leaders.set(term, id);
    const { first, entries } = durableLog(log);
    const problem = this.completenessProblem(id, term, first, entries, snapshot ?? NO_SNAPSHOT);
    if (problem) this.fail('leader completeness', problem);
  }

  /**
   * Records that id applied the entry (index, term) whose command encodes to
   * key (what: a readable rendering). Never throws.
   */
  applied(id: NodeId, index: number, term: number, key: string, what: string): void {
    const prior = this.appliedAt[index];
    if (prior && (prior.term !== term || prior.key !== key)) {
      this.fail(
        'state-machine safety',
        `${prior.by} applied ${prior.what} at ${index}@t${prior.term} but ${id} applied ${what} at ${index}@t${term}`,
      );
    } else if (!prior) {
      this.appliedAt[index] = { term, key, by: id, what };
    }
    const c = this.committed[index];
    if (c && c.term !== term)
      this.fail(
        'state-machine safety',
        `${id} applied ${index}@t${term} but ${c.by} committed ${index}@t${c.term}`,
      );
  }

  /**
   * Checks every node's durable state (and the roles of the live ones)
   * against the history, then adds it to the history.
   * @throws SafetyViolationError for the first violation recorded or found
   */
  check(nodes: readonly NodeView[]): void {
    if (!this.first) {
      try {
        for (const n of nodes) this.checkNode(n);
      } catch (err) {
        if (!(err instanceof SafetyViolationError)) throw err;
        this.first = err;
      }
    }
    if (this.first) throw this.first;
  }

  private checkNode(n: NodeView): void {
    const { first, entries } = durableLog(n.log);
    const snap = n.snapshot ?? NO_SNAPSHOT;
    const hs: HardState = n.stable.loadSync() ?? { term: 0, vote: '', commit: 0 };
    if (snap.index < first - 1) {
      throw new SafetyViolationError(
        'log shape',
        `${n.id}'s log starts at ${first} but its snapshot covers only up to ${snap.index}: ` +
          `entries ${snap.index + 1}..${first - 1} are gone`,
      );
    }
    this.scanSnapshot(n.id, snap, hs);
    this.scanLog(n.id, first, entries, hs, snap);
    this.scanCommitted(n.id, first, entries, hs, snap);
    if (n.live?.role === 'leader') {
      const prior = this.leaders.get(n.live.term);
      if (prior !== undefined && prior !== n.id) {
        throw new SafetyViolationError(
          'election safety',
          `term ${n.live.term} has two leaders: ${prior} and ${n.id}`,
        );
      }
      this.leaders.set(n.live.term, n.id);
      const problem = this.completenessProblem(n.id, n.live.term, first, entries, snap);
      if (problem) throw new SafetyViolationError('leader completeness', problem);
    }
  }

  /** §7: a snapshot ending at (i, t) holds committed state: i@t is committed, and equal snapshots agree. */
  private scanSnapshot(id: NodeId, snap: SnapshotView, hs: HardState): void {
    if (snap.index === 0 || this.snapshotSeen.get(id) === snap) return;
    this.snapshotSeen.set(id, snap);
    const other = this.snapshots.get(snap.index);
    if (other && (other.snap.digest !== snap.digest || other.snap.config !== snap.config)) {
      const why =
        other.snap.config !== snap.config
          ? `configurations ${other.snap.config} vs ${snap.config}`
          : 'state machines differ';
      throw new SafetyViolationError(
        'state-machine safety',
        `${other.by} and ${id} hold different snapshots ending at index ${snap.index} (${why})`,
      );
    }
    if (!other) this.snapshots.set(snap.index, { snap, by: id });
    this.commitEntry(id, snap.index, snap.term, hs.term, `a snapshot ending at ${snap.index}@t${snap.term}`);
  }

  /** Verifies the entries that changed since the last read of this log. */
  private scanLog(id: NodeId, first: number, entries: Entry[], hs: HardState, snap: SnapshotView): void {
    const mirror = this.mirrors.get(id) ?? { first, entries: [] };
    const shift = first - mirror.first;
    let k = 0;
    while (k < entries.length && entries[k] === mirror.entries[k + shift]) k++;
    const last = Math.max(first + entries.length - 1, snap.index);
    const scanned = this.commitScanned.get(id) ?? 0;
    if (last < scanned) {
      throw new SafetyViolationError(
        'state-machine safety',
        `${id} committed up to ${scanned} but its durable log now ends at ${last}`,
      );
    }
    for (let j = k; j < entries.length; j++) {
      const e = entries[j]!;
      const prev = j > 0 ? entries[j - 1]! : undefined;
      if (e.index !== first + j)
        throw new SafetyViolationError('log shape', `${id} holds ${show(prev)} then ${show(e)}`);
      if (prev && e.term < prev.term)
        throw new SafetyViolationError('log shape', `${id} holds ${show(prev)} before ${show(e)}`);
      if (e.term > hs.term && this.options.strictDurability !== false) {
        throw new SafetyViolationError('log shape', `${id} in term ${hs.term} holds ${show(e)}`);
      }
      const prevTerm = prev ? prev.term : first === 1 ? 0 : snap.index === first - 1 ? snap.term : -1;
      this.verifyKnown(id, e, prevTerm);
      const c = this.committed[e.index];
      if (e.index <= scanned && c && c.term !== e.term) {
        throw new SafetyViolationError(
          'state-machine safety',
          `${id} replaced its committed entry ${e.index}@t${c.term} with ${show(e)}`,
        );
      }
    }
    this.mirrors.set(id, { first, entries });
  }

  /** §5.3: one entry per (index, term), always preceded by the same term. */
  private verifyKnown(id: NodeId, e: Entry, prevTerm: number): void {
    let byTerm = this.known[e.index];
    if (!byTerm) this.known[e.index] = byTerm = new Map();
    const k = byTerm.get(e.term);
    if (!k) {
      byTerm.set(e.term, { entry: e, prevTerm, by: id });
      return;
    }
    if (!sameEntry(k.entry, e)) {
      throw new SafetyViolationError(
        'log matching',
        `${k.by} and ${id} hold different entries at ${show(e)}`,
      );
    }
    if (k.prevTerm >= 0 && prevTerm >= 0 && k.prevTerm !== prevTerm) {
      throw new SafetyViolationError(
        'log matching',
        `${k.by} and ${id} share ${show(e)} but differ at ${e.index - 1}: term ${k.prevTerm} vs term ${prevTerm}`,
      );
    }
  }

  /** Adds the node's newly committed prefix (by its durable commit index) to the history. */
  private scanCommitted(
    id: NodeId,
    first: number,
    entries: Entry[],
    hs: HardState,
    snap: SnapshotView,
  ): void {
    const last = Math.max(first + entries.length - 1, snap.index);
    if (hs.commit > last && this.options.strictDurability !== false) {
      throw new SafetyViolationError(
        'durable commit',
        `${id} has commit index ${hs.commit} but its durable log ends at ${last}`,
      );
    }
    const commit = Math.min(hs.commit, first + entries.length - 1);
    const from = Math.max(first, (this.commitScanned.get(id) ?? 0) + 1);
    for (let i = from; i <= commit; i++)
      this.commitEntry(id, i, entries[i - first]!.term, hs.term, undefined);
    const covered = Math.max(commit, Math.min(hs.commit, snap.index));
    this.commitScanned.set(id, Math.max(covered, this.commitScanned.get(id) ?? 0));
  }

  /** Records that id holds i@term committed (as of its term `now`); `what` describes it when not a log entry. */
  private commitEntry(id: NodeId, i: number, term: number, now: number, what: string | undefined): void {
    const held = what ?? `${i}@t${term}`;
    const c = this.committed[i];
    if (c) {
      if (c.term !== term) {
        throw new SafetyViolationError(
          'state-machine safety',
          `${c.by} committed ${i}@t${c.term} but ${id} committed ${held}`,
        );
      }
      c.minTerm = Math.min(c.minTerm, now);
      return;
    }
    const a = this.appliedAt[i];
    if (a && a.term !== term) {
      throw new SafetyViolationError(
        'state-machine safety',
        `${a.by} applied ${i}@t${a.term} but ${id} committed ${held}`,
      );
    }
    this.committed[i] = { term, minTerm: now, by: id };
    this.maxCommitted = Math.max(this.maxCommitted, i);
  }

  /**
   * §5.4: returns why a leader of `term` with this log and snapshot misses a
   * committed entry, or undefined. Entries its snapshot covers count as held
   * (the snapshot itself is checked against the committed log).
   */
  private completenessProblem(
    id: NodeId,
    term: number,
    first: number,
    entries: readonly Entry[],
    snap: SnapshotView,
  ): string | undefined {
    for (let i = first; i <= this.maxCommitted; i++) {
      const c = this.committed[i];
      if (!c || c.minTerm > term) continue;
      const mine = entries[i - first];
      if (!mine && i <= snap.index) continue;
      if (!mine || mine.term !== c.term) {
        return `${i}@t${c.term} was committed (seen by ${c.by} in term ${c.minTerm}) but leader ${id} of term ${term} holds ${show(mine, i)}`;
      }
    }
    return undefined;
  }
}
