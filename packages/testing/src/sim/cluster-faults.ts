import type { NodeId } from '@raftline/core';
import { ObservedCluster } from './cluster-observation';
import type { DropRule, MessageMatcher, UnreliableSettings } from './network';

/**
 * SimCluster's faults: disconnections, partitions, unreliable delivery,
 * dropping chosen messages, crashes, restarts and the end of the run. A
 * layer of SimCluster (see ClusterCore).
 */
export abstract class FaultyCluster extends ObservedCluster {
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
}
