import type { ProtocolConfig } from './config';
import type { RaftLog } from './log';
import type { Membership } from './membership';
import type { Message, NodeId, ReadState, SnapshotInfo } from './types';

/**
 * What the leader's parts (Leader, its reads and its transfer) need from the
 * peer that owns them: its identity, log and live term and membership, and
 * the two outputs of a leader, messages and read states.
 */
export interface LeaderHost {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  readonly term: number;
  readonly membership: Membership;
  /** The index of the newest configuration entry this leader appended (0: none). */
  readonly pendingConfIndex: number;
  send(m: Message): void;
  readState(rs: ReadState): void;
  /** The newest durable snapshot, to send to followers that need compacted entries. */
  readonly snapshot: SnapshotInfo | undefined;
}
