import {
  MachineHost,
  NodeStoppedError,
  ProposalTimeoutError,
  ReadNotConfirmedError,
  MemoryLogStore,
  MemoryStableStore,
  RaftNode,
  type Applier,
  type Clock,
  type CommandRequest,
  type Logger,
  type NodeConfig,
  type NodeId,
  type QueryResult,
  type RandomSource,
  type ReadConsistency,
  type ReplicatedStateMachine,
} from '@raftline/core';
import {
  SnapshotDisk,
  healthLogger,
  incarnationClock,
  incarnationLogStore,
  incarnationSnapshotStore,
  incarnationStableStore,
  kill,
  newLife,
  recordingApplier,
  writer,
  type AppliedRecord,
  type Life,
} from './incarnation';
import type { SimNetwork } from './network';
import type { NodeView, SafetyMonitor } from './safety';

/** What every node of a cluster is assembled with. */
export interface SimNodeContext {
  readonly clock: Clock;
  readonly network: SimNetwork;
  readonly monitor: SafetyMonitor;
  readonly config: NodeConfig;
  readonly stateMachine: () => ReplicatedStateMachine;
  /** Supplies each new incarnation's random sources. */
  readonly random: () => RandomSource;
  /** Each store write takes a time drawn from [min, max] virtual ms ([0, 0]: writes complete at once). */
  readonly storageLatencyMs: readonly [number, number];
  readonly logger?: Logger;
}

/** One running incarnation of a node. */
export interface Incarnation {
  readonly life: Life;
  readonly node: RaftNode;
  readonly machine: ReplicatedStateMachine;
  readonly applier: Applier;
}

/**
 * One simulated node: durable stores and the record of what it applied,
 * which outlive its incarnations, and the current incarnation if it runs.
 */
export class SimNode {
  readonly log = new MemoryLogStore();
  readonly stable = new MemoryStableStore();
  readonly snapshots = new SnapshotDisk();
  readonly applied: AppliedRecord = { commands: new Map(), keys: new Map() };
  private incarnation: Incarnation | undefined;
  /** Whether the incarnation finished starting (recovery done, status() available). */
  private started = false;

  constructor(
    readonly id: NodeId,
    private readonly ctx: SimNodeContext,
    /** The bootstrap configuration every incarnation starts with: the initial voters, or [] for a node that joins. */
    readonly voters: readonly NodeId[],
  ) {}

  /** The running incarnation, or undefined while crashed or still recovering. */
  get current(): Incarnation | undefined {
    return this.started ? this.incarnation : undefined;
  }

  /**
   * Starts a new incarnation on the durable stores, with a fresh state
   * machine (crashing the running one first). Recovery may take virtual
   * time (slow storage): someone must advance the clock meanwhile.
   * @throws what RaftNode.start throws (unrecoverable durable state)
   */
  async start(): Promise<void> {
    this.crash();
    const { ctx, id } = this;
    const life = newLife();
    const clock = incarnationClock(ctx.clock, life);
    const [lo, hi] = ctx.storageLatencyMs;
    const rng = ctx.random();
    const write = writer(life, clock, () => (hi > 0 ? lo + rng.nextInt(hi - lo + 1) : 0));
    const machine = ctx.stateMachine();
    const applier = recordingApplier(id, new MachineHost(machine), life, this.applied, ctx.monitor, () => ({
      log: this.log,
      snapshot: this.snapshots.latest(),
    }));
    const node = new RaftNode({
      id,
      voters: this.voters,
      logStore: incarnationLogStore(this.log, write),
      stableStore: incarnationStableStore(this.stable, write),
      snapshotStore: incarnationSnapshotStore(this.snapshots, write),
      transport: ctx.network.transport(id, { alive: () => !life.dead }),
      clock,
      random: ctx.random(),
      applier,
      config: ctx.config,
      logger: healthLogger(id, life, ctx.monitor, ctx.logger),
    });
    this.incarnation = { life, node, machine, applier };
    // Recovery may write (slowly, with storage latency); a crash meanwhile ends the wait.
    await new Promise<void>((resolve, reject) => {
      life.onDeath.add(resolve);
      node.start().then(
        () => {
          life.onDeath.delete(resolve);
          if (this.incarnation?.life === life) this.started = !life.dead;
          resolve();
        },
        (err: unknown) => {
          life.onDeath.delete(resolve);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /**
   * A client's request to this node: proposes request and waits for the
   * answer, at most timeoutMs (by the client's own timer, on `clock`).
   * @returns the command's result
   * @throws ProposalTimeoutError after timeoutMs; NodeStoppedError when the
   *   node is down or crashes meanwhile (a crashed node answers nothing)
   * @throws whatever RaftNode.propose rejects with
   */
  call(request: CommandRequest, timeoutMs: number, clock: Clock): Promise<unknown> {
    return this.run(
      (node) => node.propose(request, { timeoutMs }),
      timeoutMs,
      clock,
      () => new ProposalTimeoutError(timeoutMs),
    );
  }

  /**
   * A client's query to this node, at most timeoutMs (by `clock`).
   * @returns the value and the index it was read at
   * @throws ReadNotConfirmedError when the read was not confirmed in time;
   *   NodeStoppedError when the node is down or crashes meanwhile
   * @throws whatever RaftNode.query rejects with
   */
  query(
    name: string,
    args: readonly unknown[],
    consistency: ReadConsistency,
    timeoutMs: number,
    clock: Clock,
  ): Promise<QueryResult> {
    return this.run(
      (node) => node.query(name, args, { consistency, timeoutMs }),
      timeoutMs,
      clock,
      () => new ReadNotConfirmedError(this.id, `no answer within ${timeoutMs} ms`),
    );
  }

  /**
   * Runs work against the running incarnation, as a remote caller would: it
   * settles with work, or with timeout() after timeoutMs on `clock` (the
   * caller's timer, which outlives the node), or with NodeStoppedError when
   * the incarnation dies first (its own timers die with it, so work may never settle).
   * @returns what work resolves with
   * @throws NodeStoppedError when the node is down or dies meanwhile; timeout() after timeoutMs; what work rejects with
   */
  run<T>(
    work: (node: RaftNode) => Promise<T>,
    timeoutMs: number,
    clock: Clock,
    timeout: () => Error,
  ): Promise<T> {
    const inc = this.current;
    if (!inc) return Promise.reject(new NodeStoppedError(this.id));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        cancel();
        inc.life.onDeath.delete(onDeath);
        f();
      };
      const onDeath = (): void => settle(() => reject(new NodeStoppedError(this.id)));
      const cancel = clock.setTimeout(() => settle(() => reject(timeout())), timeoutMs);
      inc.life.onDeath.add(onDeath);
      let started: Promise<T>;
      try {
        started = work(inc.node);
      } catch (err) {
        started = Promise.reject(err);
      }
      started.then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }

  /** Kills the incarnation at once: timers, transport and store writes die with it. No-op while crashed. */
  crash(): void {
    const inc = this.incarnation;
    if (!inc) return;
    kill(inc.life);
    this.incarnation = undefined;
    this.started = false;
    // Releases what the node holds; nothing is written (its writes never complete). Clients
    // learn of the crash through onDeath, as they would see their connection drop.
    inc.node.stop().catch(() => undefined);
  }

  /** What the safety monitor reads of this node. */
  view(): NodeView {
    const node = this.current?.node;
    const durable = { id: this.id, log: this.log, stable: this.stable, snapshot: this.snapshots.latest() };
    if (!node) return durable;
    const st = node.status();
    return { ...durable, live: { role: st.role, term: st.term } };
  }
}
