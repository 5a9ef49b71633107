import {
  ConfigError,
  NodeStoppedError,
  NotLeaderError,
  OverloadedError,
  RaftlineError,
  StateLostError,
  withoutStack,
} from '../errors';
import { checkKnownKeys } from '../known-keys';
import { silentLogger, type Logger } from '../logger';
import type { Cancel } from '../ports/clock';
import type { Membership, MembershipChange } from '../protocol/membership';
import type { ProtocolConfig } from '../protocol/config';
import { RaftProtocol } from '../protocol/raft';
import { NONE, type Entry, type Message, type NodeId, type Role } from '../protocol/types';
import type { CommandEnvelope, CommandRequest } from './command';
import { resolveNodeConfig, type NodeConfig } from './config';
import type { NodeContext } from './context';
import type { CommittedFeed, CommittedEvent, CommittedOptions } from './committed-feed';
import { Listeners } from './listeners';
import type { MembershipOps } from './membership';
import { RAFT_NODE_OPTION_KEYS, type RaftNodeOptions } from './options';
import { buildNodeParts } from './parts';
import type { ReadyLoop } from './ready-loop';
import { encodeProposal, type Proposals, type ProposeOptions } from './proposals';
import type { NodeReads, QueryOptions, QueryResult } from './reads';
import type { SnapshotManager } from './snapshots';
import { nodeStatus, type NodeStatus, type RoleChange } from './status';
import type { NodeStorage } from './storage';
import { TickClock } from './tick-clock';
import type { TickProposer } from './ticks';
import type { LeadershipTransfer } from './transfer';
import type { DigestAtOptions, Divergence, Verifier, VerifyResult } from './verification';

export { RAFT_NODE_OPTION_KEYS } from './options';
export type { RaftNodeOptions } from './options';
export type { ProposeOptions } from './proposals';
export type { ReadConsistency, QueryOptions, QueryResult } from './reads';
export type { NodeStatus } from './status';

