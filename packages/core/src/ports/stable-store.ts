import type { HardState } from '../protocol/types';

/**
 * Durable storage for a node's hard state (term, vote, commit).
 * A resolved save() is durable; load() returns the last saved value.
 */
export interface StableStore {
  /** Returns the saved hard state, or undefined for a node that never saved one. */
  load(): Promise<HardState | undefined>;
  save(state: HardState): Promise<void>;
  close(): Promise<void>;
}
