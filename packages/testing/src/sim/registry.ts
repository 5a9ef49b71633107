import type { Membership, NodeId } from '@raftline/core';
import { SimNode, type SimNodeContext } from './sim-node';

/** Node ids in name order, numbers by value: n2 before n10. */
function sortIds(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * The nodes of a SimCluster: every node ever started (members or not), and
 * the newest committed configuration seen applied on any of them.
 */
export class NodeRegistry {
  private readonly slots = new Map<NodeId, SimNode>();
  /** The newest configuration seen applied, and the applied index it was seen at. */
  private config: { readonly appliedIndex: number; readonly members: Membership };

  /** Creates (without starting) the bootstrap nodes, each configured with all of `initial` as voters. */
  constructor(
    private readonly ctx: SimNodeContext,
    initial: readonly NodeId[],
  ) {
    this.config = { appliedIndex: 0, members: { voters: [...initial], outgoing: [], learners: [] } };
    for (const id of initial) this.slots.set(id, new SimNode(id, ctx, initial));
  }

  /** @returns node id @throws RangeError when no node of that name was ever created */
  get(id: NodeId): SimNode {
    const s = this.slots.get(id);
    if (!s) throw new RangeError(`no node ${id} (the nodes are ${this.allIds().join(', ')})`);
    return s;
  }

  /** Creates (without starting) a node that joins with no configuration. @throws RangeError when id exists */
  createJoiner(id: NodeId): SimNode {
    if (this.slots.has(id)) throw new RangeError(`a node named ${id} was already started`);
    const slot = new SimNode(id, this.ctx, []);
    this.slots.set(id, slot);
    return slot;
  }

  /** Every node, in creation order. */
  all(): SimNode[] {
    return [...this.slots.values()];
  }

  /** Every node's id, in name order. */
  allIds(): NodeId[] {
    return sortIds([...this.slots.keys()]);
  }

  /** The members of the newest configuration (see members()), in name order. */
  memberIds(): NodeId[] {
    const m = this.members();
    return sortIds([...new Set([...m.voters, ...m.outgoing, ...m.learners])]);
  }

  /**
   * The newest committed configuration any node has applied (nodes apply a
   * configuration when its entry commits, so the running node that applied
   * most holds the newest one; one seen earlier is kept while that node is down).
   */
  members(): Membership {
    for (const slot of this.slots.values()) {
      const node = slot.current?.node;
      if (!node) continue;
      const s = node.status();
      if (s.appliedIndex > this.config.appliedIndex)
        this.config = { appliedIndex: s.appliedIndex, members: s.members };
    }
    return this.config.members;
  }
}
