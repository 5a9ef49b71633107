import {
  ProposalTimeoutError,
  seededRandom,
  type CommandRequest,
  type Membership,
  type NodeId,
  type QueryResult,
  type RaftNode,
  type RandomSource,
  type ReadConsistency,
  type ReplicatedStateMachine,
} from '@raftline/core';
import type { ClientHost } from './client';
import { KvMachine } from './kv-machine';
import { SimNetwork } from './network';
import type { ResolvedSimOptions, SimClusterOptions } from './options';
import { NodeRegistry } from './registry';
import { SafetyMonitor } from './safety';
import type { SimNode, SimNodeContext } from './sim-node';
import { VirtualClock } from './virtual-clock';

/**
 * The ground floor of SimCluster: its virtual clock, network, safety
 * monitor and nodes, the members, virtual time, and what the client and
 * admin operations call (ClientHost, AdminHost.onNode).
 *
 * SimCluster is one class built in layers, one file for each section of its
 * API: ClusterCore (cluster-core.ts) → ObservedCluster
 * (cluster-observation.ts) → FaultyCluster (cluster-faults.ts) →
 * ManagedCluster (cluster-membership.ts) → SimCluster (cluster.ts: creation
 * and commands). Only SimCluster is exported from the package.
 */
export abstract class ClusterCore implements ClientHost {
  protected readonly clock = new VirtualClock();
  protected readonly network: SimNetwork;
  protected readonly monitor: SafetyMonitor;
  protected readonly nodes: NodeRegistry;
  private readonly clientRandom: RandomSource;

  protected constructor(
    protected readonly options: ResolvedSimOptions,
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

  // ------------------------------------------------------- host internals

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

  /** @throws RangeError for a node never started */
  protected slot(id: NodeId): SimNode {
    return this.nodes.get(id);
  }
}
