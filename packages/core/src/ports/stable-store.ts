import type { HardState } from '../protocol/types';

/**
 * Durable storage for a node's hard state (term, vote, commit).
 * A resolved save() is durable; load() returns the last saved value.
 *
 * What RaftNode makes durable when:
 * - term and vote: a save() that changes either resolves before the node
 *   sends any message that depends on it (a vote, §5.2; an acknowledgement
 *   in the new term), and before the Ready's entries are acknowledged.
 * - commit: a hint, written lazily. A Ready that changes only the commit
 *   index is applied without waiting for any write; the new commit index is
 *   saved along with the next write that happens anyway (a term or vote
 *   change, or a StepStore's step write), or in the background about two
 *   ticks later, and when the node stops. So after a crash load() may return
 *   a commit index lower than the node had reached: a restarted node then
 *   applies up to it at once and relearns the rest from the leader (a
 *   single-node group, by committing its election no-op). The saved commit
 *   never exceeds the node's durable log.
 * - The node never has two save() calls in flight at once.
 */
export interface StableStore {
  /** Returns the saved hard state, or undefined for a node that never saved one. */
  load(): Promise<HardState | undefined>;
  /** Makes state the saved hard state; resolves once it is durable. */
  save(state: HardState): Promise<void>;
  close(): Promise<void>;
}
