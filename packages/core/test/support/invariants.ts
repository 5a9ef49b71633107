import type { Entry, NodeId, Role } from '../../src/index';

/**
 * A safety checker for Raft clusters driven by tests: feed it what every live
 * node looks like after each step (and what each node applies), and it throws
 * an InvariantViolation naming the first property that no longer holds.
 *
 * It keeps a history across the whole run (every leader per term, every entry
 * ever seen committed or applied), so a violation is caught even when the
 * nodes involved have since crashed, restarted or been deposed.
 */

/** The properties checked; each InvariantViolation names one. */
export type SafetyProperty =
  | 'election safety' // §5.2: at most one leader per term
  | 'log matching' // §5.3: same (index, term) ⇒ identical prefixes
  | 'leader completeness' // §5.4: committed entries are in every later leader's log
  | 'state-machine safety' // §5.4.3: one entry per index, whoever commits or applies it
  | 'commit monotonicity' // a live node's commit index never decreases
  | 'applied ≤ committed' // Invariant: applied <= committed
  | 'apply order' // committed entries are applied once each, in index order
  | 'log shape'; // contiguous indexes, non-decreasing terms, none above the node's term

/** Thrown by SafetyChecker; the message starts with the property's name. */
export class InvariantViolation extends Error {
  constructor(
    readonly property: SafetyProperty,
    detail: string,
  ) {
    super(`${property} violated: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** What the checker needs to see of one live node. */
export interface NodeObservation {
  readonly id: NodeId;
  /** Bumped on every restart: commit monotonicity and apply order hold per incarnation. */
  readonly incarnation: number;
  readonly role: Role;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The node's in-memory log, contiguous; it may start after index 1 once a prefix is compacted. */
  readonly entries: readonly Entry[];
}

interface CommittedRecord {
  readonly entry: Entry;
  /** The lowest term of a node seen holding it committed; every leader of this term or later must hold it. */
  readonly term: number;
  readonly by: NodeId;
}

interface AppliedRecord {
  readonly entry: Entry;
  readonly by: NodeId;
}

/** Returns whether two entries are the same entry: index, term, type and payload bytes. */
export function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  if (a.data.byteLength !== b.data.byteLength) return false;
  for (let k = 0; k < a.data.byteLength; k++) if (a.data[k] !== b.data[k]) return false;
  return true;
}

/** A short, readable rendering of an entry for violation messages. */
export function showEntry(e: Entry | undefined): string {
  if (!e) return '(none)';
  const payload = e.type === 'noop' ? '·' : new TextDecoder().decode(e.data);
  return `${e.index}@t${e.term}:${payload}`;
}

/** Entry i of a contiguous log, or undefined when i lies outside it. */
function entryAt(log: readonly Entry[], i: number): Entry | undefined {
  const first = log[0];
  if (!first) return undefined;
  return log[i - first.index];
}

/**
 * Keeps the run's history and checks each new observation against it.
 * Not thread-safe, not persistent: one instance per simulated run.
 */
export class SafetyChecker {
  /** term → the one node ever seen leading it. */
  private readonly leaders = new Map<number, NodeId>();
  /** index → the entry committed there, and the earliest term it was seen committed in. */
  private readonly committed = new Map<number, CommittedRecord>();
  /** index → the entry some node applied there. */
  private readonly appliedAt = new Map<number, AppliedRecord>();
  /** node → its incarnation and the highest commit index seen in it. */
  private readonly commits = new Map<NodeId, { incarnation: number; commit: number }>();
  /** node → its incarnation and the last index it applied in it. */
  private readonly applies = new Map<NodeId, { incarnation: number; last: number }>();

  /**
   * Checks a consistent cut of the live nodes against every property and the
   * history, then adds it to the history.
   * @throws InvariantViolation for the first property that fails
   */
  check(nodes: readonly NodeObservation[]): void {
    for (const n of nodes) this.checkNode(n);
    for (const n of nodes) this.recordCommitted(n);
    for (const n of nodes) if (n.role === 'leader') this.checkLeader(n);
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) checkLogMatching(nodes[a]!, nodes[b]!);
    }
  }

  /**
   * Records that node `id` (in `incarnation`) applied `entries` to its state
   * machine. Within an incarnation the entries must continue where the last
   * batch stopped; the first batch of an incarnation must start right after
   * `appliedAtStart` (what the state machine had applied when the node started).
   * @throws InvariantViolation ('apply order' or 'state-machine safety')
   */
  recordApplied(id: NodeId, incarnation: number, entries: readonly Entry[], appliedAtStart = 0): void {
    let state = this.applies.get(id);
    if (!state || state.incarnation !== incarnation) {
      state = { incarnation, last: appliedAtStart };
      this.applies.set(id, state);
    }
    for (const e of entries) {
      if (e.index !== state.last + 1) {
        fail('apply order', `${id} applied ${showEntry(e)} right after index ${state.last}`);
      }
      state.last = e.index;
      const prior = this.appliedAt.get(e.index);
      if (prior && !sameEntry(prior.entry, e)) {
        fail(
          'state-machine safety',
          `${prior.by} applied ${showEntry(prior.entry)} but ${id} applied ${showEntry(e)}`,
        );
      }
      const committed = this.committed.get(e.index);
      if (committed && !sameEntry(committed.entry, e)) {
        fail(
          'state-machine safety',
          `${id} applied ${showEntry(e)} where ${showEntry(committed.entry)} was committed`,
        );
      }
      if (!prior) this.appliedAt.set(e.index, { entry: e, by: id });
    }
  }

  /** Every (term → leader) seen so far, for reports. */
  leaderHistory(): ReadonlyMap<number, NodeId> {
    return this.leaders;
  }

  /** The highest index ever seen committed (0 when none). */
  maxCommitted(): number {
    let max = 0;
    for (const i of this.committed.keys()) if (i > max) max = i;
    return max;
  }

  private checkNode(n: NodeObservation): void {
    checkLogShape(n);
    if (n.role === 'leader') {
      const prior = this.leaders.get(n.term);
      if (prior !== undefined && prior !== n.id) {
        fail('election safety', `term ${n.term} has two leaders: ${prior} and ${n.id}`);
      }
      this.leaders.set(n.term, n.id);
    }
    const seen = this.commits.get(n.id);
    if (seen && seen.incarnation === n.incarnation && n.commitIndex < seen.commit) {
      fail(
        'commit monotonicity',
        `${n.id} moved its commit index back from ${seen.commit} to ${n.commitIndex}`,
      );
    }
    this.commits.set(n.id, { incarnation: n.incarnation, commit: n.commitIndex });
    if (n.appliedIndex > n.commitIndex) {
      fail('applied ≤ committed', `${n.id} applied ${n.appliedIndex} but committed only ${n.commitIndex}`);
    }
    const applied = this.applies.get(n.id);
    if (applied && applied.incarnation === n.incarnation && applied.last > n.commitIndex) {
      fail(
        'applied ≤ committed',
        `${n.id} handed out ${applied.last} to apply but committed only ${n.commitIndex}`,
      );
    }
  }

  /** Adds n's committed prefix to the history; it must agree with everything committed or applied before. */
  private recordCommitted(n: NodeObservation): void {
    const first = n.entries[0]?.index ?? 1;
    for (let i = first; i <= n.commitIndex; i++) {
      const e = entryAt(n.entries, i);
      if (!e) fail('log shape', `${n.id} committed ${n.commitIndex} but holds no entry ${i}`);
      const prior = this.committed.get(i);
      if (prior) {
        if (!sameEntry(prior.entry, e)) {
          fail(
            'state-machine safety',
            `${prior.by} committed ${showEntry(prior.entry)} but ${n.id} committed ${showEntry(e)}`,
          );
        }
        if (n.term < prior.term) this.committed.set(i, { entry: prior.entry, term: n.term, by: n.id });
        continue;
      }
      const applied = this.appliedAt.get(i);
      if (applied && !sameEntry(applied.entry, e)) {
        fail(
          'state-machine safety',
          `${applied.by} applied ${showEntry(applied.entry)} but ${n.id} committed ${showEntry(e)}`,
        );
      }
      this.committed.set(i, { entry: e, term: n.term, by: n.id });
    }
  }

  /**
   * §5.4 Leader Completeness: an entry seen committed by a node in term t was
   * committed by a leader of term ≤ t, so every leader of term ≥ t holds it.
   */
  private checkLeader(n: NodeObservation): void {
    const first = n.entries[0]?.index ?? 1;
    for (const [i, rec] of this.committed) {
      if (rec.term > n.term || i < first) continue; // later commits, or compacted away here
      const mine = entryAt(n.entries, i);
      if (!mine || !sameEntry(mine, rec.entry)) {
        fail(
          'leader completeness',
          `${showEntry(rec.entry)} was committed (seen by ${rec.by} in term ${rec.term}) ` +
            `but leader ${n.id} of term ${n.term} holds ${showEntry(mine)}`,
        );
      }
    }
  }
}

/** Contiguous indexes, terms never decreasing along the log, none above the node's current term. */
function checkLogShape(n: NodeObservation): void {
  let prev: Entry | undefined;
  for (const e of n.entries) {
    if (prev && e.index !== prev.index + 1) fail('log shape', `${n.id} holds ${prev.index} then ${e.index}`);
    if (prev && e.term < prev.term)
      fail('log shape', `${n.id} holds ${showEntry(prev)} before ${showEntry(e)}`);
    prev = e;
  }
  if (prev && prev.term > n.term) fail('log shape', `${n.id} in term ${n.term} holds ${showEntry(prev)}`);
}

/**
 * §5.3 Log Matching: if two logs hold an entry with the same index and term,
 * they are identical in every entry up to that index.
 */
export function checkLogMatching(a: NodeObservation, b: NodeObservation): void {
  const lo = Math.max(a.entries[0]?.index ?? 1, b.entries[0]?.index ?? 1);
  const hi = Math.min(lastIndex(a.entries), lastIndex(b.entries));
  let i = hi;
  while (i >= lo && entryAt(a.entries, i)!.term !== entryAt(b.entries, i)!.term) i--;
  for (const top = i; i >= lo; i--) {
    const x = entryAt(a.entries, i)!;
    const y = entryAt(b.entries, i)!;
    if (!sameEntry(x, y)) {
      fail(
        'log matching',
        `${a.id} and ${b.id} share index ${top} in term ${entryAt(a.entries, top)!.term} ` +
          `but differ at ${i}: ${showEntry(x)} vs ${showEntry(y)}`,
      );
    }
  }
}

function lastIndex(log: readonly Entry[]): number {
  const last = log[log.length - 1];
  return last ? last.index : 0;
}

function fail(property: SafetyProperty, detail: string): never {
  throw new InvariantViolation(property, detail);
}
