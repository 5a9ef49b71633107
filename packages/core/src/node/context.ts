import type { Logger } from '../logger';
import type { Clock } from '../ports/clock';
import type { RaftProtocol } from '../protocol/raft';
import type { NodeId } from '../protocol/types';
import type { NodeConfig } from './config';

/**
 * What the parts of a RaftNode (storage.ts, proposals.ts, membership.ts,
 * reads.ts, transfer.ts) share of it: identity, clock, logger and
 * settings, and a live view of its state. The node builds it once.
 */
export interface NodeContext {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly config: NodeConfig;
  /** The protocol, once started (it stays after stop). */
  readonly protocol: () => RaftProtocol | undefined;
  /** The running protocol. @throws NodeStoppedError when the node is not running */
  readonly running: () => RaftProtocol;
  /** Whether the node runs (started, not stopped): retry and wait loops end when it does not. */
  readonly isRunning: () => boolean;
  /** The leader this node last saw in a Ready (NONE: none known). */
  readonly leaderId: () => NodeId;
  /** Waits ms on the node's clock. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Asks the node to run its Ready loop. */
  readonly kick: () => void;
}
