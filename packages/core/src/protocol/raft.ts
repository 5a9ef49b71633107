import { LeadershipTransferError, NotLeaderError } from '../errors';
import { bcastVote, campaign, stepCandidate, tickElection } from './candidate';
import { validateConfig, type ProtocolConfig } from './config';
import { applyConfig, proposeMembership } from './conf-change';
import { handleStaleTerm, handleVoteRequest, maybeAdoptTerm } from './election';
import { stepFollower } from './follower';
import { Leader, stepLeader, tickHeartbeat } from './leader';
import { carriesLeadership, mayLead } from './leadership';
import { RaftLog } from './log';
import { allMembers, membershipOf, type Membership, type MembershipChange } from './membership';
import { Peer } from './peer';
import type { RandomSource } from './random';
import {
  NONE,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProtocolStatus,
  type Proposed,
  type Ready,
  type SnapshotInfo,
  type SoftState,
} from './types';

export type { Proposed } from './types';

/** What a RaftProtocol starts from: its identity, its peers, and whatever it had made durable. */
export interface ProtocolOptions {
  readonly id: NodeId;
  /**
   * The bootstrap configuration: every voting member, this node included
   * (empty for a node that joins an existing cluster). A snapshot's
   * membership and applied config entries take precedence.
   */
  readonly voters: readonly NodeId[];
  readonly config?: Partial<ProtocolConfig>;
  readonly random: RandomSource;
  /** Durable term, vote and commit from a previous run. */
  readonly hardState?: HardState;
  /** The durable log from a previous run, contiguous. */
  readonly entries?: readonly Entry[];
  /** Index the state machine has already applied (it is not handed out again). */
  readonly applied?: number;
  /** The newest durable snapshot; the log (entries) continues after it. */
  readonly snapshot?: SnapshotInfo;
}

const EMPTY = new Uint8Array(0);

/**
 * One Raft peer as a pure, synchronous state machine (Raft paper, thesis
 * ch. 3). Inputs are tick(), step(), propose(); the output is a Ready drained
 * with ready() and acknowledged with advance(). It never does I/O, reads no
 * clock and draws randomness only from the injected source, so a run is a
 * function of its inputs.
 *
 * The class keeps the peer's state (peer.ts), the role switch and the Ready
 * bookkeeping. Roles are swapped step/tick handlers, each in its own file:
 * becomeFollower sets stepRole = stepFollower (follower.ts); candidates and
 * pre-candidates step in candidate.ts, the leader in leader.ts (with its
 * reads.ts and transfer.ts); votes and other terms are election.ts's,
 * membership changes conf-change.ts's.
 */
export class RaftProtocol {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  private readonly r: Peer;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private stepRole: (m: Message) => void = (m) => stepFollower(this.r, m);
  private tickRole: () => void = () => tickElection(this.r);
  /** Where becomeLeader put the no-op of its term (0 before it first led). */
  private leaderTermStart = 0;

