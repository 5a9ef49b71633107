import { ConfigError } from '../errors';
import { unknownKeyProblems } from '../known-keys';
import {
  configProblems,
  defaultConfig as defaultProtocolConfig,
  type ProtocolConfig,
} from '../protocol/config';

/** Settings of a RaftNode, in milliseconds; the node converts them to protocol ticks. */
export interface NodeConfig {
  /** Base election timeout: a follower waits a random time in [electionTimeoutMs, 2 × electionTimeoutMs) for a leader. */
  readonly electionTimeoutMs: number;
  /** Leader heartbeat interval. electionTimeoutMs must be at least 3 × heartbeatMs. */
  readonly heartbeatMs: number;
  /** Granularity of the node's timer; both timeouts are rounded to whole ticks. */
  readonly tickMs: number;
  /** Default time a proposal may take before ProposalTimeoutError. */
  readonly proposalTimeoutMs: number;
  /** Pre-vote (thesis §9.6). */
  readonly preVote: boolean;
  /** Check-quorum (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Pipelining window per follower. */
  readonly maxInflightMessages: number;
  /** Most entries in one AppendEntries. */
  readonly maxEntriesPerMessage: number;
  /** Most payload bytes in one AppendEntries; keep below the transport's frame limit. */
  readonly maxBytesPerMessage: number;
  /** Handler results kept for the committed stream (older entries stream with their outcome but without the value). */
  readonly streamResultWindow: number;
  /**
   * Lease reads assume no node's clock runs more than this fraction faster or
   * slower than another's (and no process pauses longer than the margin this
   * leaves): the leader trusts its lease for electionTimeoutMs × (1 − maxClockDrift)
   * minus a tick after a quorum acknowledged it. Default 0.1.
   */
  readonly maxClockDrift: number;
  /**
   * Let 'lease' reads skip the heartbeat round while the leader lease holds.
   * Off by default: a 'lease' read is then served as a linearizable one.
   * On, restarted voters refuse votes for one election timeout.
   */
  readonly leaseReads: boolean;
  /**
   * Followers hear of a commit with the next append or within a tick, not
   * from an append of its own (ProtocolConfig.lazyCommitNotify). Default on:
   * it halves the Raft messages of a lone command; a follower then applies
   * up to tickMs later (its linearizable reads do not wait for that).
   */
  readonly lazyCommitNotify: boolean;
  /** Snapshot after this many applied entries since the last snapshot (0 = never by count). */
  readonly snapshotEntries: number;
  /** Snapshot after this many applied payload bytes since the last snapshot (0 = never by size). */
  readonly snapshotBytes: number;
  /**
   * An automatic snapshot (after snapshotEntries or snapshotBytes) also
   * waits until the payload bytes applied since the last snapshot reach
   * this many times that snapshot's size (0: it does not wait). Taking a
   * snapshot encodes the whole state and holds the node's event loop
   * meanwhile, so without this floor a state of a million keys would be
   * encoded every snapshotEntries entries, and a growing share of the
   * node's time (and its latency tail) would go to snapshots. With ratio r
   * a node encodes at most about 1/r byte of snapshot per byte of log it
   * applies; its log in memory stays within r × the state's size (or the
   * thresholds, when larger). Default 1. Snapshots taken on request
   * (snapshotNow, the admin API) never wait.
   */
  readonly snapshotLogRatio: number;
  /** Entries kept behind a snapshot so slightly lagging followers catch up from the log. */
  readonly snapshotTrailingEntries: number;
  /** Size of one InstallSnapshot chunk; keep well below the transport's frame limit (NATS: 1 MiB). */
  readonly snapshotChunkBytes: number;
  /** A snapshot chunk unacknowledged for this long is resent. */
  readonly snapshotChunkTimeoutMs: number;
  /**
   * Largest command accepted, in bytes of its log entry (name, arguments,
   * session and time, encoded): a larger proposal is refused with
   * PayloadTooLargeError before it enters the log, so no entry is appended
   * that could not be replicated. A transport that declares a smaller limit
   * (Transport.maxEntryBytes) lowers it. Default 1 MiB, NATS's default max_payload.
   */
  readonly maxCommandBytes: number;
  /**
   * Most proposals (commands, ticks, membership changes) that may wait on a
   * node at once to be applied: one more is refused at once with
   * OverloadedError (nothing appended; retry later) instead of queueing
   * without bound. Default 1024: at a few thousand commands a second, a
   * command admitted behind a full queue still applies within a fraction
   * of a second.
   */
  readonly maxPendingProposals: number;
  /**
   * Most bytes of log entries that proposals waiting on a node may hold;
   * past it a proposal is refused with OverloadedError, like
   * maxPendingProposals. At least maxCommandBytes. Default 64 MiB.
   */
  readonly maxPendingBytes: number;
  /**
   * Queueing delay bound: while at least 64 proposals wait on a node and the
   * oldest has waited this long, a new one is refused with OverloadedError,
   * so that under overload the queue holds what the node applies in about
   * this time and an admitted command's latency stays near it rather than
   * near maxPendingProposals' worth. 0 turns it off. Default 500.
   */
  readonly maxPendingDelayMs: number;
  /**
   * Periodic consistency verification (like etcd's corruption check): the
   * leader proposes a verification marker after every this many applied
   * commands (verification entries do not count), and every replica
   * compares its state's digest there with the leader's. 0 (the default)
   * turns it off; RaftNode.verify() still runs one on demand.
   */
  readonly verifyEveryEntries: number;
  /**
   * What a replica does once it finds its state differs from the leader's
   * at a verification marker (it always shows it in status().verification,
   * logs an error and calls onDivergence listeners):
   * - 'stop-applying' (the default): it applies nothing more and refuses
   *   commands and queries with DivergedError, rather than serve state that
   *   differs; it keeps its log and its vote, so the group keeps its quorum.
   *   A restart, or a snapshot installed from the leader, resumes it.
   * - 'continue': it goes on applying and serving.
   */
  readonly divergenceAction: DivergenceAction;
}

