import {
  MembershipChangeError,
  NodeStoppedError,
  ProposalTimeoutError,
  pack,
  seededRandom,
  type CommandRequest,
  type Membership,
  type MemoryLogStore,
  type MemorySnapshotStore,
  type MemoryStableStore,
  type NodeId,
  type NodeStatus,
  type QueryResult,
  type RaftNode,
  type RandomSource,
  type ReadConsistency,
  type ReplicatedStateMachine,
} from '@raftline/core';
import { changeMembers, transferLeadership, type AdminHost, type MembershipOptions } from './admin';
import {
  SimClient,
  proposeWithRetries,
  queryWithRetries,
  type ClientHost,
  type SimCommand,
  type SimProposeOptions,
  type SimQueryOptions,
} from './client';
import { KvMachine } from './kv-machine';
import {
  SimNetwork,
  type DropRule,
  type MessageMatcher,
  type NetworkStats,
  type UnreliableSettings,
} from './network';
import { resolveSimOptions, type ResolvedSimOptions, type SimClusterOptions } from './options';
import { SafetyMonitor } from './safety';
import { NodeRegistry } from './registry';
import { verifyCluster, type ClusterVerification, type VerifyHost } from './verify';
import type { SimNode, SimNodeContext } from './sim-node';
import { VirtualClock } from './virtual-clock';

/** addNode promotes a learner once its log is within this many entries of the leader's. */
const DEFAULT_MAX_LAG = 16;

/** What submit() returns, like the Raft paper's Start(). */
export interface SubmitResult {
  /** The log index the command will occupy if it commits; -1 when the node is not the leader. */
  readonly index: number;
  /** The node's current term. */
  readonly term: number;
  readonly isLeader: boolean;
}

/**
 * A whole Raft cluster in one process, on a virtual clock and a simulated
 * network with faults: partitions, disconnections, loss, delay, duplication,
 * reordering, crashes and restarts with durable state kept. Every random
 * choice derives from the seed, so a run replays exactly.
 *
 * Nothing moves unless virtual time is advanced: by advance(ms), or by
 * propose()/client().propose()/query()/sleep() and the membership and
 * transfer operations, which advance it themselves while nobody else does.
 *
 * Membership changes (addNode, removeNode, addLearner, promote) run through
 * the leader as RaftNode's do; `ids` follows the committed configuration. A
 * removed node keeps running (crash() it to retire it) and stays subject to
 * check().
 */
export class SimCluster implements ClientHost, AdminHost, VerifyHost {
  private readonly clock = new VirtualClock();
  private readonly network: SimNetwork;
  private readonly monitor: SafetyMonitor;
  private readonly nodes: NodeRegistry;
  private readonly clientRandom: RandomSource;
  private readonly clients = new Map<string, SimClient>();
  private nextCallId = 0;

  private constructor(
    private readonly options: ResolvedSimOptions,
    raw: SimClusterOptions,
  ) {
    // With slow writes, the log and the hard state land independently: a commit index may lead the log.
    this.monitor = new SafetyMonitor({ strictDurability: options.storageLatencyMs[1] === 0 });
    const random = seededRandom(options.seed);
    this.network = new SimNetwork(this.clock, random.fork(), options.latencyMs);
    this.clientRandom = random.fork();
    this.clock.onError = (err) => this.monitor.fail('node health', `a timer callback threw: ${String(err)}`);
    const ctx: SimNodeContext = {
      clock: this.clock,
      network: this.network,
      monitor: this.monitor,
      config: options.node,
      stateMachine: raw.stateMachine ?? ((): ReplicatedStateMachine => new KvMachine()),
      random: () => random.fork(),
      storageLatencyMs: options.storageLatencyMs,
      ...(raw.logger ? { logger: raw.logger } : {}),
    };
    const initial = Array.from({ length: options.nodes }, (_, k) => `n${k + 1}`);
    this.nodes = new NodeRegistry(ctx, initial);
  }

  /**
   * Builds and starts a cluster.
   * @throws ConfigError naming each invalid option
   */
  static async create(options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(resolveSimOptions(options), options);
    for (const id of cluster.ids) await cluster.drive(cluster.slot(id).start());
    return cluster;
  }

  /**
   * The current members (voters, joint-consensus outgoing voters and
   * learners), in name order: n1 … nN at first, then as the committed
   * configuration changes.
   */
  get ids(): readonly NodeId[] {
    return this.nodes.memberIds();
  }

