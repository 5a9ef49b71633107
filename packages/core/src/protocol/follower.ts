import { StateLostError } from '../errors';
import type { Peer } from './peer';
import type { AppendRequest, Heartbeat, Message, SnapshotRequest } from './types';

/** The follower's step handler: messages of its own term. */
export function stepFollower(r: Peer, m: Message): void {
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      r.electionElapsed = 0;
      r.leaderId = m.from;
      if (m.type === 'append') handleAppend(r, m);
      else if (m.type === 'heartbeat') handleHeartbeat(r, m);
      else handleSnapshot(r, m);
      return;
    case 'timeout-now':
      // Thesis §3.10: campaign at once, skipping pre-vote; our log is as up to date as the leader's.
      // Only the leader we follow may say so: the transfer caught us up, so we know it by now.
      if (r.isVoter() && m.from === r.leaderId) r.becomeCandidate(true);
      return;
    case 'read-index-resp':
      if (!m.reject) r.readState({ index: m.index, context: m.context });
      return;
    default:
      return; // responses to a role we no longer hold
  }
}

/** §5.3: accept entries that follow a matching (prevIndex, prevTerm); otherwise reject with a hint. */
function handleAppend(r: Peer, m: AppendRequest): void {
  const { log } = r;
  if (m.prevIndex < log.committed) {
    r.ack(m.from, log.committed);
    return;
  }
  if (log.matchTerm(m.prevIndex, m.prevTerm)) {
    const lastNew = log.appendAfter(m.prevIndex, m.entries);
    // Commit never beyond what we know matches the leader.
    log.commitTo(Math.min(m.commit, lastNew));
    r.ack(m.from, lastNew);
    return;
  }
  const hintIndex = log.findConflictByTerm(Math.min(m.prevIndex, log.lastIndex()), m.prevTerm);
  r.ack(m.from, m.prevIndex, { hintIndex, hintTerm: log.term(hintIndex) ?? 0 });
}

/**
 * The leader sends min(match, commit): never more than this replica
 * acknowledged in the leader's term, which is durable here by the
 * persistence contract. More than our last index means we lost it.
 * @throws StateLostError then (the node halts; see RaftNode.onHalt)
 */
function handleHeartbeat(r: Peer, m: Heartbeat): void {
  if (m.commit > r.log.lastIndex()) throw new StateLostError(r.id, r.log.lastIndex(), m.from, m.commit);
  r.log.commitTo(m.commit);
  r.send({
    type: 'heartbeat-resp',
    from: r.id,
    to: m.from,
    term: r.term,
    context: m.context,
    sentAt: m.sentAt,
  });
}

/**
 * §7 InstallSnapshot: a snapshot we already hold (by index and term)
 * only moves commit forward; otherwise it replaces the whole log and is
 * handed out for installing. Either way the ack names the index we now hold.
 */
function handleSnapshot(r: Peer, m: SnapshotRequest): void {
  const s = m.snapshot;
  if (s.index > r.log.committed) {
    if (r.log.matchTerm(s.index, s.term)) {
      r.log.commitTo(s.index);
    } else {
      r.log.restore(s.index, s.term);
      r.membership = s.membership; // the configuration as of the snapshot replaces ours
      r.configIndex = s.index;
      r.snapshotCreated(s);
      r.pendingInstall = s;
    }
  }
  r.ack(m.from, r.log.committed);
}