  /** @throws ConfigError when options.config is invalid */
  constructor(options: ProtocolOptions) {
    this.id = options.id;
    this.config = validateConfig(options.config);
    const hs = options.hardState ?? { term: 0, vote: NONE, commit: 0 };
    this.log = new RaftLog(options.entries ?? [], hs.commit, options.applied ?? 0, options.snapshot);
    this.r = new Peer(
      {
        id: this.id,
        config: this.config,
        log: this.log,
        random: options.random,
        membership: options.snapshot?.membership ?? membershipOf(options.voters),
        configIndex: options.snapshot?.index ?? 0,
        hardState: hs,
        snapshot: options.snapshot,
      },
      {
        becomeFollower: (term, leaderId) => this.becomeFollower(term, leaderId),
        becomePreCandidate: () => this.becomePreCandidate(),
        becomeCandidate: (transfer) => this.becomeCandidate(transfer),
        becomeLeader: () => this.becomeLeader(),
      },
    );
    this.prevHard = this.hardState();
    this.becomeFollower(this.r.term, NONE);
    if (this.config.leaseReads && this.r.term > 0) this.r.restartEmbargo = this.config.electionTicks;
    this.prevSoft = this.softState();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: may start an election, send heartbeats or step down. */
  tick(): void {
    if (this.r.restartEmbargo > 0) this.r.restartEmbargo--;
    this.tickRole();
  }

  /**
   * Starts an election now, as if the election timeout had fired (pre-vote
   * first when enabled). Does nothing on a leader or a non-voter.
   */
  campaign(): void {
    campaign(this.r);
  }

  /**
   * Appends commands to the leader's log; they replicate on the next Ready.
   * @returns where the entries landed
   * @throws NotLeaderError on any node but the leader (with the leader it knows of)
   */
  propose(data: readonly Uint8Array[]): Proposed {
    const { r } = this;
    if (!r.leader) throw new NotLeaderError(this.id, r.leaderId);
    const { transferee } = r.leader.transfer;
    if (transferee !== NONE) throw new LeadershipTransferError(this.id, transferee);
    const firstIndex = this.log.lastIndex() + 1;
    this.log.append(data.map((d, k) => ({ index: firstIndex + k, term: r.term, type: 'normal', data: d })));
    return { firstIndex, term: r.term };
  }

  /**
   * Starts moving leadership to `to`, or to the most up-to-date other voter
   * (thesis §3.10): the leader brings the target up to date, then sends it
   * TimeoutNow. Proposals are refused (LeadershipTransferError) while it runs;
   * it is abandoned after electionTicks.
   * @throws NotLeaderError on a non-leader
   * @throws RaftlineError when `to` is not another voter, or there is none
   */
  transferLeader(to?: NodeId): void {
    if (!this.r.leader) throw new NotLeaderError(this.id, this.r.leaderId);
    this.r.leader.transfer.start(to);
  }

  /**
   * Asks for a read index (thesis §6.4). The answer arrives in a later
   * Ready's readStates with the same context: a read served once applied ≥
   * index is linearizable. 'lease' answers at once from the leader lease
   * when it is valid (check-quorum on, no transfer this term) and falls back
   * to a heartbeat round otherwise. A follower forwards the request to its leader.
   * @returns false when no leader is known (nothing was sent)
   */
  readIndex(context: string, mode: 'safe' | 'lease' = 'safe'): boolean {
    const { r } = this;
    if (r.leader) {
      r.leader.reads.readIndex(context, this.id, mode === 'lease');
      return true;
    }
    if (r.leaderId === NONE) return false;
    r.send({
      type: 'read-index',
      from: this.id,
      to: r.leaderId,
      term: r.term,
      context,
      lease: mode === 'lease',
    });
    return true;
  }

  /**
   * Proposes a membership change (§6, thesis ch. 4). Changing at most one
   * voter applies directly; anything larger goes through joint consensus,
   * which the leader leaves on its own once C_old,new is applied. A change
   * takes effect on each node when the node applies its entry.
   * @returns where the config entry landed
   * @throws NotLeaderError, LeadershipTransferError
   * @throws MembershipChangeError while another change is in progress, or for an invalid change
   */
  proposeMembership(changes: readonly MembershipChange[]): Proposed {
    return proposeMembership(this.r, changes);
  }

  /** The current configuration. */
  members(): Membership {
    return this.r.membership;
  }

  /**
   * Records that a snapshot covering entries up to info.index is durable in
   * the SnapshotStore (§7). Followers that need compacted entries get it.
   */
  snapshotCreated(info: SnapshotInfo): void {
    this.r.snapshotCreated(info);
  }

  /**
   * Drops log entries up to `index` from memory; they must be covered by a
   * durable snapshot and applied.
   * @throws Error when index is beyond the newest snapshot or the applied index
   */
  compact(index: number): void {
    const { snapshot } = this.r;
    if (!snapshot || index > snapshot.index) {
      throw new Error(`cannot compact to ${index}: no durable snapshot covers it`);
    }
    this.log.compact(index);
  }

  /** The runtime's outcome of a snapshot transfer to `to` (§7): see Leader.reportSnapshot. */
  reportSnapshot(to: NodeId, outcome: 'finished' | 'failed'): void {
    this.r.leader?.reportSnapshot(to, outcome);
  }

  /** Feeds a message from a peer. Messages from other terms are handled as §5.1 requires. */
  step(m: Message): void {
    const { r } = this;
    if (m.to !== this.id) return;
    // A removed (or never added) node must not disrupt the cluster with elections, nor lead it (see mayLead).
    if ((m.type === 'vote' || m.type === 'pre-vote') && !allMembers(r.membership).includes(m.from)) return;
    if (carriesLeadership(m) && !mayLead(m, r.membership, r.configIndex, r.term, r.leaderId)) return;
    if (m.term > r.term) {
      if (!maybeAdoptTerm(r, m)) return;
    } else if (m.term < r.term) {
      handleStaleTerm(r, m);
      return;
    }
    if (m.type === 'vote' || m.type === 'pre-vote') handleVoteRequest(r, m);
    else this.stepRole(m);
  }

  // ------------------------------------------------------------ Ready cycle

  /** Whether ready() has anything for the driver. */
  hasReady(): boolean {
    const { r } = this;
    r.leader?.flushAppends();
    const soft = this.softState();
    const hard = this.hardState();
    return (
      soft.role !== this.prevSoft.role ||
      soft.leaderId !== this.prevSoft.leaderId ||
      !sameHardState(hard, this.prevHard) ||
      this.log.persisting < this.log.lastIndex() ||
      this.log.applying < this.log.committed ||
      r.pendingInstall !== undefined ||
      r.messages.length > 0 ||
      r.leaderMessages.length > 0 ||
      r.readStates.length > 0
    );
  }

  /** Drains the pending work; see Ready for the order the driver must follow. Call advance(ready) when done. */
  ready(): Ready {
    const { r } = this;
    r.leader?.flushAppends();
    const soft = this.softState();
    const hard = this.hardState();
    const entries = this.log.unpersisted();
    const committed = this.log.unapplied(this.config.maxCommittedPerReady);
    const rd: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries,
      committed,
      leaderMessages: r.leaderMessages,
      messages: r.messages,
      readStates: r.readStates,
    };
    if (soft.role !== this.prevSoft.role || soft.leaderId !== this.prevSoft.leaderId) rd.softState = soft;
    if (!sameHardState(hard, this.prevHard)) rd.hardState = hard;
    if (r.pendingInstall) rd.snapshot = r.pendingInstall;
    r.pendingInstall = undefined;
    this.prevSoft = soft;
    this.prevHard = hard;
    r.messages = [];
    r.leaderMessages = [];
    r.readStates = [];
    if (entries.length > 0) this.log.persisting = entries[entries.length - 1]!.index;
    if (committed.length > 0) this.log.applying = committed[committed.length - 1]!.index;
    return rd;
  }

