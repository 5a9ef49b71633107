import type { KnownKeys } from '../known-keys';
import type { Logger } from '../logger';
import type { Clock } from '../ports/clock';
import type { LogStore } from '../ports/log-store';
import type { SnapshotStore } from '../ports/snapshot-store';
import type { StableStore } from '../ports/stable-store';
import type { Transport } from '../ports/transport';
import type { RandomSource } from '../protocol/random';
import type { NodeId } from '../protocol/types';
import type { Applier } from './applier';
import type { NodeConfig } from './config';

/** Everything a RaftNode is assembled from. */
export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Every voting member of the group, this node included. */
  readonly voters: readonly NodeId[];
  readonly logStore: LogStore;
  readonly stableStore: StableStore;
  /**
   * Where snapshots live (§7). Without one the node never snapshots or
   * compacts its log, and cannot accept a snapshot from a leader.
   */
  readonly snapshotStore?: SnapshotStore;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Spreads election timeouts; seed it for reproducible runs. */
  readonly random: RandomSource;
  /** The state machine behind the framework's bookkeeping. */
  readonly applier: Applier;
  readonly config?: Partial<NodeConfig>;
  readonly logger?: Logger;
}

/** The keys RaftNodeOptions may hold; the compiler keeps this list equal to the interface. */
export const RAFT_NODE_OPTION_KEYS: KnownKeys<RaftNodeOptions> = {
  id: true,
  voters: true,
  logStore: true,
  stableStore: true,
  snapshotStore: true,
  transport: true,
  clock: true,
  random: true,
  applier: true,
  config: true,
  logger: true,
};
