/**
 * Consistency verification of a whole SimCluster: RaftNode.verify() on the
 * leader of the moment (retried through leader changes), then each running
 * member's own digest at the marker, once it has applied the report (and so
 * compared with the leader's itself).
 */
import {
  ApplyTimeoutError,
  DivergedError,
  LeadershipLostError,
  LeadershipTransferError,
  NodeStoppedError,
  NotLeaderError,
  ProposalTimeoutError,
  type NodeId,
  type RaftNode,
  type VerificationStatus,
  type VerifyResult,
} from '@raftline/core';

/** What verifyCluster needs from the cluster (implemented by SimCluster). */
export interface VerifyHost {
  now(): number;
  /** Waits ms of virtual time without driving the clock; resolves early when the cluster stops. */
  wait(ms: number): Promise<void>;
  readonly stopped: boolean;
  leader(): NodeId | undefined;
  /** The running members, in id order. */
  runningIds(): NodeId[];
  status(id: NodeId): { readonly verification: VerificationStatus };
  onNode<T>(id: NodeId, work: (node: RaftNode) => Promise<T>, timeoutMs: number): Promise<T>;
  readonly attemptTimeoutMs: number;
  readonly retryDelayMs: number;
}

/** What SimCluster.verify() finds. */
export interface ClusterVerification extends VerifyResult {
  /** The leader whose marker and digest these are. */
  readonly leader: NodeId;
  /**
   * Each member's digest at the marker, for the members running when the
   * marker was applied; undefined for one that did not apply the marker
   * itself (it installed a snapshot past it), stopped applying before it,
   * or stayed behind.
   */
  readonly digests: Readonly<Record<NodeId, string | undefined>>;
  /**
   * Members whose digest differs from the leader's, or that found
   * themselves diverged at any marker (status().verification.diverged), in id order.
   */
  readonly diverged: readonly NodeId[];
  /** Members that had not applied the report within the time given (their digest is unknown). */
  readonly behind: readonly NodeId[];
}

/** Failures after which verify() may be tried again at the leader of the moment. */
function retryable(err: unknown): boolean {
  return (
    err instanceof NotLeaderError ||
    err instanceof LeadershipLostError ||
    err instanceof LeadershipTransferError ||
    err instanceof ProposalTimeoutError ||
    err instanceof NodeStoppedError
  );
}

/** Runs verify() at the leader of the moment until it succeeds. @throws ProposalTimeoutError at the deadline */
async function verifyAtLeader(
  host: VerifyHost,
  deadline: number,
  timeoutMs: number,
): Promise<{ leader: NodeId; result: VerifyResult }> {
  for (;;) {
    if (host.stopped) throw new NodeStoppedError('sim cluster');
    const remaining = deadline - host.now();
    if (remaining <= 0) throw new ProposalTimeoutError(timeoutMs);
    const leader = host.leader();
    if (leader !== undefined) {
      const budget = Math.min(host.attemptTimeoutMs, remaining);
      try {
        return { leader, result: await host.onNode(leader, (n) => n.verify({ timeoutMs: budget }), budget) };
      } catch (err) {
        if (!retryable(err)) throw err;
      }
    }
    await host.wait(Math.min(host.retryDelayMs, Math.max(1, deadline - host.now())));
  }
}

/**
 * Verifies that the running members hold the same state (see ClusterVerification).
 * @throws ProposalTimeoutError when no verify() succeeded within timeoutMs
 * @throws DivergedError when the leader itself stopped applying; NodeStoppedError when the cluster stops
 */
export async function verifyCluster(host: VerifyHost, timeoutMs: number): Promise<ClusterVerification> {
  const deadline = host.now() + timeoutMs;
  const { leader, result } = await verifyAtLeader(host, deadline, timeoutMs);
  const digests: Record<NodeId, string | undefined> = {};
  const diverged: NodeId[] = [];
  const behind: NodeId[] = [];
  for (const id of host.runningIds()) {
    const budget = Math.max(1, deadline - host.now());
    let digest: string | undefined;
    try {
      // Resolves once id applied the report: it has compared by then.
      await host.onNode(id, (n) => n.digestAt(result.reportIndex, { timeoutMs: budget }), budget);
      digest = await host.onNode(id, (n) => n.digestAt(result.index), budget);
    } catch (err) {
      if (err instanceof ApplyTimeoutError || err instanceof ProposalTimeoutError) behind.push(id);
      else if (err instanceof DivergedError) diverged.push(id);
      else if (!(err instanceof NodeStoppedError)) throw err; // crashed meanwhile: nothing to ask
      digests[id] = undefined;
      continue;
    }
    digests[id] = digest;
    const found = host.status(id).verification.diverged;
    if ((digest !== undefined && digest !== result.digest) || found) diverged.push(id);
  }
  return { ...result, leader, digests, diverged, behind };
}
