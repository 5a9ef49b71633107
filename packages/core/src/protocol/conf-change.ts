import { DecodeError, LeadershipTransferError, MembershipChangeError, NotLeaderError } from '../errors';
import {
  applyChanges,
  decodeConfigEntry,
  encodeConfigEntry,
  isJoint,
  leaveJoint,
  type Membership,
  type MembershipChange,
} from './membership';
import type { Peer } from './peer';
import { NONE, type Entry, type Proposed } from './types';

/**
 * Proposes a membership change (§6, thesis ch. 4): see RaftProtocol.proposeMembership.
 * @throws NotLeaderError, LeadershipTransferError
 * @throws MembershipChangeError while another change is in progress, or for an invalid change
 */
export function proposeMembership(r: Peer, changes: readonly MembershipChange[]): Proposed {
  if (!r.leader) throw new NotLeaderError(r.id, r.leaderId);
  const { transferee } = r.leader.transfer;
  if (transferee !== NONE) throw new LeadershipTransferError(r.id, transferee);
  if (r.pendingConfIndex > r.log.applied || isJoint(r.membership)) {
    throw new MembershipChangeError('another membership change is still in progress');
  }
  return appendConfig(r, applyChanges(r.membership, changes)); // throws for an invalid change
}

/**
 * A committed config entry takes effect (apply-time semantics, with one
 * change at a time). A leader tracks the new members, leaves joint
 * consensus on its own, and steps down once it is no longer a voter.
 * A malformed or invalid entry changes nothing, on every node alike.
 */
export function applyConfig(r: Peer, e: Entry): void {
  try {
    r.membership = decodeConfigEntry(e.data).membership;
    r.configIndex = e.index;
  } catch (err) {
    if (err instanceof DecodeError) return;
    throw err;
  }
  if (!r.leader) return;
  if (!r.isVoter()) {
    r.becomeFollower(r.term, NONE); // thesis §4.2.2: a removed leader steps down
    return;
  }
  r.leader.syncMembers();
  if (isJoint(r.membership)) appendConfig(r, leaveJoint(r.membership));
  r.leader.maybeCommit();
}

function appendConfig(r: Peer, membership: Membership): Proposed {
  const index = r.log.lastIndex() + 1;
  r.log.append([{ index, term: r.term, type: 'config', data: encodeConfigEntry({ membership }) }]);
  r.pendingConfIndex = index;
  return { firstIndex: index, term: r.term };
}
