import { DecodeError, LeadershipTransferError, MembershipChangeError, NotLeaderError } from '../errors';
import { validateConfig, type ProtocolConfig } from './config';
import { Leader } from './leader';
import { carriesLeadership, mayLead } from './leadership';
import { RaftLog } from './log';
import {
  allMembers,
  allVoters,
  applyChanges,
  decodeConfigEntry,
  encodeConfigEntry,
  isJoint,
  jointVoteResult,
  leaveJoint,
  membershipOf,
  type Membership,
  type MembershipChange,
} from './membership';
import type { RandomSource } from './random';
import {
  NONE,
  type AppendRequest,
  type Entry,
  type HardState,
  type Heartbeat,
  type Message,
  type NodeId,
  type ProtocolStatus,
  type ReadState,
  type Ready,
  type Role,
  type SnapshotInfo,
  type SnapshotRequest,
  type SoftState,
  type VoteRequest,
  type VoteResponse,
} from './types';

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

/** The result of a proposal the leader accepted: its entries sit at firstIndex, firstIndex + 1, … in `term`. */
export interface Proposed {
  readonly firstIndex: number;
  readonly term: number;
}

const EMPTY = new Uint8Array(0);

/**
 * One Raft peer as a pure, synchronous state machine (Raft paper, thesis
 * ch. 3). Inputs are tick(), step(), propose(); the output is a Ready drained
 * with ready() and acknowledged with advance(). It never does I/O, reads no
 * clock and draws randomness only from the injected source, so a run is a
 * function of its inputs.
 *
 * Roles are swapped step/tick handlers: becomeFollower sets stepRole = stepFollower.
 */
export class RaftProtocol {
  readonly id: NodeId;
  readonly config: ProtocolConfig;
  readonly log: RaftLog;
  private readonly random: RandomSource;
  private membership: Membership;
  /** The log index the membership came from (its config entry, or the snapshot; 0: the bootstrap list). */
  private configIndex: number;
  /** Index of the newest config entry not yet applied; one change at a time. */
  private pendingConfIndex = 0;

  private term = 0;
  private vote: NodeId = NONE;
  private leaderId: NodeId = NONE;
  private role: Role = 'follower';