  /** Every node ever started, removed ones included, in name order. */
  get allIds(): readonly NodeId[] {
    return this.nodes.allIds();
  }

  /** The newest committed configuration any node has applied (voters, outgoing voters while joint, learners). */
  members(): Membership {
    return this.nodes.members();
  }

  // ------------------------------------------------------------------ time

  /** The virtual time in ms. */
  now(): number {
    return this.clock.now();
  }

  /** Runs virtual time forward by ms: delivers messages, fires timers, applies. @throws NodeStoppedError after stop() */
  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  /** Waits ms of virtual time, advancing the clock while nobody else does. */
  sleep(ms: number): Promise<void> {
    return this.drive(this.wait(ms));
  }

  // ------------------------------------------------------------- commands

  /**
   * Starts agreement on command at node id and returns at once (the Raft
   * paper's Start()): no session, no retry, no waiting.
   * @throws CommandRejectedError / UnknownCommandError when the state machine refuses the command
   */
  submit(id: NodeId, command: SimCommand): SubmitResult {
    const slot = this.slot(id);
    const inc = slot.current;
    if (!inc) return { index: -1, term: slot.stable.loadSync()?.term ?? 0, isLeader: false };
    const request = { name: command.name, args: command.args };
    inc.applier.validate(request);
    const before = inc.node.status();
    if (before.role !== 'leader') return { index: -1, term: before.term, isLeader: false };
    inc.node.propose(request).catch(() => undefined);
    const after = inc.node.status();
    const accepted = after.lastIndex > before.lastIndex;
    return { index: accepted ? after.lastIndex : -1, term: after.term, isLeader: accepted };
  }

  /**
   * Runs command through the full client path, under a session of its own:
   * redirects, retries with the same session (so it applies at most once),
   * advancing virtual time while waiting.
   * @returns the command's result
   * @throws ProposalTimeoutError after timeoutMs (outcome unknown), or what the state machine reports
   */
  propose(command: SimCommand, options: SimProposeOptions = {}): Promise<unknown> {
    const session = { clientId: `call-${++this.nextCallId}`, seq: 1, ackedBelow: 1 };
    return this.drive(proposeWithRetries(this, command, session, options));
  }

  /** The client called name (created on first use), with its own session; see SimClient. */
  client(name: string): SimClient {
    let c = this.clients.get(name);
    if (!c) this.clients.set(name, (c = new SimClient(this, name)));
    return c;
  }

  /**
   * Runs a read-only query through the client path: the node asked (a
   * follower forwards to its leader) confirms the read as `consistency`
   * requires; on ReadNotConfirmedError or a crash the client asks another
   * node, advancing virtual time while waiting.
   * @returns the query's value
   * @throws ReadNotConfirmedError when no read was confirmed within timeoutMs
   * @throws UnknownCommandError for an unknown query; NodeStoppedError after stop()
   */
  query(name: string, args: readonly unknown[] = [], options: SimQueryOptions = {}): Promise<unknown> {
    return this.drive(queryWithRetries(this, name, args, options));
  }

  // ----------------------------------------------------------- membership

  /**
   * Starts a fresh node `id` (empty log, no configuration of its own) and
   * makes it a voter through the leader's addVoter: it joins as a learner,
   * catches up (from the log, or by snapshot when the log is compacted) and
   * is promoted once within maxLag entries (default 16). Retries through leader changes;
   * advances virtual time while waiting.
   * @returns the configuration with id as a voter
   * @throws RangeError when a node named id was ever started
   * @throws ProposalTimeoutError when it is not a voter within timeoutMs (it may become one later)
   */
  async addNode(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    await this.startFresh(id);
    const maxLag = options.maxLag ?? DEFAULT_MAX_LAG;
    return this.changeMembers(
      (m) => m.voters.includes(id) && m.outgoing.length === 0,
      (node, timeoutMs) => node.addVoter(id, { timeoutMs, maxLag }),
      options,
    );
  }

  /**
   * Adds id as a learner (starting a fresh node first if none named id was
   * ever started): it receives the log but never votes.
   * @returns the configuration with id as a learner
   * @throws ProposalTimeoutError when it is not a learner within timeoutMs
   */
  async addLearner(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    if (!this.nodes.allIds().includes(id)) await this.startFresh(id);
    return this.changeMembers(
      (m) => m.learners.includes(id),
      (node, timeoutMs) => node.addLearner(id, { timeoutMs }),
      options,
    );
  }

