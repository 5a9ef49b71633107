import {
  ConfigError,
  RaftlineError,
  resolveNodeConfig,
  type Logger,
  type NodeConfig,
  type ReplicatedStateMachine,
} from '@raftline/core';

/** How a SimCluster is built. Only nodes and seed are required. */
export interface SimClusterOptions {
  /** Number of voting nodes, named n1, n2, … */
  readonly nodes: number;
  /** Seeds every random choice: the same seed gives the same run. */
  readonly seed: number;
  /** Builds a fresh state machine for each node incarnation (default: a KvMachine). */
  readonly stateMachine?: () => ReplicatedStateMachine;
  /**
   * [min, max] election timeout in ms; max must be 2 × min, because RaftNode
   * draws each timeout from [electionTimeoutMs, 2 × electionTimeoutMs) and
   * min becomes its electionTimeoutMs. Default [150, 300].
   */
  readonly electionTimeoutMs?: readonly [number, number];
  /** Leader heartbeat interval in ms. Default 50. */
  readonly heartbeatMs?: number;
  /** The nodes' timer granularity in ms. Default 10. */
  readonly tickMs?: number;
  /**
   * Each node snapshots its state machine every N applied entries and
   * compacts its log behind the snapshot (RaftNode's snapshotEntries).
   * Default 0: never (unless node.snapshotBytes asks for snapshots by size).
   * Snapshots live in a per-node MemorySnapshotStore that survives crashes.
   */
  readonly snapshotEvery?: number;
  /**
   * Entries kept in the log behind a snapshot, so that a slightly lagging
   * follower catches up from the log (RaftNode's snapshotTrailingEntries).
   * Default: half of snapshotEvery.
   */
  readonly snapshotTrailing?: number;
  /** Base one-way latency in ms, drawn per message from [min, max]. Default [1, 5]. */
  readonly latencyMs?: readonly [number, number];
  /**
   * Each durable write (log append, hard-state save) takes a time drawn from
   * [min, max] virtual ms and lands all at once at its end; a node that
   * crashes meanwhile loses it. The log and the hard state are written
   * independently, as by two separate stores. Default [0, 0]: writes
   * complete at once, so a crash never interrupts one.
   */
  readonly storageLatencyMs?: readonly [number, number];
  /**
   * Further RaftNode settings (preVote, checkQuorum, proposalTimeoutMs,
   * leaseReads, …). Set leaseReads: true for runs whose 'lease' reads should
   * really skip the heartbeat round. Defaults the simulator sets differently
   * from RaftNode: snapshotBytes 0 (snapshots by count only),
   * snapshotChunkBytes 1024 (small snapshots still travel in several chunks),
   * snapshotChunkTimeoutMs the minimum election timeout.
   */
  readonly node?: Partial<NodeConfig>;
  /** Default overall timeout of a client call, in virtual ms. Default 10 000. */
  readonly clientTimeoutMs?: number;
  /** Receives every node's log lines (warnings and errors are also reported as 'node health' violations). */
  readonly logger?: Logger;
}

/**
 * An option asks for something the simulator cannot do yet; the message says
 * which and what to pass instead. (No option is refused so far.)
 */
export class NotSupportedError extends RaftlineError {
  constructor(
    readonly option: string,
    detail: string,
  ) {
    super(`${option} is not supported yet: ${detail}`);
  }
}

/** SimClusterOptions with defaults filled in and the node configuration resolved. */
export interface ResolvedSimOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly latencyMs: readonly [number, number];
  readonly storageLatencyMs: readonly [number, number];
  readonly clientTimeoutMs: number;
  readonly node: NodeConfig;
  /** Entries between snapshots (0: never). */
  readonly snapshotEvery: number;
}

const pair = (v: readonly [number, number] | undefined): string => (v ? `[${v.join(', ')}]` : String(v));

/**
 * Validates options and fills in defaults.
 * @throws ConfigError naming every field involved in each problem
 */
export function resolveSimOptions(o: SimClusterOptions): ResolvedSimOptions {
  const problems: string[] = [];
  if (!Number.isSafeInteger(o.nodes) || o.nodes < 1)
    problems.push(`nodes (${o.nodes}) must be a positive integer`);
  if (!Number.isSafeInteger(o.seed)) problems.push(`seed (${o.seed}) must be an integer`);
  const [min, max] = o.electionTimeoutMs ?? [150, 300];
  if (!Array.isArray(o.electionTimeoutMs ?? []) || !(min > 0) || max !== 2 * min) {
    problems.push(
      `electionTimeoutMs (${pair(o.electionTimeoutMs)}) must be [min, 2 × min] with min > 0: ` +
        'each node draws its election timeout from [min, 2 × min)',
    );
  }
  const latencyMs = o.latencyMs ?? [1, 5];
  if (!(
    latencyMs[0] >= 0 &&
    latencyMs[1] >= latencyMs[0] &&
    Number.isInteger(latencyMs[0]) &&
    Number.isInteger(latencyMs[1])
  )) {
    problems.push(`latencyMs (${pair(o.latencyMs)}) must be [min, max] integers with 0 ≤ min ≤ max`);
  }
  const storageLatencyMs = o.storageLatencyMs ?? [0, 0];
  if (!(
    storageLatencyMs[0] >= 0 &&
    storageLatencyMs[1] >= storageLatencyMs[0] &&
    Number.isInteger(storageLatencyMs[0]) &&
    Number.isInteger(storageLatencyMs[1])
  )) {
    problems.push(
      `storageLatencyMs (${pair(o.storageLatencyMs)}) must be [min, max] integers with 0 ≤ min ≤ max`,
    );
  }
  const clientTimeoutMs = o.clientTimeoutMs ?? 10_000;
  if (!(clientTimeoutMs > 0)) problems.push(`clientTimeoutMs (${clientTimeoutMs}) must be positive`);
  const snapshotEvery = o.snapshotEvery ?? o.node?.snapshotEntries ?? 0;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 0) {
    problems.push(`snapshotEvery (${snapshotEvery}) must be a non-negative integer`);
  }
  const snapshotTrailing =
    o.snapshotTrailing ?? o.node?.snapshotTrailingEntries ?? Math.floor(snapshotEvery / 2);
  if (!Number.isSafeInteger(snapshotTrailing) || snapshotTrailing < 0) {
    problems.push(`snapshotTrailing (${snapshotTrailing}) must be a non-negative integer`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const { node } = resolveNodeConfig({
    tickMs: 10,
    snapshotBytes: 0,
    // snapshotEvery means every so many entries, whatever the state's size.
    snapshotLogRatio: 0,
    snapshotChunkBytes: 1024,
    snapshotChunkTimeoutMs: min,
    ...o.node,
    electionTimeoutMs: min,
    heartbeatMs: o.heartbeatMs ?? o.node?.heartbeatMs ?? 50,
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    snapshotEntries: snapshotEvery,
    snapshotTrailingEntries: snapshotTrailing,
  });
  return { nodes: o.nodes, seed: o.seed, latencyMs, storageLatencyMs, clientTimeoutMs, node, snapshotEvery };
}
