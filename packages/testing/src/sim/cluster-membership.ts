import { MembershipChangeError, type Membership, type NodeId, type RaftNode } from '@raftline/core';
import { changeMembers, transferLeadership, type AdminHost, type MembershipOptions } from './admin';
import { FaultyCluster } from './cluster-faults';
import { verifyCluster, type ClusterVerification, type VerifyHost } from './verify';

/** addNode promotes a learner once its log is within this many entries of the leader's. */
const DEFAULT_MAX_LAG = 16;

/**
 * SimCluster's administration: membership changes, leadership transfer and
 * consistency verification, each run through the leader as an operator
 * would (admin.ts, verify.ts). A layer of SimCluster (see ClusterCore).
 */
export abstract class ManagedCluster extends FaultyCluster implements AdminHost, VerifyHost {
  /**
   * Starts a fresh node `id` (empty log, no configuration of its own) and
   * makes it a voter through the leader's addVoter: it joins as a learner,
   * catches up (from the log, or by snapshot when the log is compacted) and
   * is promoted once within maxLag entries (default 16). Retries through leader changes;
   * advances virtual time while waiting.
   * @returns the configuration with id as a voter
   * @throws RangeError when a node named id was ever started
   * @throws ProposalTimeoutError when it is not a voter within timeoutMs (it may become one later)
   */
  async addNode(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    await this.startFresh(id);
    const maxLag = options.maxLag ?? DEFAULT_MAX_LAG;
    return this.changeMembers(
      (m) => m.voters.includes(id) && m.outgoing.length === 0,
      (node, timeoutMs) => node.addVoter(id, { timeoutMs, maxLag }),
      options,
    );
  }

  /**
   * Adds id as a learner (starting a fresh node first if none named id was
   * ever started): it receives the log but never votes.
   * @returns the configuration with id as a learner
   * @throws ProposalTimeoutError when it is not a learner within timeoutMs
   */
  async addLearner(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    if (!this.nodes.allIds().includes(id)) await this.startFresh(id);
    return this.changeMembers(
      (m) => m.learners.includes(id),
      (node, timeoutMs) => node.addLearner(id, { timeoutMs }),
      options,
    );
  }

  /**
   * Makes member id a voter at once, caught up or not (RaftNode.promote;
   * addNode waits for it to catch up first).
   * @returns the configuration with id as a voter
   * @throws RangeError for a node never started; ProposalTimeoutError when not done within timeoutMs
   */
  async promote(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    this.slot(id);
    return this.changeMembers(
      (m) => m.voters.includes(id) && m.outgoing.length === 0,
      (node, timeoutMs) => node.promote(id, { timeoutMs }),
      options,
    );
  }

  /**
   * Removes id (voter or learner) from the configuration through the
   * leader; removing the leader makes it step down once the change commits.
   * The removed node keeps running: crash() it to retire it.
   * @returns the configuration without id
   * @throws RangeError for a node never started
   * @throws MembershipChangeError when id is the last voter
   * @throws ProposalTimeoutError when not done within timeoutMs (it may still happen later)
   */
  async removeNode(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    this.slot(id);
    const m = this.members();
    if (m.voters.length === 1 && m.voters[0] === id && m.outgoing.length === 0)
      throw new MembershipChangeError(`cannot remove ${id}: it is the last voter`);
    const gone = (c: Membership): boolean =>
      !c.voters.includes(id) && !c.outgoing.includes(id) && !c.learners.includes(id);
    return this.changeMembers(gone, (node, timeoutMs) => node.removeNode(id, { timeoutMs }), options);
  }

  /**
   * Moves leadership to `to`, or to the most up-to-date other voter (thesis
   * §3.10), through the leader's transferLeadership; advances virtual time.
   * Proposals made meanwhile wait and then go to the new leader.
   * @returns the new leader
   * @throws LeadershipTransferError when the transfer did not finish in time (the old leader stays)
   * @throws ProposalTimeoutError when no leader was known within timeoutMs
   * @throws RaftlineError when `to` is not another voter
   */
  async transferLeadership(to?: NodeId, options: { readonly timeoutMs?: number } = {}): Promise<NodeId> {
    if (to !== undefined) this.slot(to);
    return this.drive(transferLeadership(this, to, options.timeoutMs ?? this.clientTimeoutMs));
  }

  /**
   * Checks that the running members hold the same state: RaftNode.verify()
   * at the leader (retried through leader changes), then each running
   * member's digest at the marker once it applied the report. Enable
   * periodic checks with `node: { verifyEveryEntries: N }`.
   * @returns the marker, the leader's digest, every member's, and who diverged or stayed behind
   * @throws ProposalTimeoutError when no verification succeeded within timeoutMs (default clientTimeoutMs)
   * @throws DivergedError when the leader itself stopped applying
   */
  verify(options: { readonly timeoutMs?: number } = {}): Promise<ClusterVerification> {
    return this.drive(verifyCluster(this, options.timeoutMs ?? this.clientTimeoutMs));
  }

  private changeMembers(
    done: (m: Membership) => boolean,
    change: (node: RaftNode, timeoutMs: number) => Promise<Membership>,
    options: MembershipOptions,
  ): Promise<Membership> {
    return this.drive(changeMembers(this, done, change, options.timeoutMs ?? this.clientTimeoutMs));
  }

  /** Creates and starts node id with empty stores and no configuration. @throws RangeError when id exists */
  private async startFresh(id: NodeId): Promise<void> {
    await this.drive(this.nodes.createJoiner(id).start());
  }
}
