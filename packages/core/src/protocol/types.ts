/**
 * Values the pure Raft protocol consumes and produces. Nothing here does I/O;
 * every field is plain data so that it can be encoded with msgpackr as is.
 */

/** A node's identity, unique within one Raft group. */
export type NodeId = string;

/** No node: used for "no vote cast" and "no known leader". */
export const NONE: NodeId = '';

/**
 * What an entry carries. `noop` is the empty entry a new leader appends in
 * its term (§5.4.2, §8); `normal` carries an application command.
 */
export type EntryType = 'normal' | 'noop' | 'config';

/** Every entry type, for validating decoded entries. */
export const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];

/** One log entry. Invariant: index ≥ 1, term ≥ 1, and (index, term) identifies the entry (§5.3 Log Matching). */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be durable (Figure 2 "persistent state", plus the commit index as a hint). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  /** Not needed for safety (it can be relearned), kept so a restart can apply at once. */
  readonly commit: number;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the application may want to observe; never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; for a pre-vote request, the term it would campaign in. */
  readonly term: number;
}

/** RequestVote (§5.2) and its pre-vote twin (thesis §9.6), which changes no term. */
export interface VoteRequest extends MessageBase {
  readonly type: 'vote' | 'pre-vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Sent by a node told to campaign by TimeoutNow (thesis §3.10): voters skip the leader-lease check. */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'vote-resp' | 'pre-vote-resp';
  readonly reject: boolean;
}

/** AppendEntries (§5.3). */
export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * AppendEntries reply. On success `index` is the follower's last index known to
 * match the leader. On rejection `index` is the rejected prevIndex and
 * (`hintIndex`, `hintTerm`) point at the follower's last entry that might match,
 * so the leader can skip a whole term per round trip (§5.3, "fast backtracking").
 */
export interface AppendResponse extends MessageBase {
  readonly type: 'append-resp';
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader liveness ping; carries a commit index the follower is known to hold. */
export interface Heartbeat extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** The newest ReadIndex request this round confirms ('' for none), thesis §6.4. */
  readonly context: string;
  /** The leader's tick count when it sent this; echoed back to time the leader lease. */
  readonly sentAt: number;
}

/** Echoes the heartbeat's context and sentAt. */
export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeat-resp';
  readonly context: string;
  readonly sentAt: number;
}

/** Leadership transfer (thesis §3.10): the leader tells an up-to-date follower to campaign at once. */
export interface TimeoutNow extends MessageBase {
  readonly type: 'timeout-now';
}

/** A follower asks the leader for a read index on behalf of its client (thesis §6.4). */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'read-index';
  readonly context: string;
  /** Serve from the leader lease when it is valid instead of a heartbeat round. */
  readonly lease: boolean;
}

/** The leader's answer: reads at `index` are linearizable once applied; reject = the leader could not serve it. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: 'read-index-resp';
  readonly context: string;
  readonly index: number;
  readonly reject: boolean;
}

/** What identifies a snapshot inside the protocol: the last entry it covers and the voters then. */
export interface SnapshotInfo {
  readonly index: number;
  readonly term: number;
  /** The configuration as of index (voters, joint outgoing voters, learners). */
  readonly membership: {
    readonly voters: readonly NodeId[];
    readonly outgoing: readonly NodeId[];
    readonly learners: readonly NodeId[];
  };
}

/**
 * InstallSnapshot (§7), as the protocol sees it: "install the snapshot
 * `snapshot`". Its bytes travel separately as snapshot-chunk messages between
 * the two nodes' runtimes; the receiving runtime steps this message into the
 * protocol once the whole snapshot is durable in its SnapshotStore.
 */
export interface SnapshotRequest extends MessageBase {
  readonly type: 'snapshot';
  readonly snapshot: SnapshotInfo;
}

/**
 * One chunk of a snapshot's bytes, from the leader's runtime to a follower's.
 * The last chunk carries a CRC-32 of the whole snapshot; a lost chunk is
 * resent from the offset the follower reports.
 */
export interface SnapshotChunk extends MessageBase {
  readonly type: 'snapshot-chunk';
  readonly snapshot: SnapshotInfo;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly last: boolean;
  /** CRC-32 of the whole snapshot (on the last chunk; 0 otherwise). */
  readonly checksum: number;
}

/** The follower's runtime acknowledges chunks: `offset` is the next byte it expects; reject = start over. */
export interface SnapshotChunkResponse extends MessageBase {
  readonly type: 'snapshot-chunk-resp';
  readonly index: number;
  readonly offset: number;
  readonly reject: boolean;
}

/** Every message nodes exchange. Handled with `switch (m.type)` and an exhaustiveness check. */
export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse
  | SnapshotRequest
  | SnapshotChunk
  | SnapshotChunkResponse;

export type MessageType = Message['type'];

/** Every message type, for validating decoded frames. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'vote',
  'pre-vote',
  'vote-resp',
  'pre-vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'timeout-now',
  'read-index',
  'read-index-resp',
  'snapshot',
  'snapshot-chunk',
  'snapshot-chunk-resp',
];

/**
 * A confirmed read index (thesis §6.4): once this node has applied `index`,
 * a read of its state is linearizable with respect to the request `context`.
 */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * The work the protocol hands to its driver. The driver must, in this order:
 *
 * 1. send `leaderMessages` — allowed before persisting (thesis §10.2.1: the
 *    leader writes its own log in parallel with replication, and counts
 *    itself toward a quorum only once `advance` says its entries are durable);
 * 2. make `hardState` (if present) and `entries` durable: `entries[0].index`
 *    may be ≤ the stored last index, in which case the stored suffix from that
 *    index on is replaced;
 * 3. send `messages` — only now, because votes and acknowledgements promise
 *    durability (a vote after term and vote are durable, §5.2; an ack after
 *    the acked entries are durable, §5.3);
 * 4. apply `committed` to the state machine, in order;
 * 5. call `advance(ready)`.
 *
 * Readies are processed strictly one after another: `ready()` may not be
 * called again before `advance()`, though `step`, `tick` and `propose` may.
 */
export interface Ready {
  readonly softState?: SoftState;
  /**
   * Install this snapshot before anything else in the Ready: its bytes are in
   * the SnapshotStore; restore the state machine from them and reset the
   * stored log to start after snapshot.index.
   */
  readonly snapshot?: SnapshotInfo;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly committed: readonly Entry[];
  readonly leaderMessages: readonly Message[];
  readonly messages: readonly Message[];
  /** Read indexes confirmed since the last Ready, in request order; serve each once applied ≥ index. */
  readonly readStates: readonly ReadState[];
}

/** Where the leader believes one follower's log is (§5.3 nextIndex/matchIndex). */
export interface FollowerProgress {
  readonly match: number;
  readonly next: number;
  /** probe: one append at a time until a match is found; replicate: pipelined appends; snapshot: installing one. */
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly inflight: number;
  readonly recentActive: boolean;
}

/** A snapshot of the protocol's state, for status pages and tests. */
export interface ProtocolStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  /** While joint consensus runs: the outgoing configuration's voters (else empty). */
  readonly outgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** The node a leadership transfer is moving leadership to, or '' when none runs. */
  readonly leadTransferee: NodeId;
  /** Present on the leader only: each follower's progress. */
  readonly progress?: Readonly<Record<NodeId, FollowerProgress>>;
}

/** The result of a proposal the leader accepted: its entries sit at firstIndex, firstIndex + 1, … in `term`. */
export interface Proposed {
  readonly firstIndex: number;
  readonly term: number;
}
