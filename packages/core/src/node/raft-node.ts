import { LeadershipLostError, NodeStoppedError, ProposalTimeoutError, RaftlineError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import type { Clock, Cancel } from '../ports/clock';
import type { LogStore } from '../ports/log-store';
import type { StableStore } from '../ports/stable-store';
import type { Transport } from '../ports/transport';
import { RaftProtocol } from '../protocol/raft';
import type { RandomSource } from '../protocol/random';
import type { Entry, FollowerProgress, Message, NodeId, Ready, Role } from '../protocol/types';
import type { Applier, ApplyResult } from './applier';
import { decodeCommand, encodeCommand, type CommandEnvelope, type CommandRequest } from './command';
import { resolveNodeConfig, type NodeConfig } from './config';
import { CommittedFeed, type CommittedEvent } from './committed-feed';

/** Everything a RaftNode is assembled from. */
export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Every voting member of the group, this node included. */
  readonly voters: readonly NodeId[];
  readonly logStore: LogStore;
  readonly stableStore: StableStore;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Spreads election timeouts; seed it for reproducible runs. */
  readonly random: RandomSource;
  /** The state machine behind the framework's bookkeeping. */
  readonly applier: Applier;
  readonly config?: Partial<NodeConfig>;
  readonly logger?: Logger;
}

/** Options of one proposal. */
export interface ProposeOptions {
  /** Overrides NodeConfig.proposalTimeoutMs. */
  readonly timeoutMs?: number;
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
  readonly members: { readonly voters: readonly NodeId[] };
  /** On the leader: each follower's match and next index. */
  readonly followers?: Readonly<Record<NodeId, FollowerProgress>>;
  /** The last storage error, while the node is retrying it. */
  readonly storageError?: string;
  /** Inbound messages dropped because they could not be handled. */
  readonly droppedMessages: number;
}

interface Pending {
  readonly term: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cancelTimer: Cancel;
}

