import type { Message } from '../protocol/types';

/**
 * Carries Raft messages between the nodes of one group. Delivery is best
 * effort: a message may be lost, delayed, duplicated or reordered, and Raft
 * tolerates all of these. send() never throws for a delivery failure.
 */
export interface Transport {
  /** Sends messages; messages to one peer should be coalesced where possible. */
  send(messages: readonly Message[]): void;
  /** Starts delivering inbound messages addressed to this node to handler. */
  listen(handler: (message: Message) => void): Promise<void>;
  /** Stops receiving and releases resources. */
  close(): Promise<void>;
  /**
   * Optional: the largest entry payload, in bytes, that one message to a
   * peer can carry. RaftNode refuses a proposal whose entry is larger with
   * PayloadTooLargeError (as for NodeConfig.maxCommandBytes), so it never
   * appends an entry this transport could not replicate.
   */
  readonly maxEntryBytes?: number;
}