/** See NodeConfig.divergenceAction. */
export type DivergenceAction = 'stop-applying' | 'continue';

/** The values DivergenceAction takes, in one place. */
export const DIVERGENCE_ACTIONS: readonly DivergenceAction[] = ['stop-applying', 'continue'];

/** Returns a fresh copy of the defaults: election 1000 ms, heartbeat 100 ms, tick 10 ms, proposals 5 s. */
export function defaultNodeConfig(): NodeConfig {
  const p = defaultProtocolConfig();
  return {
    electionTimeoutMs: 1000,
    heartbeatMs: 100,
    tickMs: 10,
    proposalTimeoutMs: 5000,
    preVote: p.preVote,
    checkQuorum: p.checkQuorum,
    maxInflightMessages: p.maxInflightMessages,
    maxEntriesPerMessage: p.maxEntriesPerMessage,
    maxBytesPerMessage: p.maxBytesPerMessage,
    streamResultWindow: 4096,
    maxClockDrift: 0.1,
    leaseReads: false,
    lazyCommitNotify: true,
    snapshotEntries: 10_000,
    snapshotBytes: 64 * 1024 * 1024,
    snapshotLogRatio: 1,
    snapshotTrailingEntries: 1_000,
    snapshotChunkBytes: 256 * 1024,
    snapshotChunkTimeoutMs: 1_000,
    maxCommandBytes: 1024 * 1024,
    maxPendingProposals: 1024,
    maxPendingBytes: 64 * 1024 * 1024,
    maxPendingDelayMs: 500,
    verifyEveryEntries: 0,
    divergenceAction: 'stop-applying',
  };
}

/**
 * Fills missing fields from defaultNodeConfig() and validates; returns the node
 * configuration and the protocol configuration derived from it.
 * @throws ConfigError naming every field involved in each problem, and every
 *   key of `partial` that is not a NodeConfig field
 */
