import type { ProtocolConfig } from './config';
import type { Leader } from './leader';
import type { RaftLog } from './log';
import { allVoters, type Membership } from './membership';
import type { RandomSource } from './random';
import {
  NONE,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Role,
  type SnapshotInfo,
} from './types';

/** The role changes a handler may ask for; RaftProtocol makes them (it swaps the step and tick handlers). */
export interface RoleSwitch {
  becomeFollower(term: number, leaderId: NodeId): void;
  becomePreCandidate(): void;
  becomeCandidate(transfer?: boolean): void;
  becomeLeader(): void;
}

/** Where a peer starts: its identity and whatever it had made durable. */
export interface PeerInit {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  readonly random: RandomSource;
  readonly membership: Membership;
  /** The log index the membership came from (its config entry, or the snapshot; 0: the bootstrap list). */
  readonly configIndex: number;
  readonly hardState: HardState;
  readonly snapshot: SnapshotInfo | undefined;
}

/**
 * One peer's state, kept by its RaftProtocol and handed to every role's
 * handlers (etcd's `r *raft`): follower.ts, candidate.ts, election.ts,
 * leader.ts and conf-change.ts read and write it. A handler changes roles
 * only through becomeX, which RaftProtocol implements.
 *
 * Invariant: `leader` is present exactly while role is 'leader'.
 */
export class Peer {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  readonly random: RandomSource;
  membership: Membership;
  /** The log index the membership came from (its config entry, or the snapshot; 0: the bootstrap list). */
  configIndex: number;
  /** Index of the newest config entry not yet applied; one change at a time. */
  pendingConfIndex = 0;

  term: number;
  vote: NodeId;
  leaderId: NodeId = NONE;
  role: Role = 'follower';

  /** Present while this node leads: the leader-only state. */
  leader: Leader | undefined;
  readonly votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  /** Ticks left during which a restarted voter refuses votes: it may have acknowledged a lease before the crash. */
  restartEmbargo = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  messages: Message[] = [];
  leaderMessages: Message[] = [];
  readStates: ReadState[] = [];
  /** The newest durable snapshot, sent to followers that need compacted entries. */
  snapshot: SnapshotInfo | undefined;
  /** A snapshot received from the leader, to hand out in the next Ready for installing. */
  pendingInstall: SnapshotInfo | undefined;

  constructor(
    init: PeerInit,
    private readonly roles: RoleSwitch,
  ) {
    this.id = init.id;
    this.config = init.config;
    this.log = init.log;
    this.random = init.random;
    this.membership = init.membership;
    this.configIndex = init.configIndex;
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    this.snapshot = init.snapshot;
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.roles.becomeFollower(term, leaderId);
  }

  becomePreCandidate(): void {
    this.roles.becomePreCandidate();
  }

  becomeCandidate(transfer = false): void {
    this.roles.becomeCandidate(transfer);
  }

  becomeLeader(): void {
    this.roles.becomeLeader();
  }

  /** Queues a message for the next Ready; a leader's replication traffic goes apart (Ready.leaderMessages). */
  send(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'timeout-now' || m.type === 'snapshot')
      this.leaderMessages.push(m);
    else this.messages.push(m);
  }

  /** Hands a read state out in the next Ready. */
  readState(rs: ReadState): void {
    this.readStates.push(rs);
  }

  /** An append-resp: `index` matches the leader (or, with `reject`, prevIndex `index` did not, with a hint). */
  ack(to: NodeId, index: number, reject?: { hintIndex: number; hintTerm: number }): void {
    const hint = reject ?? { hintIndex: 0, hintTerm: 0 };
    this.send({ type: 'append-resp', from: this.id, to, term: this.term, reject: !!reject, index, ...hint });
  }

  /** Records a durable snapshot, unless a newer one is already known. */
  snapshotCreated(info: SnapshotInfo): void {
    if (!this.snapshot || info.index > this.snapshot.index) this.snapshot = info;
  }

  isVoter(): boolean {
    return allVoters(this.membership).includes(this.id);
  }

  /** §5.2: a timeout drawn from [electionTicks, 2 × electionTicks) so that split votes resolve. */
  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout =
      this.config.electionTicks + this.random.nextInt(this.config.electionTicks);
  }
}