const MAX_BACKOFF_MS = 1000;

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
  private readonly logger: Logger;
  private protocol: RaftProtocol | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly feed: CommittedFeed;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private processing: Promise<void> | undefined;
  private cancelTick: Cancel = () => {};
  private lastTime = 0;
  private storageError: string | undefined;
  private droppedMessages = 0;
  private role: Role = 'follower';

  /** @throws ConfigError when options.config is invalid */
  constructor(options: RaftNodeOptions) {
    this.options = options;
    this.id = options.id;
    this.config = resolveNodeConfig(options.config).node;
    this.logger = options.logger ?? silentLogger;
    this.feed = new CommittedFeed(this.config.streamResultWindow, (lo, hi) => this.readLog(lo, hi));
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
    const first = await logStore.firstIndex();
    const last = await logStore.lastIndex();
    const entries = last >= first ? await logStore.entries(first, last + 1) : [];
    const { protocol } = resolveNodeConfig(this.options.config);
    this.protocol = new RaftProtocol({
      id: this.id,
      voters: this.options.voters,
      config: protocol,
      random: this.options.random,
      ...(hardState ? { hardState } : {}),
      entries,
      applied: 0,
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
   * @throws NotLeaderError on a follower (with the leader it knows of)
   * @throws LeadershipLostError, ProposalTimeoutError: outcome unknown, retry with the same session
   * @throws CommandFailedError when the handler threw while applying
   * @throws NodeStoppedError when the node is not running
   */
  propose(request: CommandRequest, options: ProposeOptions = {}): Promise<unknown> {
    let firstIndex: number;
    let term: number;
    try {
      const protocol = this.running();
      this.options.applier.validate(request);
      const envelope: CommandEnvelope = { ...request, time: this.options.clock.now() };
      ({ firstIndex, term } = protocol.propose([encodeCommand(envelope)]));
    } catch (err) {
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
   * Runs a query against this replica's local state, as of its applied index
   * (may be stale on a follower or a deposed leader).
   * @throws UnknownCommandError for an unknown query name
   */
  queryLocal(name: string, args: readonly unknown[] = []): { value: unknown; appliedIndex: number } {
    const protocol = this.running();
    return { value: this.options.applier.query(name, args), appliedIndex: protocol.log.applied };
  }

  /**
   * The committed commands in log order, from fromIndex (default 1), as they
   * are applied here. Resumable from any index this node still retains; a
   * slow consumer only slows its own iteration (entries are read on demand).
   */
  committed(options: { fromIndex?: number } = {}): AsyncIterable<CommittedEvent> {
    return this.feed.iterate(options.fromIndex ?? 1);
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
      appliedIndex: s.appliedIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: 0,
      members: { voters: s.voters },
      ...(s.progress ? { followers: s.progress } : {}),
      ...(this.storageError ? { storageError: this.storageError } : {}),
      droppedMessages: this.droppedMessages,
    };
  }

  /** Whether this node currently believes it is the leader. */
  isLeader(): boolean {
    return this.protocol?.status().role === 'leader';
  }

  /**
   * Stops timers and the transport, waits for the Ready loop to finish its
   * current step, and fails pending proposals with NodeStoppedError. The
   * stores are left open: their owner closes them.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.cancelTick();
    await this.options.transport.close();
    await this.processing;
    this.failPending(() => new NodeStoppedError(this.id));
    this.feed.close();
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
      this.kick();
      this.scheduleTick();
    }, this.config.tickMs);
  }

  private receive(m: Message): void {
    if (this.state !== 'running') return;
    try {
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
    while (this.state === 'running' && p.hasReady()) {
      const rd = p.ready();
      if (rd.softState) this.changeRole(rd.softState.role, rd.softState.leaderId, p.status().term);
      if (rd.leaderMessages.length > 0) this.options.transport.send(rd.leaderMessages);
      const persisted = await this.persist(rd);
      if (!persisted) return; // stopped while retrying: nothing unpersisted is acknowledged
      if (rd.messages.length > 0) this.options.transport.send(rd.messages);
      this.apply(rd.committed);
      p.advance(rd);
    }
  }

  /** Makes the Ready's hard state and entries durable, retrying with backoff. Returns false if stopped meanwhile. */
  private async persist(rd: Ready): Promise<boolean> {
    if (rd.entries.length === 0 && !rd.hardState) return true;
    for (let attempt = 0; ; attempt++) {
      try {
        await Promise.all([
          rd.entries.length > 0 ? this.options.logStore.append(rd.entries) : undefined,
          rd.hardState ? this.options.stableStore.save(rd.hardState) : undefined,
        ]);
        if (this.storageError) this.logger.info({ node: this.id }, 'storage recovered');
        this.storageError = undefined;
        return true;
      } catch (err) {
        this.storageError = err instanceof Error ? err.message : String(err);
        this.logger.error({ node: this.id, err, attempt }, 'storage write failed; retrying');
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
      let outcome: ApplyResult | undefined;
      let command: CommandEnvelope | undefined;
      if (e.type === 'normal') {
        try {
          command = decodeCommand(e.data);
          this.lastTime = Math.max(this.lastTime, command.time);
          outcome = this.options.applier.apply(command, {
            index: e.index,
            term: e.term,
            time: this.lastTime,
          });
        } catch (err) {
          outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
        }
      }
      this.settle(e, outcome);
      this.feed.push(e, command, outcome);
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
    this.role = role;
    this.logger.info({ node: this.id, role, leaderId, term }, 'role changed');
    if (wasLeader && role !== 'leader') {
      for (const index of [...this.pending.keys()]) {
        const pending = this.pending.get(index)!;
        this.pending.delete(index);
        pending.cancelTimer();
        pending.reject(new LeadershipLostError(index));
      }
    }
    this.options.applier.onRoleChange?.(role, leaderId, term);
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