export function resolveNodeConfig(partial: Partial<NodeConfig> = {}): {
  node: NodeConfig;
  protocol: ProtocolConfig;
} {
  const defaults = defaultNodeConfig();
  const unknown = unknownKeyProblems(partial, defaults, 'NodeConfig');
  if (unknown.length > 0) throw new ConfigError(unknown);
  const node = { ...defaults, ...partial };
  const problems: string[] = [];
  for (const field of [
    'electionTimeoutMs',
    'heartbeatMs',
    'tickMs',
    'proposalTimeoutMs',
    'streamResultWindow',
    'snapshotChunkBytes',
    'snapshotChunkTimeoutMs',
  ] as const) {
    const v = node[field];
    if (!Number.isFinite(v) || v <= 0) problems.push(`${field} (${String(v)}) must be a positive number`);
  }
  for (const field of ['maxCommandBytes', 'maxPendingProposals', 'maxPendingBytes'] as const) {
    const v = node[field];
    if (!Number.isSafeInteger(v) || v < 1)
      problems.push(`${field} (${String(v)}) must be a positive integer`);
  }
  if (problems.length === 0 && node.maxPendingBytes < node.maxCommandBytes) {
    problems.push(
      `maxPendingBytes (${node.maxPendingBytes}) must be at least maxCommandBytes (${node.maxCommandBytes})`,
    );
  }
  if (!DIVERGENCE_ACTIONS.includes(node.divergenceAction)) {
    problems.push(
      `divergenceAction (${String(node.divergenceAction)}) must be one of ${DIVERGENCE_ACTIONS.join(', ')}`,
    );
  }
  for (const field of [
    'snapshotEntries',
    'snapshotBytes',
    'snapshotTrailingEntries',
    'verifyEveryEntries',
    'maxPendingDelayMs',
  ] as const) {
    const v = node[field];
    if (!Number.isSafeInteger(v) || v < 0)
      problems.push(`${field} (${String(v)}) must be a non-negative integer`);
  }
  if (!(Number.isFinite(node.snapshotLogRatio) && node.snapshotLogRatio >= 0)) {
    problems.push(`snapshotLogRatio (${String(node.snapshotLogRatio)}) must be a finite number >= 0`);
  }
  if (!(node.maxClockDrift >= 0 && node.maxClockDrift < 0.5)) {
    problems.push(`maxClockDrift (${String(node.maxClockDrift)}) must be at least 0 and below 0.5`);
  }
  if (problems.length === 0) {
    if (node.electionTimeoutMs < 3 * node.heartbeatMs) {
      problems.push(
        `electionTimeoutMs (${node.electionTimeoutMs}) must be at least 3 × heartbeatMs (${node.heartbeatMs})`,
      );
    }
    if (node.heartbeatMs < node.tickMs) {
      problems.push(`heartbeatMs (${node.heartbeatMs}) must be at least tickMs (${node.tickMs})`);
    }
  }
  const electionTicks = Math.max(1, Math.round(node.electionTimeoutMs / node.tickMs));
  const protocol: ProtocolConfig = {
    ...defaultProtocolConfig(),
    electionTicks,
    leaseDriftTicks: Math.min(electionTicks - 1, Math.ceil(electionTicks * node.maxClockDrift) + 1),
    heartbeatTicks: Math.max(1, Math.round(node.heartbeatMs / node.tickMs)),
    preVote: node.preVote,
    leaseReads: node.leaseReads,
    lazyCommitNotify: node.lazyCommitNotify,
    checkQuorum: node.checkQuorum,
    maxInflightMessages: node.maxInflightMessages,
    maxEntriesPerMessage: node.maxEntriesPerMessage,
    maxBytesPerMessage: node.maxBytesPerMessage,
  };
  if (problems.length === 0) problems.push(...configProblems(protocol));
  if (problems.length > 0) throw new ConfigError(problems);
  return { node, protocol };
}
