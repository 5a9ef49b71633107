import {
  MachineHost,
  NodeStoppedError,
  ProposalTimeoutError,
  MemoryLogStore,
  MemoryStableStore,
  RaftNode,
  type Applier,
  type Clock,
  type CommandRequest,
  type Logger,
  type NodeConfig,
  type NodeId,
  type RandomSource,
  type ReplicatedStateMachine,
} from '@raftline/core';
import {
  healthLogger,
  incarnationClock,
  incarnationLogStore,
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
  readonly voters: readonly NodeId[];
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
  readonly applied: AppliedRecord = { commands: new Map(), keys: new Map() };
  private incarnation: Incarnation | undefined;

  constructor(
    readonly id: NodeId,
    private readonly ctx: SimNodeContext,
  ) {}

  /** The running incarnation, or undefined while crashed. */
  get current(): Incarnation | undefined {
    return this.incarnation;
  }

  /** Starts a new incarnation on the durable stores, with a fresh state machine (crashing the running one first). */
  async start(): Promise<void> {
    this.crash();
    const { ctx, id } = this;
    const life = newLife();
    const clock = incarnationClock(ctx.clock, life);
    const [lo, hi] = ctx.storageLatencyMs;
    const rng = ctx.random();
    const write = writer(life, clock, () => (hi > 0 ? lo + rng.nextInt(hi - lo + 1) : 0));
    const machine = ctx.stateMachine();
    const applier = recordingApplier(
      id,
      new MachineHost(machine),
      life,
      this.applied,
      ctx.monitor,
      () => this.log,
    );
    const node = new RaftNode({
      id,
      voters: ctx.voters,
      logStore: incarnationLogStore(this.log, write),
      stableStore: incarnationStableStore(this.stable, write),
      transport: ctx.network.transport(id, { alive: () => !life.dead }),
      clock,
      random: ctx.random(),
      applier,
      config: ctx.config,
      logger: healthLogger(id, life, ctx.monitor, ctx.logger),
    });
    this.incarnation = { life, node, machine, applier };
    await node.start();
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
    const inc = this.incarnation;
    if (!inc) return Promise.reject(new NodeStoppedError(this.id));
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        cancel();
        inc.life.onDeath.delete(onDeath);
        f();
      };
      const onDeath = (): void => settle(() => reject(new NodeStoppedError(this.id)));
      const cancel = clock.setTimeout(
        () => settle(() => reject(new ProposalTimeoutError(timeoutMs))),
        timeoutMs,
      );
      inc.life.onDeath.add(onDeath);
      inc.node.propose(request, { timeoutMs }).then(
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
    // Releases what the node holds; nothing is written (its writes never complete). Clients
    // learn of the crash through onDeath, as they would see their connection drop.
    inc.node.stop().catch(() => undefined);
  }

  /** What the safety monitor reads of this node. */
  view(): NodeView {
    const node = this.incarnation?.node;
    if (!node) return { id: this.id, log: this.log, stable: this.stable };
    const st = node.status();
    return { id: this.id, log: this.log, stable: this.stable, live: { role: st.role, term: st.term } };
  }
}