  /**
   * Makes member id a voter at once, caught up or not (RaftNode.promote;
   * addNode waits for it to catch up first).
   * @returns the configuration with id as a voter
   * @throws RangeError for a node never started; ProposalTimeoutError when not done within timeoutMs
   */
  async promote(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    this.slot(id);
    return this.changeMembers(
      (m) => m.voters.includes(id) && m.outgoing.length === 0,
      (node, timeoutMs) => node.promote(id, { timeoutMs }),
      options,
    );
  }

  /**
   * Removes id (voter or learner) from the configuration through the
   * leader; removing the leader makes it step down once the change commits.
   * The removed node keeps running: crash() it to retire it.
   * @returns the configuration without id
   * @throws RangeError for a node never started
   * @throws MembershipChangeError when id is the last voter
   * @throws ProposalTimeoutError when not done within timeoutMs (it may still happen later)
   */
  async removeNode(id: NodeId, options: MembershipOptions = {}): Promise<Membership> {
    this.slot(id);
    const m = this.members();
    if (m.voters.length === 1 && m.voters[0] === id && m.outgoing.length === 0)
      throw new MembershipChangeError(`cannot remove ${id}: it is the last voter`);
    const gone = (c: Membership): boolean =>
      !c.voters.includes(id) && !c.outgoing.includes(id) && !c.learners.includes(id);
    return this.changeMembers(gone, (node, timeoutMs) => node.removeNode(id, { timeoutMs }), options);
  }

  /**
   * Moves leadership to `to`, or to the most up-to-date other voter (thesis
   * §3.10), through the leader's transferLeadership; advances virtual time.
   * Proposals made meanwhile wait and then go to the new leader.
   * @returns the new leader
   * @throws LeadershipTransferError when the transfer did not finish in time (the old leader stays)
   * @throws ProposalTimeoutError when no leader was known within timeoutMs
   * @throws RaftlineError when `to` is not another voter
   */
  async transferLeadership(to?: NodeId, options: { readonly timeoutMs?: number } = {}): Promise<NodeId> {
    if (to !== undefined) this.slot(to);
    return this.drive(transferLeadership(this, to, options.timeoutMs ?? this.clientTimeoutMs));
  }

  /**
   * Checks that the running members hold the same state: RaftNode.verify()
   * at the leader (retried through leader changes), then each running
   * member's digest at the marker once it applied the report. Enable
   * periodic checks with `node: { verifyEveryEntries: N }`.
   * @returns the marker, the leader's digest, every member's, and who diverged or stayed behind
   * @throws ProposalTimeoutError when no verification succeeded within timeoutMs (default clientTimeoutMs)
   * @throws DivergedError when the leader itself stopped applying
   */
  verify(options: { readonly timeoutMs?: number } = {}): Promise<ClusterVerification> {
    return this.drive(verifyCluster(this, options.timeoutMs ?? this.clientTimeoutMs));
  }

  private changeMembers(
    done: (m: Membership) => boolean,
    change: (node: RaftNode, timeoutMs: number) => Promise<Membership>,
    options: MembershipOptions,
  ): Promise<Membership> {
    return this.drive(changeMembers(this, done, change, options.timeoutMs ?? this.clientTimeoutMs));
  }

  /** Creates and starts node id with empty stores and no configuration. @throws RangeError when id exists */
  private async startFresh(id: NodeId): Promise<void> {
    await this.drive(this.nodes.createJoiner(id).start());
  }

  // ---------------------------------------------------------- observation

  /** @returns id's status, as RaftNode.status() @throws NodeStoppedError while id is crashed */
  status(id: NodeId): NodeStatus {
    const node = this.slot(id).current?.node;
    if (!node) throw new NodeStoppedError(id);
    return node.status();
  }

  /** Whether id is running (not crashed). */
  isRunning(id: NodeId): boolean {
    return this.slot(id).current !== undefined;
  }

  /** @returns index → command of everything id has applied, across its restarts (live view; do not mutate) */
  applied(id: NodeId): ReadonlyMap<number, CommandRequest> {
    return this.slot(id).applied.commands;
  }