  /** Present while this node leads: the leader-only state. */
  private leader: Leader | undefined;
  private readonly votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  /** Ticks left during which a restarted voter refuses votes: it may have acknowledged a lease before the crash. */
  private restartEmbargo = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private messages: Message[] = [];
  private leaderMessages: Message[] = [];
  private readStates: ReadState[] = [];
  /** The newest durable snapshot, sent to followers that need compacted entries. */
  private snapshot: SnapshotInfo | undefined;
  /** A snapshot received from the leader, to hand out in the next Ready for installing. */
  private pendingInstall: SnapshotInfo | undefined;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  /** @throws ConfigError when options.config is invalid */
  constructor(options: ProtocolOptions) {
    this.id = options.id;
    this.config = validateConfig(options.config);
    this.random = options.random;
    this.membership = options.snapshot?.membership ?? membershipOf(options.voters);
    this.configIndex = options.snapshot?.index ?? 0;
    const hs = options.hardState ?? { term: 0, vote: NONE, commit: 0 };
    this.snapshot = options.snapshot;
    this.log = new RaftLog(options.entries ?? [], hs.commit, options.applied ?? 0, options.snapshot);
    this.term = hs.term;
    this.vote = hs.vote;
    this.prevHard = this.hardState();
    this.becomeFollower(this.term, NONE);
    if (this.config.leaseReads && this.term > 0) this.restartEmbargo = this.config.electionTicks;
    this.prevSoft = this.softState();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: may start an election, send heartbeats or step down. */
  tick(): void {
    if (this.restartEmbargo > 0) this.restartEmbargo--;
    this.tickRole();
  }

  /**
   * Starts an election now, as if the election timeout had fired (pre-vote
   * first when enabled). Does nothing on a leader or a non-voter.
   */
  campaign(): void {
    if (this.role === 'leader' || !this.isVoter()) return;
    if (this.config.preVote) this.becomePreCandidate();
    else this.becomeCandidate();
  }

  /**
   * Appends commands to the leader's log; they replicate on the next Ready.
   * @returns where the entries landed
   * @throws NotLeaderError on any node but the leader (with the leader it knows of)
   */
  propose(data: readonly Uint8Array[]): Proposed {
    if (this.role !== 'leader') throw new NotLeaderError(this.id, this.leaderId);
    if (this.leader!.transferee !== NONE) throw new LeadershipTransferError(this.id, this.leader!.transferee);
    const firstIndex = this.log.lastIndex() + 1;
    this.log.append(
      data.map((d, k) => ({ index: firstIndex + k, term: this.term, type: 'normal', data: d })),
    );
    return { firstIndex, term: this.term };
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
    if (!this.leader) throw new NotLeaderError(this.id, this.leaderId);
    this.leader.transfer(to);
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
    if (this.leader) {
      this.leader.readIndex(context, this.id, mode === 'lease');
      return true;
    }
    if (this.leaderId === NONE) return false;
    const m = {
      type: 'read-index',
      from: this.id,
      to: this.leaderId,
      term: this.term,
      context,
      lease: mode === 'lease',
    } as const;
    this.send(m);
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
    if (!this.leader) throw new NotLeaderError(this.id, this.leaderId);
    if (this.leader.transferee !== NONE) throw new LeadershipTransferError(this.id, this.leader.transferee);
    if (this.pendingConfIndex > this.log.applied || isJoint(this.membership)) {
      throw new MembershipChangeError('another membership change is still in progress');
    }
    return this.appendConfig(applyChanges(this.membership, changes)); // throws for an invalid change
  }

  /** The current configuration. */
  members(): Membership {
    return this.membership;
  }

  /**
   * Records that a snapshot covering entries up to info.index is durable in
   * the SnapshotStore (§7). Followers that need compacted entries get it.
   */
  snapshotCreated(info: SnapshotInfo): void {
    if (!this.snapshot || info.index > this.snapshot.index) this.snapshot = info;
  }

  /**
   * Drops log entries up to `index` from memory; they must be covered by a
   * durable snapshot and applied.
   * @throws Error when index is beyond the newest snapshot or the applied index
   */
  compact(index: number): void {
    if (!this.snapshot || index > this.snapshot.index) {
      throw new Error(`cannot compact to ${index}: no durable snapshot covers it`);
    }
    this.log.compact(index);
  }

  /** The runtime's outcome of a snapshot transfer to `to` (§7): see Leader.reportSnapshot. */
  reportSnapshot(to: NodeId, outcome: 'finished' | 'failed'): void {
    this.leader?.reportSnapshot(to, outcome);
  }

  /** Feeds a message from a peer. Messages from other terms are handled as §5.1 requires. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    // A removed (or never added) node must not disrupt the cluster with elections, nor lead it (see mayLead).
    if ((m.type === 'vote' || m.type === 'pre-vote') && !allMembers(this.membership).includes(m.from)) return;
    if (carriesLeadership(m) && !mayLead(m, this.membership, this.configIndex, this.term, this.leaderId))
      return;
    if (m.term > this.term) {
      if (!this.maybeAdoptTerm(m)) return;
    } else if (m.term < this.term) {
      this.handleStaleTerm(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'pre-vote') this.handleVoteRequest(m);
    else this.stepRole(m);
  }

  // ------------------------------------------------------------ Ready cycle

  /** Whether ready() has anything for the driver. */
  hasReady(): boolean {
    this.leader?.flushAppends();
    const soft = this.softState();
    const hard = this.hardState();
    return (
      soft.role !== this.prevSoft.role ||
      soft.leaderId !== this.prevSoft.leaderId ||
      !sameHardState(hard, this.prevHard) ||
      this.log.persisting < this.log.lastIndex() ||
      this.log.applying < this.log.committed ||
      this.pendingInstall !== undefined ||
      this.messages.length > 0 ||
      this.leaderMessages.length > 0 ||
      this.readStates.length > 0
    );
  }

  /** Drains the pending work; see Ready for the order the driver must follow. Call advance(ready) when done. */
  ready(): Ready {
    this.leader?.flushAppends();
    const soft = this.softState();
    const hard = this.hardState();
    const entries = this.log.unpersisted();
    const committed = this.log.unapplied(this.config.maxCommittedPerReady);
    const rd: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries,
      committed,
      leaderMessages: this.leaderMessages,
      messages: this.messages,
      readStates: this.readStates,
    };
    if (soft.role !== this.prevSoft.role || soft.leaderId !== this.prevSoft.leaderId) rd.softState = soft;
    if (!sameHardState(hard, this.prevHard)) rd.hardState = hard;
    if (this.pendingInstall) rd.snapshot = this.pendingInstall;
    this.pendingInstall = undefined;
    this.prevSoft = soft;
    this.prevHard = hard;
    this.messages = [];
    this.leaderMessages = [];
    this.readStates = [];
    if (entries.length > 0) this.log.persisting = entries[entries.length - 1]!.index;
    if (committed.length > 0) this.log.applying = committed[committed.length - 1]!.index;
    return rd;
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    const last = rd.entries[rd.entries.length - 1];
    if (last) this.log.stableTo(last.index, last.term);
    const lastApplied = rd.committed[rd.committed.length - 1];
    if (lastApplied) this.log.appliedTo(lastApplied.index);
    for (const e of rd.committed) if (e.type === 'config') this.applyConfig(e);
    // The leader counts itself toward a quorum only once its own entries are durable (thesis §10.2.1).
    if (last) this.leader?.maybeCommit();
  }

