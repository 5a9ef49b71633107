/**
 * One environment's flags as a client holds them: a copy of the store's state
 * for that environment, loaded from an environmentSnapshot and kept current by
 * applying the committed commands after it, in log order, with the store's
 * own code (FlagStore), so that the copy is what a replica holds at the same
 * index. Pure: no I/O, no clock (the time of a write is the one the log
 * carries). The client (client.ts) feeds it; tests feed it by hand.
 */
import type { ImportOptions } from '../machine';
import { fromFlagd } from '../flagd-import';
import type { FlagEvaluator } from '../evaluator';
import { resolveOptions } from '../options';
import { FlagStore, type EnvState, type WriteAt } from '../store';
import type {
  EnvironmentSnapshot,
  FlagDefinition,
  FlagRecord,
  SegmentDefinition,
  WriteOptions,
} from '../types';
import { ViewOutOfDateError } from './errors';

/**
 * One committed command as a client receives it: the shape both
 * RaftNode.committed() events and readCommitted() messages have.
 */
export interface CommittedChange {
  /** Its log index (strictly increasing along the stream). */
  readonly index: number;
  /** The command as the leader stamped it: handler name, arguments and replicated time. */
  readonly command: { readonly name: string; readonly args: readonly unknown[]; readonly time: number };
  /** What became of it on the replicas: only `applied` commands changed state. */
  readonly outcome: { readonly kind: 'applied' | 'failed' | 'duplicate' };
}

/** What one applied command (or a reloaded snapshot) changed in the environment. */
export interface FlagChange {
  readonly environment: string;
  /** The log index the client is at after the change. */
  readonly index: number;
  /** The command that made it, or 'snapshot' when the client reloaded a snapshot. */
  readonly cause: string;
  /**
   * The flags whose evaluation may have changed, sorted: the flags written,
   * and for a segment write the flags that use the segment.
   */
  readonly flags: readonly string[];
  /** The segments written, sorted. */
  readonly segments: readonly string[];
}

/** The commands of FeatureFlags that write an environment: their first argument names it. */
const WRITES = new Set(['setFlag', 'setEnabled', 'deleteFlag', 'setSegment', 'deleteSegment', 'importFlagd']);

// The copy keeps no history: histories are read from the replicas.
const VIEW_OPTIONS = resolveOptions({ historyPerKey: 0, deletedHistories: 0 });

function emptyEnv(snapshot: EnvironmentSnapshot): EnvState {
  return {
    flags: new Map(snapshot.flags.map((f) => [f.key, f])),
    segments: new Map(snapshot.segments.map((s) => [s.name, s])),
    flagHistory: new Map(),
    segmentHistory: new Map(),
    deleted: new Map(),
  };
}

const sorted = (keys: Iterable<string>): string[] => [...new Set(keys)].sort();

/**
 * A client's copy of one environment (see the module comment).
 * Invariant: evaluator.appliedIndex === appliedIndex, the index of the last
 * command applied (or of the snapshot it was loaded from).
 */
export class EnvironmentView {
  readonly environment: string;
  private readonly store = new FlagStore(VIEW_OPTIONS);
  /** The evaluator of the environment: evaluate() against the copy's state. */
  readonly evaluator: FlagEvaluator;

  /**
   * A copy of the snapshot's environment at its appliedIndex.
   * @throws InvalidDefinitionError when a record does not compile (the snapshot is not the store's)
   */
  constructor(snapshot: EnvironmentSnapshot) {
    this.environment = snapshot.environment;
    this.store.restore({
      envs: new Map([[snapshot.environment, emptyEnv(snapshot)]]),
      lastIndex: snapshot.appliedIndex,
    });
    this.evaluator = this.store.evaluator(snapshot.environment);
  }

  /** The log index of the state held: the last command applied, or the snapshot's. */
  get appliedIndex(): number {
    return this.evaluator.appliedIndex;
  }

  /** @returns flag key's record, or undefined */
  getFlag(key: string): FlagRecord | undefined {
    return this.store.getFlag(this.environment, key) ?? undefined;
  }

  /** @returns every flag held, by key */
  listFlags(): FlagRecord[] {
    return this.store.listFlags(this.environment);
  }

