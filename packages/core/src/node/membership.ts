import { NotLeaderError, ProposalTimeoutError } from '../errors';
import type { Membership, MembershipChange } from '../protocol/membership';
import type { NodeId } from '../protocol/types';
import type { NodeContext } from './context';
import type { ProposeOptions, Proposals } from './proposals';

/**
 * The node's membership operations (§6, thesis ch. 4): one change at a
 * time through the leader, each resolving once applied here; a voter added
 * without stalling commits joins as a learner first.
 */
export class MembershipOps {
  constructor(
    private readonly ctx: NodeContext,
    private readonly proposals: Pick<Proposals, 'appendAndWait'>,
  ) {}

  /**
   * Proposes `changes` and resolves once applied here, after joint
   * consensus has been left when one was needed (see RaftNode.changeMembership).
   */
  async change(changes: readonly MembershipChange[], options: ProposeOptions = {}): Promise<Membership> {
    const { tickMs, proposalTimeoutMs } = this.ctx.config;
    await this.proposals.appendAndWait(options, (protocol) => protocol.proposeMembership(changes));
    const protocol = this.ctx.protocol()!;
    for (let waited = 0; protocol.members().outgoing.length > 0; waited += tickMs) {
      if (waited > (options.timeoutMs ?? proposalTimeoutMs) || !this.ctx.isRunning()) break;
      await this.ctx.sleep(tickMs);
    }
    return protocol.members();
  }

  /**
   * Adds `id` as a learner (unless it is one), waits until its log is within
   * maxLag entries of the leader's, then promotes it (see RaftNode.addVoter).
   * @throws NotLeaderError when this node stops leading meanwhile
   * @throws ProposalTimeoutError when it does not catch up within timeoutMs (it stays a learner)
   */
  async addVoter(id: NodeId, options: ProposeOptions & { maxLag?: number } = {}): Promise<Membership> {
    const { tickMs, proposalTimeoutMs, maxEntriesPerMessage } = this.ctx.config;
    const timeoutMs = options.timeoutMs ?? proposalTimeoutMs;
    const maxLag = options.maxLag ?? maxEntriesPerMessage;
    if (!this.ctx.protocol()?.members().learners.includes(id)) {
      await this.change([{ type: 'add-learner', node: id }], options);
    }
    for (let waited = 0; ; waited += tickMs) {
      const s = this.ctx.protocol()!.status();
      const match = s.progress?.[id]?.match ?? 0;
      if (s.role === 'leader' && match + maxLag >= s.lastIndex) break;
      if (s.role !== 'leader') throw new NotLeaderError(this.ctx.id, s.leaderId);
      if (waited > timeoutMs) throw new ProposalTimeoutError(timeoutMs);
      await this.ctx.sleep(tickMs);
    }
    return this.change([{ type: 'add-voter', node: id }], options);
  }
}