  // --------------------------------------------------------------- queries

  status(): ProtocolStatus {
    const progress = this.leader?.view();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      voters: [...this.membership.voters],
      outgoing: [...this.membership.outgoing],
      learners: [...this.membership.learners],
      leadTransferee: this.leader?.transferee ?? NONE,
      ...(progress ? { progress } : {}),
    };
  }

  softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId };
  }

  /**
   * The state to persist. Its commit is the highest index that is both
   * committed and already durable in the local log (log.stable), so a driver
   * may write hard state and entries in parallel: a crash between the two
   * never leaves a durable commit index over an entry that is not on disk
   * (or over a stale entry this Ready replaces).
   */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: Math.min(this.log.committed, this.log.stable) };
  }

  // ----------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
  }

  /** Thesis §9.6: ask for votes for term + 1 without raising our term. */
  private becomePreCandidate(): void {
    this.role = 'pre-candidate';
    this.leaderId = NONE;
    this.votes.clear();
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.requestVotes('pre-vote', this.term + 1);
  }

  /** §5.2: raise the term, vote for ourselves, ask everyone else. `transfer`: told to by TimeoutNow. */
  private becomeCandidate(transfer = false): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.requestVotes('vote', this.term, transfer);
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickHeartbeat();
    const termOf = (): number => this.term; // the leader reads term and membership live
    const membershipOf = (): Membership => this.membership;
    const snapshotOf = (): SnapshotInfo | undefined => this.snapshot;
    this.leader = new Leader({
      id: this.id,
      config: this.config,
      log: this.log,
      get term() {
        return termOf();
      },
      get membership() {
        return membershipOf();
      },
      send: (m) => this.send(m),
      readState: (rs) => this.readStates.push(rs),
      get snapshot() {
        return snapshotOf();
      },
    });
    // An unapplied config entry may sit in our log: allow no new change before it applies.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: entries of earlier terms commit only through one of ours.
    this.log.append([{ index: this.log.lastIndex() + 1, term: this.term, type: 'noop', data: EMPTY }]);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leaderId = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.leader = undefined;
  }

  /** §5.2: a timeout drawn from [electionTicks, 2 × electionTicks) so that split votes resolve. */
  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout =
      this.config.electionTicks + this.random.nextInt(this.config.electionTicks);
  }

  private requestVotes(type: 'vote' | 'pre-vote', term: number, transfer = false): void {
    this.votes.set(this.id, true);
    if (jointVoteResult(this.membership, this.votes) === 'won') {
      this.winVote(type);
      return;
    }
    for (const to of allVoters(this.membership)) {
      if (to === this.id) continue;
      this.send({
        type,
        from: this.id,
        to,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  private winVote(type: 'vote' | 'pre-vote'): void {
    if (type === 'pre-vote') this.becomeCandidate();
    else this.becomeLeader();
  }

  // ------------------------------------------------------------------ ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign();
    }
  }

  private tickHeartbeat(): void {
    const leader = this.leader!;
    leader.tick();
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !leader.quorumActive()) {
        // Thesis §6.2: a leader that cannot reach a quorum stops serving.
        this.becomeFollower(this.term, NONE);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      leader.bcastHeartbeat();
    }
  }

  // ------------------------------------------------------- term handling

  /**
   * A message from a higher term. Returns false when it must be dropped.
   * Votes are ignored while we believe a leader is alive (the check-quorum
   * lease, thesis §4.2.3), so a rejoining node cannot depose a healthy leader.
   * Pre-votes are ignored then even without check-quorum: thesis §9.6 grants
   * a pre-vote only if the voter "has not received heartbeats from a valid
   * leader for at least a baseline election timeout" (otherwise a rejoining
   * node with an up-to-date log passes pre-vote and deposes the leader).
   */
  private maybeAdoptTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'pre-vote') {
      // A transfer's campaign was started by the leader itself: the lease does not protect against it.
      const leaseApplies = (this.config.checkQuorum || m.type === 'pre-vote') && !m.transfer;
      const heardLeader = this.leaderId !== NONE && this.electionElapsed < this.config.electionTicks;
      const inLease = leaseApplies && (heardLeader || this.restartEmbargo > 0);
      if (inLease) return false;
    }
    if (m.type === 'pre-vote') return true; // a pre-vote never changes our term
    if (m.type === 'pre-vote-resp' && !m.reject) return true; // granted for the term we would campaign in
    const leader = carriesLeadership(m) ? m.from : NONE;
    this.becomeFollower(m.term, leader);
    return true;
  }

  /** A message from an older term. */
  private handleStaleTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && carriesLeadership(m)) {
      // A deposed leader may be cut off from everyone who would tell it; answer so it learns our term.
      this.ack(m.from, 0);
    } else if (m.type === 'pre-vote') {
      this.send({ type: 'pre-vote-resp', from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  /** §5.2, §5.4.1: one vote per term, only for a log at least as up to date as ours. */
  private handleVoteRequest(m: VoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.leaderId === NONE) ||
      (m.type === 'pre-vote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  // ------------------------------------------------------------ step roles

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        if (m.type === 'append') this.handleAppend(m);
        else if (m.type === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case 'timeout-now':
        // Thesis §3.10: campaign at once, skipping pre-vote; our log is as up to date as the leader's.
        if (this.isVoter()) this.becomeCandidate(true);
        return;
      case 'read-index-resp':
        if (!m.reject) this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return; // responses to a role we no longer hold
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'vote-resp':
      case 'pre-vote-resp':
        this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    const leader = this.leader!;
    switch (m.type) {
      case 'append-resp':
        leader.handleAppendResponse(m);
        return;
      case 'heartbeat-resp':
        leader.handleHeartbeatResponse(m);
        return;
      case 'read-index':
        if (leader.progress.has(m.from)) leader.readIndex(m.context, m.from, m.lease);
        return;
      case 'vote':
      case 'pre-vote':
      case 'vote-resp':
      case 'pre-vote-resp':
      case 'append':
      case 'heartbeat':
      case 'timeout-now':
      case 'read-index-resp':
      case 'snapshot':
      case 'snapshot-chunk':
      case 'snapshot-chunk-resp':
        return; // no other leader exists in our term (§5.2 election safety); chunks are the runtime's
      default:
        assertNever(m);
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expected = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    if (m.type !== expected || !allVoters(this.membership).includes(m.from)) return;
    this.votes.set(m.from, !m.reject);
    const result = jointVoteResult(this.membership, this.votes);
    if (result === 'won') this.winVote(m.type === 'pre-vote-resp' ? 'pre-vote' : 'vote');
    else if (result === 'lost') this.becomeFollower(this.term, NONE);
  }

  // ------------------------------------------------- replication, follower

  /** §5.3: accept entries that follow a matching (prevIndex, prevTerm); otherwise reject with a hint. */
  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      this.ack(m.from, this.log.committed);
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = this.log.appendAfter(m.prevIndex, m.entries);
      // Commit never beyond what we know matches the leader.
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.ack(m.from, lastNew);
      return;
    }
    const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.ack(m.from, m.prevIndex, { hintIndex, hintTerm: this.log.term(hintIndex) ?? 0 });
  }

  /**
   * §7 InstallSnapshot: a snapshot we already hold (by index and term)
   * only moves commit forward; otherwise it replaces the whole log and is
   * handed out for installing. Either way the ack names the index we now hold.
   */
  private handleSnapshot(m: SnapshotRequest): void {
    const s = m.snapshot;
    if (s.index > this.log.committed) {
      if (this.log.matchTerm(s.index, s.term)) {
        this.log.commitTo(s.index);
      } else {
        this.log.restore(s.index, s.term);
        this.membership = s.membership; // the configuration as of the snapshot replaces ours
        this.configIndex = s.index;
        this.snapshotCreated(s);
        this.pendingInstall = s;
      }
    }
    this.ack(m.from, this.log.committed);
  }

  /** An append-resp: `index` matches the leader (or, with `reject`, prevIndex `index` did not, with a hint). */
  private ack(to: NodeId, index: number, reject?: { hintIndex: number; hintTerm: number }): void {
    const hint = reject ?? { hintIndex: 0, hintTerm: 0 };
    this.send({ type: 'append-resp', from: this.id, to, term: this.term, reject: !!reject, index, ...hint });
  }

  /**
   * A committed config entry takes effect (apply-time semantics, with one
   * change at a time). A leader tracks the new members, leaves joint
   * consensus on its own, and steps down once it is no longer a voter.
   * A malformed or invalid entry changes nothing, on every node alike.
   */
  private applyConfig(e: Entry): void {
    try {
      this.membership = decodeConfigEntry(e.data).membership;
      this.configIndex = e.index;
    } catch (err) {
      if (err instanceof DecodeError) return;
      throw err;
    }
    if (!this.leader) return;
    if (!this.isVoter()) {
      this.becomeFollower(this.term, NONE); // thesis §4.2.2: a removed leader steps down
      return;
    }
    this.leader.syncMembers();
    if (isJoint(this.membership)) this.appendConfig(leaveJoint(this.membership));
    this.leader.maybeCommit();
  }

  private appendConfig(membership: Membership): Proposed {
    const index = this.log.lastIndex() + 1;
    this.log.append([{ index, term: this.term, type: 'config', data: encodeConfigEntry({ membership }) }]);
    this.pendingConfIndex = index;
    return { firstIndex: index, term: this.term };
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader sends min(match, commit), so this never exceeds what matches.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({
      type: 'heartbeat-resp',
      from: this.id,
      to: m.from,
      term: this.term,
      context: m.context,
      sentAt: m.sentAt,
    });
  }

  // ----------------------------------------------------------------- misc

  private send(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'timeout-now' || m.type === 'snapshot')
      this.leaderMessages.push(m);
    else this.messages.push(m);
  }

  private isVoter(): boolean {
    return allVoters(this.membership).includes(this.id);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
