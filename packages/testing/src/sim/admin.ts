/**
 * The operator's path for membership changes and leadership transfers in a
 * SimCluster: find the leader, run the RaftNode call there, and retry
 * through leader changes, crashes and concurrent changes until the
 * configuration is as asked or the time is up.
 */
import {
  LeadershipLostError,
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
  ProposalTimeoutError,
  type Membership,
  type NodeId,
  type RaftNode,
} from '@raftline/core';

/** Options of the SimCluster membership operations. */
export interface MembershipOptions {
  /** Give up after this much virtual time (default: the cluster's clientTimeoutMs). */
  readonly timeoutMs?: number;
  /** addNode: promote the learner once its log is within this many entries of the leader's (default 16; RaftNode.addVoter's maxLag). */
  readonly maxLag?: number;
}

/** What the operations need from the cluster (implemented by SimCluster). */
export interface AdminHost {
  now(): number;
  /** Waits ms of virtual time without driving the clock; resolves early when the cluster stops. */
  wait(ms: number): Promise<void>;
  readonly stopped: boolean;
  /** The running node leading the highest term, if any. */
  leader(): NodeId | undefined;
  /** @returns id's status @throws NodeStoppedError while id is down */
  status(id: NodeId): { readonly members: Membership };
  /**
   * Runs work on node id's running incarnation, at most timeoutMs.
   * @throws NodeStoppedError when it is down or dies meanwhile; ProposalTimeoutError after timeoutMs
   */
  onNode<T>(id: NodeId, work: (node: RaftNode) => Promise<T>, timeoutMs: number): Promise<T>;
  readonly attemptTimeoutMs: number;
  readonly retryDelayMs: number;
}

/** Errors after which a membership change may simply be tried again (at the leader of the moment). */
function retryable(err: unknown): boolean {
  return (
    err instanceof NotLeaderError ||
    err instanceof LeadershipLostError ||
    err instanceof LeadershipTransferError ||
    err instanceof ProposalTimeoutError ||
    err instanceof NodeStoppedError ||
    err instanceof MembershipChangeError // another change still runs; an invalid one is refused up front
  );
}

/**
 * Runs `change` at the leader until `done` holds for the leader's applied
 * configuration, retrying after each retryable failure. `change` must be
 * safe to repeat (it is re-run only while `done` does not hold).
 * @returns the leader's configuration once done
 * @throws ProposalTimeoutError when timeoutMs pass first (the change may still take effect later)
 * @throws NodeStoppedError when the cluster stops meanwhile
 */
export async function changeMembers(
  host: AdminHost,
  done: (m: Membership) => boolean,
  change: (node: RaftNode, timeoutMs: number) => Promise<Membership>,
  timeoutMs: number,
): Promise<Membership> {
  const deadline = host.now() + timeoutMs;
  for (;;) {
    if (host.stopped) throw new NodeStoppedError('sim cluster');
    const leader = host.leader();
    if (leader !== undefined && done(host.status(leader).members)) return host.status(leader).members;
    const remaining = deadline - host.now();
    if (remaining <= 0) throw new ProposalTimeoutError(timeoutMs);
    if (leader !== undefined) {
      const budget = Math.min(host.attemptTimeoutMs, remaining);
      try {
        const members = await host.onNode(leader, (node) => change(node, budget), budget);
        if (done(members)) return members;
      } catch (err) {
        if (!retryable(err)) throw err;
      }
    }
    await host.wait(Math.min(host.retryDelayMs, Math.max(1, deadline - host.now())));
  }
}

/**
 * Moves leadership to `to` (or to the most up-to-date other voter) through
 * RaftNode.transferLeadership on the leader of the moment.
 * @returns the new leader, once one is known
 * @throws LeadershipTransferError when the transfer did not finish (the old leader keeps leading)
 * @throws ProposalTimeoutError when no leader was found or none emerged within timeoutMs
 * @throws RaftlineError when `to` is not another voter
 */
export async function transferLeadership(
  host: AdminHost,
  to: NodeId | undefined,
  timeoutMs: number,
): Promise<NodeId> {
  const deadline = host.now() + timeoutMs;
  let transferred = false;
  for (;;) {
    if (host.stopped) throw new NodeStoppedError('sim cluster');
    const leader = host.leader();
    if (leader !== undefined && (transferred || leader === to)) return leader;
    if (host.now() >= deadline) throw new ProposalTimeoutError(timeoutMs);
    if (leader !== undefined) {
      try {
        const budget = Math.min(host.attemptTimeoutMs, deadline - host.now());
        const next = await host.onNode(leader, (node) => node.transferLeadership(to), budget);
        if (next !== '' && host.leader() === next) return next;
        transferred = true;
      } catch (err) {
        if (!(err instanceof NotLeaderError || err instanceof NodeStoppedError)) throw err;
      }
    }
    await host.wait(Math.min(host.retryDelayMs, Math.max(1, deadline - host.now())));
  }
}