  /**
   * Acknowledges that `rd` was persisted, sent and applied (its committed
   * entries past those acknowledged with appliedPart()).
   */
  advance(rd: Ready): void {
    const last = rd.entries[rd.entries.length - 1];
    if (last) this.log.stableTo(last.index, last.term);
    this.appliedPart(rd.committed);
    // The leader counts itself toward a quorum only once its own entries are durable (thesis §10.2.1).
    if (last) this.r.leader?.maybeCommit();
  }

  /**
   * Acknowledges that `committed`, the first committed entries of the Ready
   * in hand, were applied before the Ready was persisted (a driver may apply
   * those at or below log.stable at once: they are durable here already).
   * Entries at or below the applied index are skipped, so advance() can be
   * given the whole Ready afterwards.
   */
  appliedPart(committed: readonly Entry[]): void {
    const from = this.log.applied;
    const lastApplied = committed[committed.length - 1];
    if (lastApplied) this.log.appliedTo(lastApplied.index);
    for (const e of committed) if (e.type === 'config' && e.index > from) applyConfig(this.r, e);
  }

  // --------------------------------------------------------------- queries

  status(): ProtocolStatus {
    const { r } = this;
    const progress = r.leader?.view();
    return {
      id: this.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leaderId: r.leaderId,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      voters: [...r.membership.voters],
      outgoing: [...r.membership.outgoing],
      learners: [...r.membership.learners],
      leadTransferee: r.leader?.transfer.transferee ?? NONE,
      ...(progress ? { progress } : {}),
    };
  }

