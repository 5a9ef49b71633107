import { carriesLeadership } from './leadership';
import type { Peer } from './peer';
import { NONE, type Message, type VoteRequest } from './types';

// What every role does with votes and with messages of other terms (§5.1, §5.2).

/**
 * A message from a higher term. Returns false when it must be dropped.
 * Votes are ignored while we believe a leader is alive (the check-quorum
 * lease, thesis §4.2.3), so a rejoining node cannot depose a healthy leader.
 * Pre-votes are ignored then even without check-quorum: thesis §9.6 grants
 * a pre-vote only if the voter "has not received heartbeats from a valid
 * leader for at least a baseline election timeout" (otherwise a rejoining
 * node with an up-to-date log passes pre-vote and deposes the leader).
 */
export function maybeAdoptTerm(r: Peer, m: Message): boolean {
  if (m.type === 'vote' || m.type === 'pre-vote') {
    // A transfer's campaign was started by the leader itself: the lease does not protect against it.
    const leaseApplies = (r.config.checkQuorum || m.type === 'pre-vote') && !m.transfer;
    const heardLeader = r.leaderId !== NONE && r.electionElapsed < r.config.electionTicks;
    const inLease = leaseApplies && (heardLeader || r.restartEmbargo > 0);
    if (inLease) return false;
  }
  if (m.type === 'pre-vote') return true; // a pre-vote never changes our term
  if (m.type === 'pre-vote-resp' && !m.reject) return true; // granted for the term we would campaign in
  const leader = carriesLeadership(m) ? m.from : NONE;
  r.becomeFollower(m.term, leader);
  return true;
}

/** A message from an older term. */
export function handleStaleTerm(r: Peer, m: Message): void {
  if ((r.config.checkQuorum || r.config.preVote) && carriesLeadership(m)) {
    // A deposed leader may be cut off from everyone who would tell it; answer so it learns our term.
    r.ack(m.from, 0);
  } else if (m.type === 'pre-vote') {
    r.send({ type: 'pre-vote-resp', from: r.id, to: m.from, term: r.term, reject: true });
  }
}

/** §5.2, §5.4.1: one vote per term, only for a log at least as up to date as ours. */
export function handleVoteRequest(r: Peer, m: VoteRequest): void {
  const canVote =
    r.vote === m.from ||
    (r.vote === NONE && r.leaderId === NONE) ||
    (m.type === 'pre-vote' && m.term > r.term);
  const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
  if (canVote && r.log.isUpToDate(m.lastIndex, m.lastTerm)) {
    r.send({ type: respType, from: r.id, to: m.from, term: m.term, reject: false });
    if (m.type === 'vote') {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    r.send({ type: respType, from: r.id, to: m.from, term: r.term, reject: true });
  }
}