  /** @returns the nodes that have applied index (crashed ones included), and the command there */
  appliedBy(index: number): { nodes: NodeId[]; command: CommandRequest | undefined } {
    const nodes = this.allIds.filter((id) => this.slot(id).applied.commands.has(index));
    return {
      nodes,
      command: nodes.length > 0 ? this.slot(nodes[0]!).applied.commands.get(index) : undefined,
    };
  }

  /** @returns the running nodes (removed ones included) that believe they lead, in id order */
  leaders(): NodeId[] {
    return this.allIds.filter((id) => this.isRunning(id) && this.status(id).role === 'leader');
  }

  /** @returns the running node (among `among`, default every node) leading the highest term, if any */
  leader(among: readonly NodeId[] = this.allIds): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const id of among) {
      if (!this.isRunning(id)) continue;
      const s = this.status(id);
      if (s.role === 'leader' && (!best || s.term > best.term)) best = { id, term: s.term };
    }
    return best?.id;
  }

  /**
   * Advances time until a node among `among` leads.
   * @returns the leader's id
   * @throws Error when none leads within timeoutMs of virtual time
   */
  async waitForLeader(timeoutMs = 5000, among: readonly NodeId[] = this.allIds): Promise<NodeId> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const id = this.leader(among);
      if (id !== undefined) return id;
      if (this.now() >= deadline)
        throw new Error(`no leader among ${among.join(', ')} within ${timeoutMs} ms`);
      await this.advance(this.options.node.tickMs);
    }
  }

  /** @returns a replica's state machine (the current incarnation's) @throws NodeStoppedError while id is crashed */
  machine(id: NodeId): ReplicatedStateMachine {
    const inc = this.slot(id).current;
    if (!inc) throw new NodeStoppedError(id);
    return inc.machine;
  }

  /** The durable stores of id, kept across crashes. For tests of the checker: writing to them breaks the node. */
  stores(id: NodeId): {
    readonly log: MemoryLogStore;
    readonly stable: MemoryStableStore;
    readonly snapshots: MemorySnapshotStore;
  } {
    const s = this.slot(id);
    return { log: s.log, stable: s.stable, snapshots: s.snapshots.store };
  }

  /** Requests (vote, pre-vote, append, heartbeat) sent so far, including ones later lost. */
  rpcCount(): number {
    return this.network.stats().requests.count;
  }

  /** Encoded bytes of the requests sent so far. */
  rpcBytes(): number {
    return this.network.stats().requests.bytes;
  }

  /** Responses sent so far. */
  responseCount(): number {
    return this.network.stats().responses.count;
  }

  /** Encoded bytes of the responses sent so far. */
  responseBytes(): number {
    return this.network.stats().responses.bytes;
  }

  /** Every traffic counter: requests, responses, per type, delivered, dropped, duplicated. */
  networkStats(): NetworkStats {
    return this.network.stats();
  }

  /** Bytes of id's durable state: log entries (MemoryLogStore.byteSize), hard state, and the stored snapshot. */
  persistedBytes(id: NodeId): number {
    const s = this.slot(id);
    const hs = s.stable.loadSync();
    return s.log.byteSize() + (hs ? pack(hs).byteLength : 0) + s.snapshots.byteSize();
  }

  /**
   * Checks the safety properties over the whole run so far (see
   * SafetyProperty). Cheap enough to call after every step.
   * @throws SafetyViolationError naming the first violated property
   */
  check(): void {
    this.members(); // keep the configuration current even when nobody asks for ids
    this.monitor.check(this.nodes.all().map((s) => s.view()));
  }

  /** Every (term → leader) seen so far. */
  leaderHistory(): ReadonlyMap<number, NodeId> {
    return this.monitor.leaderHistory();
  }

  // --------------------------------------------------------------- faults

  /** Cuts id off from every other node, both ways. */
  disconnect(id: NodeId): void {
    this.network.disconnect(this.slot(id).id);
  }

  /** Whether id is connected (not disconnect()ed; partitions are not considered). */
  isConnected(id: NodeId): boolean {
    return !this.network.isDisconnected(this.slot(id).id);
  }

  /** Undoes disconnect(id). */
  connect(id: NodeId): void {
    this.network.connect(this.slot(id).id);
  }

  /** Splits the cluster: nodes in different groups cannot talk; a node listed in no group (removed ones too) is isolated. */
  partition(...groups: (readonly NodeId[])[]): void {
    for (const g of groups) for (const id of g) this.slot(id);
    this.network.partition(groups);
  }

  /** Removes every partition and disconnection (unreliable settings stay). */
  heal(): void {
    this.network.heal();
  }

  /** Turns message loss, extra delay, duplication and reordering on (or, with false, off). @throws ConfigError */
  setUnreliable(settings: UnreliableSettings | false): void {
    this.network.setUnreliable(settings);
  }

  /**
   * Loses the messages `match` picks (from now on; with `count`, only the
   * first count of them), independently of partitions and setUnreliable:
   * the way to lose one particular message, e.g. the first snapshot chunk to n3:
   * `c.dropWhere((m) => m.type === 'snapshot-chunk' && m.to === 'n3', { count: 1 })`.
   * See SimNetwork.dropWhere.
   * @returns the rule: how many it dropped, whether it is active, remove()
   * @throws RangeError for a count that is not a positive integer
   */
  dropWhere(match: MessageMatcher, options: { readonly count?: number } = {}): DropRule {
    return this.network.dropWhere(match, options);
  }

  /** Kills id at once: volatile state is lost, its durable stores are kept. No-op if it is down. */
  crash(id: NodeId): void {
    this.slot(id).crash();
  }

  /**
   * Starts a new incarnation of id on its durable stores, with a fresh state
   * machine (crashing it first if it runs), advancing time while it recovers.
   * @throws what RaftNode.start throws when the durable state cannot be recovered
   */
  async restart(id: NodeId): Promise<void> {
    await this.drive(this.slot(id).start());
  }

  /**
   * Stops the simulation: every node dies as in crash() (a write in flight
   * never lands), the clock stops, and pending client calls fail with
   * NodeStoppedError. advance() and new client calls throw afterwards.
   */
  async stop(): Promise<void> {
    if (this.clock.stopped) return;
    for (const slot of this.nodes.all()) slot.crash();
    this.clock.stop();
  }

  // ------------------------------------------------- ClientHost internals

  /** Whether stop() was called. */
  get stopped(): boolean {
    return this.clock.stopped;
  }

  /** ClientHost: the default overall timeout of a client call. */
  get clientTimeoutMs(): number {
    return this.options.clientTimeoutMs;
  }

  /** ClientHost: how long a client waits for one node before trying another (4 × the election timeout). */
  get attemptTimeoutMs(): number {
    return 4 * this.options.node.electionTimeoutMs;
  }

  /** ClientHost: the pause between attempts when no leader is known (one tick). */
  get retryDelayMs(): number {
    return this.options.node.tickMs;
  }

  /** @returns the running members, in id order */
  runningIds(): NodeId[] {
    return this.ids.filter((id) => this.slot(id).current !== undefined);
  }

  /** ClientHost: one request to node id; see SimNode.call. */
  call(id: NodeId, request: CommandRequest, timeoutMs: number): Promise<unknown> {
    return this.slot(id).call(request, timeoutMs, this.clock);
  }

  /** ClientHost: one query to node id; see SimNode.query. */
  callQuery(
    id: NodeId,
    name: string,
    args: readonly unknown[],
    consistency: ReadConsistency,
    timeoutMs: number,
  ): Promise<QueryResult> {
    return this.slot(id).query(name, args, consistency, timeoutMs, this.clock);
  }

  /** AdminHost: runs work on id's running RaftNode; see SimNode.run. */
  onNode<T>(id: NodeId, work: (node: RaftNode) => Promise<T>, timeoutMs: number): Promise<T> {
    return this.slot(id).run(work, timeoutMs, this.clock, () => new ProposalTimeoutError(timeoutMs));
  }

  /** ClientHost: @returns one of ids, drawn from the cluster's client randomness @throws RangeError for no ids */
  pick(ids: readonly NodeId[]): NodeId {
    const id = ids[this.clientRandom.nextInt(ids.length)];
    if (id === undefined) throw new RangeError('pick: no ids');
    return id;
  }

  /** ClientHost: waits ms of virtual time without driving the clock; resolves at once once stopped. */
  wait(ms: number): Promise<void> {
    return this.clock.wait(ms);
  }

  /** ClientHost: settles as work does, advancing the clock a tick at a time while nobody else does. */
  drive<T>(work: Promise<T>): Promise<T> {
    return this.clock.drive(work, this.options.node.tickMs);
  }

  // ------------------------------------------------------------ assembly

  private slot(id: NodeId): SimNode {
    return this.nodes.get(id);
  }
}