  /**
   * On the leader: the first index of its term, the no-op it appended when
   * elected (§8). Once the log's applied index reaches it, this leader has
   * applied every entry committed before its election, hence every command
   * acknowledged before (§5.4.2).
   * @returns that index, or undefined on any node but the leader
   */
  termStartIndex(): number | undefined {
    return this.r.leader ? this.leaderTermStart : undefined;
  }

  softState(): SoftState {
    return { role: this.r.role, leaderId: this.r.leaderId };
  }

  /**
   * The state to persist. Its commit is the highest index that is both
   * committed and already durable in the local log (log.stable), so a driver
   * may write hard state and entries in parallel: a crash between the two
   * never leaves a durable commit index over an entry that is not on disk
   * (or over a stale entry this Ready replaces).
   */
  hardState(): HardState {
    return { term: this.r.term, vote: this.r.vote, commit: Math.min(this.log.committed, this.log.stable) };
  }

  // ----------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: NodeId): void {
    this.reset(term);
    this.r.role = 'follower';
    this.r.leaderId = leaderId;
    this.stepRole = (m) => stepFollower(this.r, m);
    this.tickRole = () => tickElection(this.r);
  }

  /** Thesis §9.6: ask for votes for term + 1 without raising our term. */
  private becomePreCandidate(): void {
    const { r } = this;
    r.role = 'pre-candidate';
    r.leaderId = NONE;
    r.votes.clear();
    r.electionElapsed = 0;
    r.resetRandomizedElectionTimeout();
    this.stepRole = (m) => stepCandidate(r, m);
    this.tickRole = () => tickElection(r);
    bcastVote(r, 'pre-vote', r.term + 1);
  }

  /** §5.2: raise the term, vote for ourselves, ask everyone else. `transfer`: told to by TimeoutNow. */
  private becomeCandidate(transfer = false): void {
    const { r } = this;
    this.reset(r.term + 1);
    r.vote = this.id;
    r.role = 'candidate';
    this.stepRole = (m) => stepCandidate(r, m);
    this.tickRole = () => tickElection(r);
    bcastVote(r, 'vote', r.term, transfer);
  }

  private becomeLeader(): void {
    const { r } = this;
    this.reset(r.term);
    r.role = 'leader';
    r.leaderId = this.id;
    this.stepRole = (m) => stepLeader(r, m);
    this.tickRole = () => tickHeartbeat(r);
    r.leader = new Leader(r); // the leader reads term and membership live
    // An unapplied config entry may sit in our log: allow no new change before it applies.
    r.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: entries of earlier terms commit only through one of ours.
    this.leaderTermStart = this.log.lastIndex() + 1;
    this.log.append([{ index: this.leaderTermStart, term: r.term, type: 'noop', data: EMPTY }]);
  }

  private reset(term: number): void {
    const { r } = this;
    if (term !== r.term) {
      r.term = term;
      r.vote = NONE;
    }
    r.leaderId = NONE;
    r.electionElapsed = 0;
    r.heartbeatElapsed = 0;
    r.resetRandomizedElectionTimeout();
    r.votes.clear();
    r.leader = undefined;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
