import {
  NodeStoppedError,
  pack,
  type CommandRequest,
  type MemoryLogStore,
  type MemorySnapshotStore,
  type MemoryStableStore,
  type NodeId,
  type NodeStatus,
  type ReplicatedStateMachine,
} from '@raftline/core';
import { ClusterCore } from './cluster-core';
import type { NetworkStats } from './network';

/**
 * SimCluster's observation: node status, leaders, what each node applied,
 * its state machine and durable stores, traffic counters, and the safety
 * check over the whole run. A layer of SimCluster (see ClusterCore).
 */
export abstract class ObservedCluster extends ClusterCore {
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
}