/**
 * The asynchronous driver of one Raft peer: it owns the timers (through the
 * injected Clock) and the message intake, and runs the Ready loop
 * (ready-loop.ts), which persists before it sends what durability requires,
 * applies committed entries in order, resolves proposals and feeds the
 * committed stream.
 *
 * Batching: proposals that arrive while a store write is in flight join the
 * next Ready, which becomes one LogStore append and one message per follower.
 * With a StepStore log (ports/step-store.ts) that step is one durable write.
 *
 * The operations live in parts of their own: proposals.ts, membership.ts,
 * reads.ts, transfer.ts, storage.ts (durable writes and their retries),
 * apply.ts, snapshots.ts, verification.ts and ticks.ts (the periodic
 * commands a leader proposes for its machine's @Tick).
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly options: RaftNodeOptions;
  private readonly config: NodeConfig;
  private readonly protocolConfig: ProtocolConfig;
  private readonly logger: Logger;
  private protocol: RaftProtocol | undefined;
  private readonly feed: CommittedFeed;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private cancelTick: Cancel = () => {};
  /** Ticks due by the clock (see TickClock): set at start. */
  private tickClock: TickClock | undefined;
  private droppedMessages = 0;
  private role: Role = 'follower';
  private leaderId: NodeId = NONE;
  private readonly roleListeners: Listeners<RoleChange>;
  private readonly haltListeners: Listeners<Error>;
  /** Why the node stopped itself, once it did (see onHalt). */
  private halted: Error | undefined;
  private readonly storage: NodeStorage;
  private readonly proposals: Proposals;
  private readonly membership: MembershipOps;
  private readonly reads: NodeReads;
  private readonly transfers: LeadershipTransfer;
  private readonly snapshots: SnapshotManager | undefined;
  private readonly verification: Verifier;
  private readonly ticks: TickProposer;
  private readonly loop: ReadyLoop;

  /** @throws ConfigError when options.config is invalid or options (or options.config) hold an unknown key */
  constructor(options: RaftNodeOptions) {
    checkKnownKeys(options, RAFT_NODE_OPTION_KEYS, 'RaftNode options');
    this.options = options;
    this.id = options.id;
    ({ node: this.config, protocol: this.protocolConfig } = resolveNodeConfig(options.config));
    this.logger = options.logger ?? silentLogger;
    this.roleListeners = new Listeners((err) =>
      this.logger.warn({ node: this.id, err }, 'role-change listener threw'),
    );
    this.haltListeners = new Listeners((err) =>
      this.logger.warn({ node: this.id, err }, 'halt listener threw'),
    );
    const ctx: NodeContext = {
      id: options.id,
      clock: options.clock,
      logger: this.logger,
      config: this.config,
      protocol: () => this.protocol,
      running: () => this.running(),
      isRunning: () => this.state === 'running',
      leaderId: () => this.leaderId,
      sleep: (ms) => new Promise((resolve) => options.clock.setTimeout(resolve, ms)),
      kick: () => this.kick(),
    };
    ({
      storage: this.storage,
      transfers: this.transfers,
      proposals: this.proposals,
      membership: this.membership,
      reads: this.reads,
      feed: this.feed,
      verification: this.verification,
      snapshots: this.snapshots,
      ticks: this.ticks,
      loop: this.loop,
    } = buildNodeParts(options, ctx, {
      queryLocal: (name, args) => this.queryLocal(name, args),
      readLog: (lo, hi) => this.readLog(lo, hi),
      leads: () => this.role === 'leader',
      isLeader: () => this.isLeader(),
      propose: (r) => this.propose(r),
      receive: (m) => this.receive(m),
      changeRole: (role, leaderId, term) => this.changeRole(role, leaderId, term),
    }));
  }

  /**
   * Recovers durable state (term, vote, log) from the stores, then starts
   * ticking and listening. Entries up to the durable commit index are applied
   * again, rebuilding the state machine.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new RaftlineError(`node ${this.id} was already started`);
    this.state = 'starting';
    const recovered = await this.storage.recover(async () => this.snapshots?.recover());
    const { hardState, snapshot, entries, covered, lastIndex } = recovered;
    // Entries the snapshot covers that the store still holds stay readable on the committed stream.
    if (snapshot) this.feed.skipTo(snapshot.index, covered);
    this.protocol = new RaftProtocol({
      id: this.id,
      voters: this.options.voters,
      config: this.protocolConfig,
      random: this.options.random,
      ...(hardState ? { hardState } : {}),
      entries,
      applied: snapshot?.index ?? 0,
      ...(snapshot ? { snapshot } : {}),
    });
    this.state = 'running';
    const { tickMs } = this.config;
    this.tickClock = new TickClock(this.options.clock, tickMs, 2 * this.protocolConfig.electionTicks + 1);
    await this.options.transport.listen((m) => this.receive(m));
    this.scheduleTick();
    this.logger.info({ node: this.id, term: hardState?.term ?? 0, lastIndex }, 'raft node started');
    this.kick();
  }

  /**
   * Proposes a command. Resolves with the handler's return value once the
   * command is applied on this node.
   *
   * Validation is linearizable: it runs only on the leader, once that leader
   * has applied an entry of its own term (the no-op of its election, §8),
   * so a validator that reads state sees every command acknowledged before
   * this call. A follower or candidate validates nothing and answers
   * NotLeaderError; a leader elected a moment ago holds the command until
   * then (within options.timeoutMs); a leader long caught up appends at once.
   * @throws CommandRejectedError / UnknownCommandError when validation refuses it (nothing replicated)
   * @throws PayloadTooLargeError when its entry exceeds maxCommandBytes or the
   *   transport's maxEntryBytes (nothing replicated)
   * @throws NotLeaderError on any node but the leader (with the leader it knows of), and when
   *   leadership is lost while the command waits for the new leader to catch up: nothing was
   *   appended, the command was not applied; retry at the leader
   * @throws LeadershipLostError, ProposalTimeoutError: outcome unknown, retry with the same session
   *   (ProposalTimeoutError also when a new leader did not catch up in time: nothing was appended then)
   * @throws CommandFailedError when the handler threw while applying
   * @throws DivergedError on a leader that stopped applying (NodeConfig.divergenceAction)
   * @throws NodeStoppedError when the node is not running
   * @throws OverloadedError when maxPendingProposals (or maxPendingBytes) are
   *   already waiting here: refused at once, nothing appended; retry later
   */
  propose(request: CommandRequest, options: ProposeOptions = {}): Promise<unknown> {
    const append = (protocol: RaftProtocol) => {
      this.verification.assertApplying();
      this.options.applier.validate(request); // on a leader whose state is current: see above
      const envelope: CommandEnvelope = { ...request, time: this.options.clock.now() };
      const { maxEntryBytes } = this.options.transport;
      const data = encodeProposal(envelope, this.config.maxCommandBytes, maxEntryBytes);
      return { ...protocol.propose([data]), bytes: data.byteLength };
    };
    return this.proposals.appendAndWait(options, append, 'current-leader');
  }

  /**
   * The error any command arriving now would fail with, whatever it holds:
   * NotLeaderError on a running node that does not lead (with the leader it
   * knows), OverloadedError past a bound (counted as refused, as propose()
   * counts it). A server answers that way before it decodes a request.
   * Neither carries a stack trace: under a flood one is made per request.
   * @returns the error to answer, or undefined when propose() would look at the command
   */
  refusal(): NotLeaderError | OverloadedError | undefined {
    const p = this.protocol;
    if (this.state !== 'running' || !p) return undefined; // propose() says why
    const { role, leaderId } = p.softState();
    if (role !== 'leader') return withoutStack(() => new NotLeaderError(this.id, leaderId));
    return this.proposals.refuseIfFull();
  }

  /**
   * Changes the membership (§6, thesis ch. 4) and resolves once the change is
   * applied here, after joint consensus has been left when one was needed.
   * One change at a time; run it on the leader.
   * @returns the new membership
   * @throws NotLeaderError, MembershipChangeError (another change runs, or the change is invalid),
   *   LeadershipLostError / ProposalTimeoutError (outcome unknown: read status().members)
   */
  changeMembership(changes: readonly MembershipChange[], options: ProposeOptions = {}): Promise<Membership> {
    return this.membership.change(changes, options);
  }

  /** Adds a non-voting member that receives the log (a learner). See changeMembership for errors. */
  addLearner(id: NodeId, options?: ProposeOptions): Promise<Membership> {
    return this.changeMembership([{ type: 'add-learner', node: id }], options);
  }

  /** Makes a member a voter at once (prefer addVoter, which waits for it to catch up first). */
  promote(id: NodeId, options?: ProposeOptions): Promise<Membership> {
    return this.changeMembership([{ type: 'add-voter', node: id }], options);
  }

  /** Removes a member, voter or learner; a leader that removes itself steps down once the change applies. */
  removeNode(id: NodeId, options?: ProposeOptions): Promise<Membership> {
    return this.changeMembership([{ type: 'remove', node: id }], options);
  }

  /**
   * Adds a voter without stalling commits: it joins as a learner, and is
   * promoted only once its log is within maxLag entries of the leader's.
   * @throws ProposalTimeoutError when it does not catch up within timeoutMs (it stays a learner)
   */
  addVoter(id: NodeId, options: ProposeOptions & { maxLag?: number } = {}): Promise<Membership> {
    return this.membership.addVoter(id, options);
  }

  /**
   * Runs a read-only query with the requested consistency (default
   * 'linearizable'; see ReadConsistency for what each level guarantees).
   * @throws UnknownCommandError for an unknown query name
   * @throws ReadNotConfirmedError when the read could not be confirmed (no
   *   leader, leadership changed, timeout): nothing was read, retry freely
   * @throws DivergedError when this replica stopped applying (NodeConfig.divergenceAction)
   * @throws NodeStoppedError when the node is not running
   */
  query(name: string, args: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    const consistency = options.consistency ?? 'linearizable';
    try {
      const protocol = this.running();
      this.verification.assertApplying();
      if (consistency === 'stale') return Promise.resolve(this.queryLocal(name, args));
      const timeoutMs = options.timeoutMs ?? this.config.proposalTimeoutMs;
      // A lease is judged by the clock: ticks a leader missed while this process did not run count first.
      this.runTicks(this.tickClock!.behind(this.leading()));
      return this.reads.start(protocol, name, args, consistency, timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Moves leadership to `to`, or to the most up-to-date other voter (thesis
   * §3.10). Proposals made meanwhile wait, then go to whichever node leads.
   * @returns the new leader's id, once this node has heard of it ('' if it heard of none in time)
   * @throws NotLeaderError when this node is not the leader
   * @throws LeadershipTransferError when the transfer did not finish within an election timeout
   */
  async transferLeadership(to?: NodeId): Promise<NodeId> {
    return this.transfers.transfer(this.running(), to);
  }

  /**
   * Runs a query against this replica's local state, as of its applied index
   * (may be stale on a follower or a deposed leader).
   * @throws UnknownCommandError for an unknown query name
   * @throws DivergedError when this replica stopped applying (NodeConfig.divergenceAction)
   */
  queryLocal(name: string, args: readonly unknown[] = []): { value: unknown; appliedIndex: number } {
    const protocol = this.running();
    this.verification.assertApplying();
    return { value: this.options.applier.query(name, args), appliedIndex: protocol.log.applied };
  }

  /**
   * The committed commands in log order, from fromIndex (default 1), as they
   * are applied here, each with its outcome; by default only applied ones
   * (`outcomes: 'all'` yields failed and duplicate ones too). See
   * CommittedEvent for exactly what appears. Resumable from any index this
   * node still retains; a slow consumer only slows its own iteration
   * (entries are read on demand).
   * @throws ConfigError for an unknown options.outcomes
   * @throws CompactedError, OutcomeUnavailableError from the iteration (see CommittedEvent)
   */
  committed(options: CommittedOptions = {}): AsyncIterable<CommittedEvent> {
    return this.feed.iterate(options);
  }

  /**
   * Leader: checks that the replicas hold the same state, writes going on
   * (a marker, then a report of this leader's digest there; see Verifier.verify).
   * @throws NotLeaderError, LeadershipLostError, ProposalTimeoutError, DivergedError, NodeStoppedError
   */
  verify(options: ProposeOptions = {}): Promise<VerifyResult> {
    return this.verification.verify(options);
  }

  /**
   * This replica's digest at verification marker `index`, once applied; see Verifier.digestAt.
   * @throws ApplyTimeoutError, DivergedError, RangeError, NodeStoppedError
   */
  digestAt(index: number, options?: DigestAtOptions): Promise<string | undefined> {
    return this.verification.digestAt(index, options);
  }

  /** Calls listener on each divergence this replica finds, until the returned function is called. */
  onDivergence(listener: (divergence: Divergence) => void): () => void {
    return this.verification.onDivergence(listener);
  }

  /**
   * This node's view of the group: role, term, indexes, members, followers'
   * progress on the leader, and the health of storage and verification.
   * @throws NodeStoppedError before start()
   */
  status(): NodeStatus {
    if (!this.protocol) throw new NodeStoppedError(this.id);
    return nodeStatus(this.id, this.protocol, {
      appliedIndex: this.verification.appliedIndex(),
      snapshotIndex: this.snapshots?.index ?? 0,
      storageError: this.storage.error,
      droppedMessages: this.droppedMessages,
      ...(this.halted ? { halted: this.halted.message } : {}),
      proposals: this.proposals.load(),
      verification: this.verification.status(),
    });
  }

  /** Whether this node currently believes it is the leader. */
  isLeader(): boolean {
    return this.state === 'running' && this.protocol?.softState().role === 'leader';
  }

  /**
   * Calls listener on every role or leader change this node sees, until the
   * returned function is called.
   */
  onRoleChange(listener: (change: RoleChange) => void): () => void {
    return this.roleListeners.add(listener);
  }

  /**
   * Calls listener (once, after the node stopped) if this node stops itself
   * because going on would be unsafe: a StateLostError (its storage lost
   * entries it had acknowledged). Calls fail meanwhile with NodeStoppedError
   * whose cause is that error, and status().halted says it.
   */
  onHalt(listener: (cause: Error) => void): () => void {
    return this.haltListeners.add(listener);
  }

  /**
   * Keeps log entries from `index` on when compacting (a consumer such as the
   * JetStream mirror still needs them); 0 lifts the floor. Snapshots still
   * happen; only the log behind them is kept longer.
   */
  retainFrom(index: number): void {
    this.snapshots?.retainFrom(index);
  }

  /**
   * Takes a snapshot of the state machine at this replica's applied index
   * now (§7), as the automatic one after snapshotEntries would, and compacts
   * the log behind it (keeping snapshotTrailingEntries and what retainFrom
   * holds). One being written is waited for first; when the newest snapshot
   * already covers the applied index, none is taken again.
   * @returns the index of the newest durable snapshot (0: nothing applied yet), once it is durable
   * @throws ConfigError when the node has no snapshotStore
   * @throws DivergedError when this replica stopped applying (NodeConfig.divergenceAction)
   * @throws NodeStoppedError when the node is not running
   * @throws the SnapshotStore's error when the snapshot cannot be written
   */
  async snapshotNow(): Promise<number> {
    const protocol = this.running();
    if (!this.snapshots) throw new ConfigError([`snapshotStore is not set: node ${this.id} cannot snapshot`]);
    this.verification.assertApplying();
    return this.snapshots.createNow(() => protocol.log.applied);
  }

  /**
   * Stops timers and the transport, waits for the Ready loop to finish its
   * current step, and fails pending proposals with NodeStoppedError. The
   * stores are left open: their owner closes them.
   */
  async stop(options: { transferLeadership?: boolean } = {}): Promise<void> {
    if (this.state === 'stopped') return;
    if (
      options.transferLeadership &&
      this.state === 'running' &&
      this.isLeader() &&
      this.options.voters.length > 1
    ) {
      await this.transferLeadership().catch((err: unknown) =>
        this.logger.warn({ node: this.id, err }, 'leadership transfer before stop failed'),
      );
    }
    this.state = 'stopped';
    this.cancelTick();
    this.ticks.stop();
    await this.options.transport.close();
    // Settle callers first: a store write that never completes must not keep them waiting.
    this.proposals.failAll(() => new NodeStoppedError(this.id, this.halted));
    this.reads.fail('node stopped', true);
    const settled = await this.storage.awaitInFlight(this.loop.inFlight);
    if (!settled) this.logger.warn({ node: this.id }, 'stopped while a store write was still in flight');
    // A clean stop saves the commit index, so the next start applies everything at once.
    else if (!this.halted)
      await this.storage.awaitInFlight(this.storage.settled().then(() => this.storage.flushCommit()));
    this.transfers.release();
    this.snapshots?.stopSending();
    this.feed.close();
    this.verification.close();
    this.logger.info({ node: this.id }, 'raft node stopped');
  }

  // ------------------------------------------------------------ internals

  private running(): RaftProtocol {
    if (this.state !== 'running' || !this.protocol) throw new NodeStoppedError(this.id, this.halted);
    return this.protocol;
  }

  /** Stops for good because going on would be unsafe; onHalt's listeners hear why once stopped. */
  private halt(cause: Error): void {
    if (this.halted) return;
    this.halted = cause;
    this.logger.error({ node: this.id, err: cause }, 'halting: this replica cannot go on safely');
    void this.stop().finally(() => this.haltListeners.emit(cause));
  }

  private scheduleTick(): void {
    this.cancelTick = this.options.clock.setTimeout(() => {
      if (this.state !== 'running') return;
      this.runTicks(this.tickClock!.onTimer(this.leading()));
      this.storage.onTick();
      this.transfers.maybeEnd();
      this.kick();
      this.scheduleTick();
    }, this.config.tickMs);
  }

  /** Whether the protocol leads now (the Ready loop may not have reported it yet). */
  private leading(): boolean {
    return this.protocol!.softState().role === 'leader';
  }

  private runTicks(n: number): void {
    for (let i = 0; i < n; i++) this.protocol!.tick();
  }

  private receive(m: Message): void {
    if (this.state !== 'running') return;
    try {
      // Snapshot bytes are the runtime's business; the protocol sees only the finished install.
      if (m.type === 'snapshot-chunk') {
        if (this.snapshots) this.snapshots.onChunk(m);
        else this.droppedMessages++;
        return;
      }
      if (m.type === 'snapshot-chunk-resp') {
        this.snapshots?.onChunkResponse(m);
        return;
      }
      this.runTicks(this.tickClock!.behind(this.leading()));
      this.protocol!.step(m);
    } catch (err) {
      if (err instanceof StateLostError) {
        this.halt(err);
        return;
      }
      this.droppedMessages++;
      this.logger.warn(
        { node: this.id, from: m.from, type: m.type, err },
        'dropped a message that could not be handled',
      );
      return;
    }
    this.kick();
  }

  /** Starts the Ready loop unless it is already running (it then picks up the new work itself). */
  private kick(): void {
    this.loop.kick();
  }

  private changeRole(role: Role, leaderId: NodeId, term: number): void {
    const wasLeader = this.role === 'leader';
    if (leaderId !== this.leaderId) this.reads.fail(`leadership changed (now ${leaderId || 'none'})`, false);
    this.role = role;
    this.leaderId = leaderId;
    this.logger.info({ node: this.id, role, leaderId, term }, 'role changed');
    if (wasLeader && role !== 'leader') this.proposals.leadershipLost();
    if (role !== 'leader') this.snapshots?.stopSending();
    this.ticks.setLeading(role === 'leader');
    this.roleListeners.emit({ role, leaderId, term });
    this.options.applier.onRoleChange?.(role, leaderId, term);
  }

  private readLog(lo: number, hi: number): Entry[] {
    return this.protocol?.log.slice(lo, hi) ?? [];
  }
}