  /** @returns the state held, as the environmentSnapshot query would answer it at appliedIndex */
  snapshot(): EnvironmentSnapshot {
    return this.store.snapshot(this.environment);
  }

  /**
   * Applies one committed command. A command at or before appliedIndex is
   * ignored (already held); a failed or duplicate one, or one for another
   * environment, only moves appliedIndex.
   * @returns what it changed here, or undefined when it changed nothing here
   * @throws ViewOutOfDateError when an applied write of this environment is
   *   refused here, or its handler is unknown: the copy no longer matches the
   *   log (reload a snapshot); the view is unchanged then
   */
  apply(change: CommittedChange): FlagChange | undefined {
    if (change.index <= this.appliedIndex) return undefined;
    const { name, args, time } = change.command;
    const touches =
      change.outcome.kind === 'applied' && args[0] === this.environment && !name.startsWith('$');
    if (!touches) {
      this.moveTo(change.index);
      return undefined;
    }
    if (!WRITES.has(name)) {
      throw new ViewOutOfDateError(change.index, name, 'this SDK does not know the command');
    }
    let touched: { flags: string[]; segments: string[] };
    try {
      touched = this.write(name, args, { index: change.index, time });
    } catch (err) {
      throw new ViewOutOfDateError(
        change.index,
        name,
        `refused here though the replicas applied it: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    this.moveTo(change.index);
    return {
      environment: this.environment,
      index: change.index,
      cause: name,
      flags: sorted(touched.flags),
      segments: sorted(touched.segments),
    };
  }

  /**
   * What differs between this copy and another of the same environment: the
   * flags and segments whose version differs or that only one holds.
   * @returns the change that going from this view to `next` makes
   */
  changeTo(next: EnvironmentView): FlagChange {
    const differ = <T extends { readonly version: number }>(
      a: ReadonlyMap<string, T>,
      b: ReadonlyMap<string, T>,
    ): string[] => sorted([...a.keys(), ...b.keys()].filter((k) => a.get(k)?.version !== b.get(k)?.version));
    const mine = this.state();
    const theirs = next.state();
    const segments = differ(mine.segments, theirs.segments);
    const flags = differ(mine.flags, theirs.flags);
    for (const s of segments) flags.push(...next.store.flagsUsing(this.environment, s));
    return {
      environment: this.environment,
      index: next.appliedIndex,
      cause: 'snapshot',
      flags: sorted(flags),
      segments,
    };
  }

  private state(): EnvState {
    return this.store.state.envs.get(this.environment)!;
  }

  private moveTo(index: number): void {
    this.store.state.lastIndex = index;
    this.evaluator.appliedIndex = index;
  }

  /** Runs the store's write for command name. @returns the flags and segments it touched */
  private write(
    name: string,
    args: readonly unknown[],
    at: WriteAt,
  ): { flags: string[]; segments: string[] } {
    const env = this.environment;
    const s = this.store;
    const key = args[1] as string;
    switch (name) {
      case 'setFlag':
        s.setFlag(env, key, args[2] as FlagDefinition, args[3] as WriteOptions, at);
        return { flags: [key], segments: [] };
      case 'setEnabled':
        s.setEnabled(env, key, args[2] as boolean, args[3] as WriteOptions, at);
        return { flags: [key], segments: [] };
      case 'deleteFlag':
        s.deleteFlag(env, key, args[2] as WriteOptions, at);
        return { flags: [key], segments: [] };
      case 'setSegment':
        s.setSegment(env, key, args[2] as SegmentDefinition, args[3] as WriteOptions, at);
        return { flags: s.flagsUsing(env, key), segments: [key] };
      case 'deleteSegment':
        s.deleteSegment(env, key, args[2] as WriteOptions, at);
        return { flags: [], segments: [key] };
      default: {
        // importFlagd(environment, document, options)
        const r = s.importDefinitions(env, fromFlagd(args[1]), args[2] as ImportOptions, at);
        const segments = [...r.segments.created, ...r.segments.updated, ...r.segments.deleted];
        return {
          flags: [
            ...r.flags.created,
            ...r.flags.updated,
            ...r.flags.deleted,
            ...segments.flatMap((n) => s.flagsUsing(env, n)),
          ],
          segments,
        };
      }
    }
  }
}
