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
  /** Take a snapshot every N applied entries. Only 0 (never) is supported so far. */
  readonly snapshotEvery?: number;
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
  /** Further RaftNode settings (preVote, checkQuorum, proposalTimeoutMs, …). */
  readonly node?: Partial<NodeConfig>;
  /** Default overall timeout of a client call, in virtual ms. Default 10 000. */
  readonly clientTimeoutMs?: number;
  /** Receives every node's log lines (warnings and errors are also reported as 'node health' violations). */
  readonly logger?: Logger;
}

/** An option asks for something the simulator cannot do yet; the message says which and what to pass instead. */
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
}

const pair = (v: readonly [number, number] | undefined): string => (v ? `[${v.join(', ')}]` : String(v));

/**
 * Validates options and fills in defaults.
 * @throws ConfigError naming every field involved in each problem
 * @throws NotSupportedError for a non-zero snapshotEvery
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
  const snapshotEvery = o.snapshotEvery ?? 0;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 0) {
    problems.push(`snapshotEvery (${snapshotEvery}) must be a non-negative integer`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (snapshotEvery > 0) {
    throw new NotSupportedError(
      `snapshotEvery (${snapshotEvery})`,
      'snapshots and log compaction are not implemented in the simulator yet; omit it or pass 0',
    );
  }
  const { node } = resolveNodeConfig({
    tickMs: 10,
    ...o.node,
    electionTimeoutMs: min,
    heartbeatMs: o.heartbeatMs ?? o.node?.heartbeatMs ?? 50,
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
  });
  return { nodes: o.nodes, seed: o.seed, latencyMs, storageLatencyMs, clientTimeoutMs, node };
}
