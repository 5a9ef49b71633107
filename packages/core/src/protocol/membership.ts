import { pack, unpack } from '../codec';
import { DecodeError, MembershipChangeError } from '../errors';
import { quorumMatch, voteResult } from './progress';
import type { NodeId } from './types';

/**
 * The cluster configuration (§6, thesis ch. 4). Outside a change `outgoing`
 * is empty; during joint consensus it holds C_old while `voters` holds C_new,
 * and every decision needs a majority of both. Learners receive the log and
 * never count toward a quorum.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** One change to the membership. */
export type MembershipChange =
  | { readonly type: 'add-voter'; readonly node: NodeId }
  | { readonly type: 'add-learner'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

/**
 * The payload of a config entry: the whole configuration it puts in force.
 * Absolute, not a delta, so that a node that joined with no configuration of
 * its own reaches the same membership as everyone else.
 */
export interface ConfigEntry {
  readonly membership: Membership;
}

export function membershipOf(voters: readonly NodeId[]): Membership {
  return { voters: [...new Set(voters)], outgoing: [], learners: [] };
}

export function isJoint(m: Membership): boolean {
  return m.outgoing.length > 0;
}

/** Everyone who votes in m (both halves while joint). */
export function allVoters(m: Membership): NodeId[] {
  return [...new Set([...m.voters, ...m.outgoing])];
}

/** Everyone the leader replicates to in m. */
export function allMembers(m: Membership): NodeId[] {
  return [...new Set([...m.voters, ...m.outgoing, ...m.learners])];
}

/** The highest index a quorum holds: both majorities while joint (thesis §4.3). */
export function committedIndex(m: Membership, matchOf: (id: NodeId) => number): number {
  const incoming = quorumMatch(m.voters, matchOf);
  return isJoint(m) ? Math.min(incoming, quorumMatch(m.outgoing, matchOf)) : incoming;
}

/** A vote count: won needs both majorities while joint, lost needs either to have lost. */
export function jointVoteResult(
  m: Membership,
  votes: ReadonlyMap<NodeId, boolean>,
): 'won' | 'lost' | 'pending' {
  const a = voteResult(m.voters, votes);
  if (!isJoint(m)) return a;
  const b = voteResult(m.outgoing, votes);
  if (a === 'lost' || b === 'lost') return 'lost';
  return a === 'won' && b === 'won' ? 'won' : 'pending';
}

/**
 * The configuration that `changes` lead to from `m`. A change of at most one
 * voter applies directly (the single-server case, thesis §4.1); anything
 * larger enters joint consensus (C_old,new), left later with leaveJoint().
 * @throws MembershipChangeError for a change that would leave no voter, or any change while joint
 */
export function applyChanges(m: Membership, changes: readonly MembershipChange[]): Membership {
  if (isJoint(m)) throw new MembershipChangeError('a membership change is already in joint consensus');
  const voters = new Set(m.voters);
  const learners = new Set(m.learners);
  for (const c of changes) {
    voters.delete(c.node);
    learners.delete(c.node);
    if (c.type === 'add-voter') voters.add(c.node);
    else if (c.type === 'add-learner') learners.add(c.node);
  }
  if (voters.size === 0) throw new MembershipChangeError('a membership change must leave at least one voter');
  const next = { voters: [...voters], learners: [...learners] };
  const changedVoters = symmetricDifference(m.voters, next.voters);
  return { ...next, outgoing: changedVoters <= 1 ? [] : [...m.voters] };
}

/** C_new alone, after joint consensus (thesis §4.3). */
export function leaveJoint(m: Membership): Membership {
  return { voters: m.voters, outgoing: [], learners: m.learners };
}

function symmetricDifference(a: readonly NodeId[], b: readonly NodeId[]): number {
  return a.filter((x) => !b.includes(x)).length + b.filter((x) => !a.includes(x)).length;
}

/** Encodes a config entry's payload. */
export function encodeConfigEntry(entry: ConfigEntry): Uint8Array {
  const { voters, outgoing, learners } = entry.membership;
  return pack({ voters, outgoing, learners });
}

/**
 * Decodes a config entry's payload.
 * @throws DecodeError when data is not a config entry
 */
export function decodeConfigEntry(data: Uint8Array): ConfigEntry {
  const v = unpack(data) as { voters?: unknown; outgoing?: unknown; learners?: unknown } | null;
  const ids = (x: unknown): NodeId[] => {
    if (!Array.isArray(x) || !x.every((id) => typeof id === 'string' && id !== '')) {
      throw new DecodeError('config entry holds a malformed membership');
    }
    return x as NodeId[];
  };
  const membership = { voters: ids(v?.voters), outgoing: ids(v?.outgoing), learners: ids(v?.learners) };
  if (membership.voters.length === 0) throw new DecodeError('config entry has no voters');
  return { membership };
}
