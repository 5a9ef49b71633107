import { stepFollower } from './follower';
import { allVoters, jointVoteResult } from './membership';
import type { Peer } from './peer';
import { NONE, type Message, type VoteResponse } from './types';

/**
 * Starts an election now (pre-vote first when enabled, thesis §9.6).
 * Does nothing on a leader or a non-voter.
 */
export function campaign(r: Peer): void {
  if (r.role === 'leader' || !r.isVoter()) return;
  if (r.config.preVote) r.becomePreCandidate();
  else r.becomeCandidate();
}

/** The tick handler of followers and (pre-)candidates: §5.2, campaign once the randomized timeout passes. */
export function tickElection(r: Peer): void {
  r.electionElapsed++;
  if (r.isVoter() && r.electionElapsed >= r.randomizedElectionTimeout) {
    r.electionElapsed = 0;
    campaign(r);
  }
}

/**
 * Votes for ourselves and asks every other voter for `term`; a node that
 * is a quorum alone wins at once. `transfer`: the campaign was started by
 * TimeoutNow, so voters skip the lease check.
 */
export function bcastVote(r: Peer, type: 'vote' | 'pre-vote', term: number, transfer = false): void {
  r.votes.set(r.id, true);
  if (jointVoteResult(r.membership, r.votes) === 'won') {
    winVote(r, type);
    return;
  }
  for (const to of allVoters(r.membership)) {
    if (to === r.id) continue;
    r.send({
      type,
      from: r.id,
      to,
      term,
      lastIndex: r.log.lastIndex(),
      lastTerm: r.log.lastTerm(),
      transfer,
    });
  }
}

/** The step handler of candidates and pre-candidates: messages of their own term. */
export function stepCandidate(r: Peer, m: Message): void {
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      return;
    case 'vote-resp':
    case 'pre-vote-resp':
      handleVoteResponse(r, m);
      return;
    default:
      return;
  }
}

/** Counts a vote of the round we run (joint consensus: a quorum of each configuration). */
function handleVoteResponse(r: Peer, m: VoteResponse): void {
  const expected = r.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
  if (m.type !== expected || !allVoters(r.membership).includes(m.from)) return;
  r.votes.set(m.from, !m.reject);
  const result = jointVoteResult(r.membership, r.votes);
  if (result === 'won') winVote(r, m.type === 'pre-vote-resp' ? 'pre-vote' : 'vote');
  else if (result === 'lost') r.becomeFollower(r.term, NONE);
}

function winVote(r: Peer, type: 'vote' | 'pre-vote'): void {
  if (type === 'pre-vote') r.becomeCandidate();
  else r.becomeLeader();
}
