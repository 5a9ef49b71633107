import type { Entry, HardState } from '../protocol/types';
import type { LogStore } from './log-store';
import type { StableStore } from './stable-store';

/**
 * Optional capability of a LogStore (hashicorp/raft style: detected at run
 * time with stepStoreOf): makes one Ready step's entries and hard state
 * durable in ONE atomic write, e.g. one PostgreSQL transaction, so that a
 * step costs one durable commit instead of two.
 *
 * RaftNode uses it for every step that writes entries (carrying along the
 * latest hard state, commit index included, when it changed); steps that
 * change only term or vote go to StableStore.save as before. Stores without
 * it (the in-memory ones, a user's) keep working unchanged: entries go to
 * append() and hard state to save().
 */
export interface StepStore {
  /**
   * Whether `stable` is the StableStore whose hard state persistStep writes
   * (the same database and node): only then does RaftNode use persistStep.
   */
  pairsWith(stable: StableStore): boolean;
  /**
   * Appends entries exactly as LogStore.append would (replacing the stored
   * suffix from entries[0].index when it overlaps) and, when state is given,
   * saves it exactly as the paired StableStore.save would, in one atomic
   * write: after a crash either both are durable or neither is. Resolves
   * once both are durable. entries may be empty (then only state is saved).
   * Throws what LogStore.append and StableStore.save throw (LogGapError,
   * CompactedError, the store's unavailability errors).
   */
  persistStep(entries: readonly Entry[], state: HardState | undefined): Promise<void>;
}

/**
 * Returns the StepStore capability of logStore when it offers one paired
 * with stableStore, or undefined (then entries and hard state are written
 * separately).
 */
export function stepStoreOf(logStore: LogStore, stableStore: StableStore): StepStore | undefined {
  const candidate = logStore as Partial<StepStore>;
  if (typeof candidate.persistStep !== 'function' || typeof candidate.pairsWith !== 'function') {
    return undefined;
  }
  return candidate.pairsWith(stableStore) ? (candidate as StepStore) : undefined;
}
