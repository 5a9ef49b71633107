import {
  ConfigError,
  LeadershipLostError,
  LeadershipTransferError,
  NodeStoppedError,
  NotLeaderError,
  PayloadTooLargeError,
  ProposalTimeoutError,
  RaftlineError,
  ReadNotConfirmedError,
} from '../errors';
import { checkKnownKeys, type KnownKeys } from '../known-keys';
import { silentLogger, type Logger } from '../logger';
import type { Clock, Cancel } from '../ports/clock';
import type { LogStore } from '../ports/log-store';
import type { SnapshotStore } from '../ports/snapshot-store';
import type { StableStore } from '../ports/stable-store';
import type { Transport } from '../ports/transport';
import type { Membership, MembershipChange } from '../protocol/membership';
import type { ProtocolConfig } from '../protocol/config';
import { RaftProtocol, type Proposed } from '../protocol/raft';
import type { RandomSource } from '../protocol/random';
import {
  NONE,
  type Entry,
  type FollowerProgress,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from '../protocol/types';
import type { Applier, ApplyResult } from './applier';
import { decodeCommand, encodeCommand, type CommandEnvelope, type CommandRequest } from './command';
import { resolveNodeConfig, type NodeConfig } from './config';
import { CommittedFeed, type CommittedEvent, type CommittedOptions } from './committed-feed';
import { SnapshotManager } from './snapshots';
import {
  Verifier,
  type DigestAtOptions,
  type Divergence,
  type VerificationStatus,
  type VerifyResult,
} from './verification';

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

/** Options of one proposal. */
export interface ProposeOptions {
  /** Overrides NodeConfig.proposalTimeoutMs. */
  readonly timeoutMs?: number;
}

/**
 * How fresh a query must be:
 * - 'linearizable' (ReadIndex, thesis §6.4): the leader confirms it still leads
 *   with a heartbeat round, and the query runs once this replica applied the
 *   leader's commit index as of the request. Never stale, on any replica.
 * - 'lease': like linearizable, but the leader skips the heartbeat round while
 *   its lease holds (a quorum acknowledged it within electionTimeoutMs ×
 *   (1 − maxClockDrift)). Correct as long as clocks drift and processes pause
 *   less than that margin; falls back to a heartbeat round otherwise.
 * - 'stale': this replica's local state, at once; reports the index it read at.
 */
export type ReadConsistency = 'linearizable' | 'lease' | 'stale';

/** Options of one query. */
export interface QueryOptions {
  readonly consistency?: ReadConsistency;
  /** Overrides NodeConfig.proposalTimeoutMs for confirming the read. */
  readonly timeoutMs?: number;
}

/** A query's answer and the log index of the state it read. */
export interface QueryResult {
  readonly value: unknown;
  readonly appliedIndex: number;
}

interface PendingRead {
  readonly name: string;
  readonly args: readonly unknown[];
  index: number | undefined;
  resolve(value: QueryResult): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

/** What status() reports. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** The configuration this node has applied; `outgoing` is non-empty during joint consensus. */
  readonly members: Membership;
  /** The node leadership is being transferred to, while a transfer runs. */
  readonly leadTransferee?: NodeId;
  /** On the leader: each follower's match and next index. */
  readonly followers?: Readonly<Record<NodeId, FollowerProgress>>;
  /** The last storage error, while the node is retrying it. */
  readonly storageError?: string;
  /** Inbound messages dropped because they could not be handled. */
  readonly droppedMessages: number;
  /** Consistency verification here: the last marker, its digest, a divergence found (see RaftNode.verify()). */
  readonly verification: VerificationStatus;
}

interface Pending {
  readonly term: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

const MAX_BACKOFF_MS = 1000;
/** stop() waits this long for an in-flight store write before returning anyway. */
const STOP_WAIT_MS = 5000;

/** Nodes created in this process, a part of each read nonce. */
let instances = 0;

/**
 * The asynchronous driver of one Raft peer: it owns the timers (through the
 * injected Clock), runs the Ready loop, persists before it sends what
 * durability requires, applies committed entries in order, resolves
 * proposals and feeds the committed stream.
 *
 * Batching: proposals that arrive while a store write is in flight join the
 * next Ready, which becomes one LogStore append and one message per follower.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly options: RaftNodeOptions;
  private readonly config: NodeConfig;
  private readonly protocolConfig: ProtocolConfig;
  private readonly logger: Logger;
  private protocol: RaftProtocol | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly feed: CommittedFeed;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private processing: Promise<void> | undefined;
  private cancelTick: Cancel = () => {};
  private storageError: string | undefined;
  private droppedMessages = 0;
  private role: Role = 'follower';
  private readonly snapshots: SnapshotManager | undefined;
  private readonly roleListeners = new Set<
    (change: { role: Role; leaderId: NodeId; term: number }) => void
  >();
  private leaderId: NodeId = NONE;
  private readSeq = 0;
  /** Makes read contexts unique across restarts, so a leader never confuses an old read with a new one. */
  private readonly readNonce: string;
  private readonly reads = new Map<string, PendingRead>();
  /** Proposals held back while a leadership transfer runs (thesis §3.10). */
  private transferWaiters: (() => void)[] = [];
  private readonly verification: Verifier;

  /** @throws ConfigError when options.config is invalid or options (or options.config) hold an unknown key */
  constructor(options: RaftNodeOptions) {
    checkKnownKeys(options, RAFT_NODE_OPTION_KEYS, 'RaftNode options');
    this.options = options;
    this.id = options.id;
    ({ node: this.config, protocol: this.protocolConfig } = resolveNodeConfig(options.config));
    this.readNonce = `${options.clock.now().toString(36)}.${(++instances).toString(36)}`;
    this.logger = options.logger ?? silentLogger;
    this.feed = new CommittedFeed(
      this.config.streamResultWindow,
      (lo, hi) => this.readLog(lo, hi),
      () => this.protocol?.log.firstIndex() ?? 1,
    );
    this.verification = new Verifier({
      id: options.id,
      clock: options.clock,
      applier: options.applier,
      config: this.config,
      logger: this.logger,
      propose: (data, opts) => this.appendAndWait(opts, (p) => p.propose([data])),
      leadership: () => ({ leader: this.role === 'leader', term: this.protocol?.hardState().term ?? 0 }),
      applied: () => this.protocol?.log.applied ?? 0,
    });
    const store = options.snapshotStore;
    this.snapshots =
      store &&
      new SnapshotManager({
        id: options.id,
        store,
        clock: options.clock,
        send: (m) => options.transport.send([m]),
        logger: this.logger,
        chunkBytes: this.config.snapshotChunkBytes,
        chunkTimeoutMs: this.config.snapshotChunkTimeoutMs,
        protocol: () => this.protocol!,
        applier: options.applier,
        outcomes: this.feed.snapshotMarks(),
        logStore: options.logStore,
        settings: this.config,
        kick: () => this.kick(),
        step: (m) => this.receive(m),
      });
  }

  /**
   * Recovers durable state (term, vote, log) from the stores, then starts
   * ticking and listening. Entries up to the durable commit index are applied
   * again, rebuilding the state machine.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new RaftlineError(`node ${this.id} was already started`);
    this.state = 'starting';
    const { logStore, stableStore } = this.options;
    const hardState = await stableStore.load();
    const snapshot = await this.snapshots?.recover();
    const stored = await logStore.firstIndex();
    const first = Math.max(stored, (snapshot?.index ?? 0) + 1);
    const last = await logStore.lastIndex();
    // Entries the snapshot covers that the store still holds stay readable on the committed stream.
    const entries = last >= stored ? await logStore.entries(stored, last + 1) : [];
    if (snapshot) this.feed.skipTo(snapshot.index, entries.slice(0, Math.max(0, first - stored)));
    this.protocol = new RaftProtocol({
      id: this.id,
      voters: this.options.voters,
      config: this.protocolConfig,
      random: this.options.random,
      ...(hardState ? { hardState } : {}),
      entries: entries.slice(Math.max(0, first - stored)),
      applied: snapshot?.index ?? 0,
      ...(snapshot ? { snapshot } : {}),
    });
    this.state = 'running';
    await this.options.transport.listen((m) => this.receive(m));
    this.scheduleTick();
    this.logger.info({ node: this.id, term: hardState?.term ?? 0, lastIndex: last }, 'raft node started');
    this.kick();
  }

  /**
   * Proposes a command. Resolves with the handler's return value once the
   * command is applied on this node.
   * @throws CommandRejectedError / UnknownCommandError when validation refuses it (nothing replicated)
   * @throws PayloadTooLargeError when its entry exceeds maxCommandBytes or the
   *   transport's maxEntryBytes (nothing replicated)
   * @throws NotLeaderError on a follower (with the leader it knows of)
   * @throws LeadershipLostError, ProposalTimeoutError: outcome unknown, retry with the same session
   * @throws CommandFailedError when the handler threw while applying
   * @throws DivergedError on a leader that stopped applying (NodeConfig.divergenceAction)
   * @throws NodeStoppedError when the node is not running
   */
  propose(request: CommandRequest, options: ProposeOptions = {}): Promise<unknown> {
    return this.appendAndWait(options, (protocol) => {
      if (protocol.softState().role === 'leader') this.verification.assertApplying(); // a follower redirects
      this.options.applier.validate(request);
      const envelope: CommandEnvelope = { ...request, time: this.options.clock.now() };
      const data = encodeCommand(envelope);
      const { maxCommandBytes } = this.config;
      const carried = this.options.transport.maxEntryBytes ?? Infinity;
      if (data.byteLength > Math.min(maxCommandBytes, carried)) {
        throw carried < maxCommandBytes
          ? new PayloadTooLargeError('command', data.byteLength, carried, "the transport's maxEntryBytes")
          : new PayloadTooLargeError('command', data.byteLength, maxCommandBytes, 'maxCommandBytes');
      }
      return protocol.propose([data]);
    });
  }

  /**
   * Changes the membership (§6, thesis ch. 4) and resolves once the change is
   * applied here, after joint consensus has been left when one was needed.
   * One change at a time; run it on the leader.
   * @returns the new membership
   * @throws NotLeaderError, MembershipChangeError (another change runs, or the change is invalid),
   *   LeadershipLostError / ProposalTimeoutError (outcome unknown: read status().members)
   */
  async changeMembership(
    changes: readonly MembershipChange[],
    options: ProposeOptions = {},
  ): Promise<Membership> {
    await this.appendAndWait(options, (protocol) => protocol.proposeMembership(changes));
    for (let waited = 0; this.protocol!.members().outgoing.length > 0; waited += this.config.tickMs) {
      if (waited > (options.timeoutMs ?? this.config.proposalTimeoutMs) || this.state !== 'running') break;
      await this.sleep(this.config.tickMs);
    }
    return this.protocol!.members();
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
  async addVoter(id: NodeId, options: ProposeOptions & { maxLag?: number } = {}): Promise<Membership> {
    const timeoutMs = options.timeoutMs ?? this.config.proposalTimeoutMs;
    const maxLag = options.maxLag ?? this.config.maxEntriesPerMessage;
    if (!this.protocol?.members().learners.includes(id)) await this.addLearner(id, options);
    for (let waited = 0; ; waited += this.config.tickMs) {
      const s = this.status();
      const match = s.followers?.[id]?.match ?? 0;
      if (s.role === 'leader' && match + maxLag >= s.lastIndex) break;
      if (s.role !== 'leader') throw new NotLeaderError(this.id, s.leaderId);
      if (waited > timeoutMs) throw new ProposalTimeoutError(timeoutMs);
      await this.sleep(this.config.tickMs);
    }
    return this.promote(id, options);
  }

  /**
   * Appends through `append` (a protocol proposal) and resolves when the
   * entry is applied here. Every failure is a rejection, never a throw.
   */
  private appendAndWait(
    options: ProposeOptions,
    append: (protocol: RaftProtocol) => Proposed,
  ): Promise<unknown> {
    let firstIndex: number;
    let term: number;
    try {
      ({ firstIndex, term } = append(this.running()));
    } catch (err) {
      if (err instanceof LeadershipTransferError)
        return this.afterTransfer(() => this.appendAndWait(options, append));
      return Promise.reject(err); // one error channel: every failure is a rejection
    }
    const timeoutMs = options.timeoutMs ?? this.config.proposalTimeoutMs;
    const result = new Promise<unknown>((resolve, reject) => {
      const cancelTimer = this.options.clock.setTimeout(() => {
        if (this.pending.delete(firstIndex)) reject(new ProposalTimeoutError(timeoutMs));
      }, timeoutMs);
      this.pending.set(firstIndex, { term, resolve, reject, cancelTimer });
    });
    this.kick();
    return result;
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
      const context = `${this.id}/${this.readNonce}/${++this.readSeq}`;
      if (!protocol.readIndex(context, consistency === 'lease' ? 'lease' : 'safe')) {
        throw new ReadNotConfirmedError(this.id, 'no leader is known');
      }
      const timeoutMs = options.timeoutMs ?? this.config.proposalTimeoutMs;
      const result = new Promise<QueryResult>((resolve, reject) => {
        const cancelTimer = this.options.clock.setTimeout(() => {
          if (this.reads.delete(context)) {
            reject(new ReadNotConfirmedError(this.id, `not confirmed within ${timeoutMs} ms`));
          }
        }, timeoutMs);
        this.reads.set(context, { name, args, index: undefined, resolve, reject, cancelTimer });
      });
      this.kick();
      return result;
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
    const protocol = this.running();
    protocol.transferLeader(to);
    this.kick();
    await new Promise<void>((resolve) => this.transferWaiters.push(resolve));
    if (protocol.softState().role === 'leader') {
      throw new LeadershipTransferError(this.id, to ?? 'the most up-to-date voter');
    }
    for (let waited = 0; this.leaderId === NONE || this.leaderId === this.id; waited += this.config.tickMs) {
      if (waited > 2 * this.config.electionTimeoutMs || this.state !== 'running') break;
      await this.sleep(this.config.tickMs);
    }
    return this.leaderId === this.id ? NONE : this.leaderId;
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

  status(): NodeStatus {
    const p = this.protocol;
    if (!p) throw new NodeStoppedError(this.id);
    const s = p.status();
    return {
      id: this.id,
      role: s.role,
      term: s.term,
      leaderId: s.leaderId,
      commitIndex: s.commitIndex,
      appliedIndex: this.verification.appliedIndex(),
      lastIndex: s.lastIndex,
      snapshotIndex: this.snapshots?.index ?? 0,
      members: p.members(),
      ...(s.leadTransferee !== NONE ? { leadTransferee: s.leadTransferee } : {}),
      ...(s.progress ? { followers: s.progress } : {}),
      ...(this.storageError ? { storageError: this.storageError } : {}),
      droppedMessages: this.droppedMessages,
      verification: this.verification.status(),
    };
  }

  /** Whether this node currently believes it is the leader. */
  isLeader(): boolean {
    return this.state === 'running' && this.protocol?.softState().role === 'leader';
  }

  /**
   * Calls listener on every role or leader change this node sees, until the
   * returned function is called.
   */
  onRoleChange(listener: (change: { role: Role; leaderId: NodeId; term: number }) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
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
    await this.options.transport.close();
    // Settle callers first: a store write that never completes must not keep them waiting.
    this.failPending(() => new NodeStoppedError(this.id));
    this.failReads('node stopped', true);
    let cancelWait: Cancel = () => {};
    const settled = await Promise.race([
      this.processing?.then(() => true) ?? Promise.resolve(true),
      new Promise<boolean>(
        (resolve) => (cancelWait = this.options.clock.setTimeout(() => resolve(false), STOP_WAIT_MS)),
      ),
    ]);
    cancelWait();
    if (!settled) this.logger.warn({ node: this.id }, 'stopped while a store write was still in flight');
    this.releaseTransferWaiters();
    this.snapshots?.stopSending();
    this.feed.close();
    this.verification.close();
    this.logger.info({ node: this.id }, 'raft node stopped');
  }

  // ------------------------------------------------------------ internals

  private running(): RaftProtocol {
    if (this.state !== 'running' || !this.protocol) throw new NodeStoppedError(this.id);
    return this.protocol;
  }

  private scheduleTick(): void {
    this.cancelTick = this.options.clock.setTimeout(() => {
      if (this.state !== 'running') return;
      this.protocol!.tick();
      this.maybeEndTransfer();
      this.kick();
      this.scheduleTick();
    }, this.config.tickMs);
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
      this.protocol!.step(m);
    } catch (err) {
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
    if (this.processing || this.state !== 'running') return;
    this.processing = this.readyLoop()
      .catch((err: unknown) => this.logger.error({ node: this.id, err }, 'ready loop failed'))
      .finally(() => {
        this.processing = undefined;
        if (this.state === 'running' && this.protocol?.hasReady()) this.kick();
      });
  }

  private async readyLoop(): Promise<void> {
    const p = this.protocol!;
    while (this.state === 'running') {
      // Compaction runs between Readies, so store writes never overlap.
      if (this.snapshots?.compactionDue()) {
        if (!(await this.retrying('log compaction', () => this.snapshots!.compactIfDue()))) return;
      }
      if (this.state !== 'running' || !p.hasReady()) return;
      const rd = p.ready();
      if (rd.softState) this.changeRole(rd.softState.role, rd.softState.leaderId, p.hardState().term);
      this.sendLeaderMessages(rd);
      const snap = rd.snapshot;
      if (snap && !(await this.retrying('snapshot install', () => this.snapshots!.install(snap)))) return;
      if (snap) {
        this.feed.skipTo(snap.index);
        this.verification.onSnapshotInstalled(snap.index);
      }
      const persisted = await this.retrying('storage write', () => this.persist(rd));
      if (!persisted) return; // stopped while retrying: nothing unpersisted is acknowledged
      if (rd.messages.length > 0) this.options.transport.send(rd.messages);
      this.apply(rd.committed);
      for (const rs of rd.readStates) {
        const read = this.reads.get(rs.context);
        if (read) read.index = rs.index;
      }
      p.advance(rd);
      // After advance(): config entries of this Ready are applied too, so the snapshot's membership matches its index.
      if (!this.verification.stoppedApplying) this.snapshots?.maybeCreate(p.log.applied);
      this.serveReads();
      this.maybeEndTransfer();
      this.verification.afterReady();
    }
  }

  /** Sends what may go before persisting; snapshot requests become a chunked transfer instead. */
  private sendLeaderMessages(rd: Ready): void {
    const out: Message[] = [];
    for (const m of rd.leaderMessages) {
      if (m.type === 'snapshot') this.snapshots?.send(m);
      else out.push(m);
    }
    if (out.length > 0) this.options.transport.send(out);
  }

  /** Makes the Ready's hard state and entries durable. */
  private async persist(rd: Ready): Promise<void> {
    if (rd.entries.length === 0 && !rd.hardState) return;
    await Promise.all([
      rd.entries.length > 0 ? this.options.logStore.append(rd.entries) : undefined,
      rd.hardState ? this.options.stableStore.save(rd.hardState) : undefined,
    ]);
  }

  /**
   * Runs a storage step, retrying with backoff until it succeeds (the error
   * shows in status() meanwhile). Returns false if the node stopped first:
   * nothing that is not durable is ever acknowledged.
   */
  private async retrying(what: string, step: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        if (this.storageError) this.logger.info({ node: this.id }, 'storage recovered');
        this.storageError = undefined;
        return true;
      } catch (err) {
        this.storageError = `${what}: ${err instanceof Error ? err.message : String(err)}`;
        this.logger.error({ node: this.id, err, attempt }, `${what} failed; retrying`);
        if (this.state !== 'running') return false;
        await this.sleep(Math.min(MAX_BACKOFF_MS, 10 * 2 ** attempt));
        if (this.state !== 'running') return false;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.clock.setTimeout(resolve, ms));
  }

  private apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      const verification = this.verification.intercept(e);
      if (verification?.applied === false) {
        this.settle(e, verification.outcome); // stopped at a divergence: the state stays as it was
        continue;
      }
      let outcome = verification?.outcome;
      let command: CommandEnvelope | undefined;
      if (!verification && e.type === 'normal') {
        try {
          command = decodeCommand(e.data);
          outcome = this.options.applier.apply(command, { index: e.index, term: e.term, time: command.time });
        } catch (err) {
          outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
        }
      }
      this.settle(e, outcome);
      this.feed.push(e, command, outcome);
      this.snapshots?.afterApply(e.data.byteLength);
    }
  }

  /** Resolves the proposal that produced entry e, if it was proposed here in the same term. */
  private settle(e: Entry, outcome: ApplyResult | undefined): void {
    const pending = this.pending.get(e.index);
    if (!pending) return;
    this.pending.delete(e.index);
    pending.cancelTimer();
    if (pending.term !== e.term) pending.reject(new LeadershipLostError(e.index));
    else if (!outcome) pending.resolve(undefined);
    else if (outcome.ok) pending.resolve(outcome.value);
    else pending.reject(outcome.error);
  }

  private changeRole(role: Role, leaderId: NodeId, term: number): void {
    const wasLeader = this.role === 'leader';
    if (leaderId !== this.leaderId) this.failReads(`leadership changed (now ${leaderId || 'none'})`, false);
    this.role = role;
    this.leaderId = leaderId;
    this.logger.info({ node: this.id, role, leaderId, term }, 'role changed');
    if (wasLeader && role !== 'leader') {
      for (const index of [...this.pending.keys()]) {
        const pending = this.pending.get(index)!;
        this.pending.delete(index);
        pending.cancelTimer();
        pending.reject(new LeadershipLostError(index));
      }
    }
    if (role !== 'leader') this.snapshots?.stopSending();
    for (const listener of this.roleListeners) {
      try {
        listener({ role, leaderId, term });
      } catch (err) {
        this.logger.warn({ node: this.id, err }, 'role-change listener threw');
      }
    }
    this.options.applier.onRoleChange?.(role, leaderId, term);
  }

  /** Runs every read whose read index this replica has applied. */
  private serveReads(): void {
    const applied = this.protocol!.log.applied;
    for (const [context, read] of this.reads) {
      if (read.index === undefined || read.index > applied) continue;
      this.reads.delete(context);
      read.cancelTimer();
      try {
        read.resolve(this.queryLocal(read.name, read.args));
      } catch (err) {
        read.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Fails reads whose confirmation may never come (all of them when `all`, e.g. on stop). */
  private failReads(reason: string, all: boolean): void {
    for (const [context, read] of this.reads) {
      if (read.index !== undefined && !all) continue; // confirmed: it only waits for apply
      this.reads.delete(context);
      read.cancelTimer();
      read.reject(new ReadNotConfirmedError(this.id, reason));
    }
  }

  /**
   * Holds fn until the running leadership transfer ends and a leader is known
   * again, then runs it. Fix: a transfer ends on the old leader when the
   * target's vote request deposes it, before the target has won, so running fn
   * at once failed held proposals with a NotLeaderError naming no leader.
   */
  private afterTransfer<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => this.transferWaiters.push(resolve))
      .then(() => this.awaitKnownLeader())
      .then(fn);
  }

  /** Waits, at most two election timeouts, until some leader is known (this node or another). */
  private async awaitKnownLeader(): Promise<void> {
    for (let waited = 0; this.leaderId === NONE; waited += this.config.tickMs) {
      if (waited > 2 * this.config.electionTimeoutMs || this.state !== 'running') return;
      await this.sleep(this.config.tickMs);
    }
  }

  private maybeEndTransfer(): void {
    if (this.transferWaiters.length === 0) return;
    if (this.protocol!.status().leadTransferee === NONE) this.releaseTransferWaiters();
  }

  private releaseTransferWaiters(): void {
    const waiters = this.transferWaiters;
    this.transferWaiters = [];
    for (const w of waiters) w();
  }

  private failPending(error: () => Error): void {
    for (const pending of this.pending.values()) {
      pending.cancelTimer();
      pending.reject(error());
    }
    this.pending.clear();
  }

  private readLog(lo: number, hi: number): Entry[] {
    return this.protocol?.log.slice(lo, hi) ?? [];
  }
}
