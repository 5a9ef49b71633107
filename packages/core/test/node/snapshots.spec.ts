import {
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  type Message,
  type Transport,
} from '../../src/index';
import { crc32 } from '../../src/node/snapshot-transfer';
import { kvNode, until } from '../support/nodes';
import { KvMachine } from '../state-machine/kv-machine';

const ids = ['n1', 'n2', 'n3'];

/** MemoryNetwork with a switch to cut a node off, and a count of snapshot chunks. */
class CuttableNetwork {
  private readonly net = new MemoryNetwork();
  readonly cut = new Set<string>();
  chunks = 0;
  transport(id: string): Transport {
    const inner = this.net.transport(id);
    return {
      send: (messages: readonly Message[]) => {
        if (this.cut.has(id)) return;
        const out = messages.filter((m) => !this.cut.has(m.to));
        this.chunks += out.filter((m) => m.type === 'snapshot-chunk').length;
        inner.send(out);
      },
      listen: (h) => inner.listen(h),
      close: () => inner.close(),
    };
  }
}

interface Stores {
  log: MemoryLogStore;
  stable: MemoryStableStore;
  snaps: MemorySnapshotStore;
}

function node(id: string, net: CuttableNetwork, stores: Stores, seed: number) {
  const { node: n, host } = kvNode(id, {
    voters: ids,
    transport: net.transport(id),
    seed,
    logStore: stores.log,
    stableStore: stores.stable,
    snapshotStore: stores.snaps,
    config: { snapshotEntries: 20, snapshotTrailingEntries: 5, snapshotChunkBytes: 64 }, // many chunks
  });
  return { n, host };
}

describe('§7 snapshots and log compaction - RaftNode', () => {
  it('crc32 matches the IEEE reference value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('compacts the log, catches a lagging follower up by a chunked snapshot, and restarts from snapshot + tail', async () => {
    const net = new CuttableNetwork();
    const stores = new Map(
      ids.map((id) => [
        id,
        { log: new MemoryLogStore(), stable: new MemoryStableStore(), snaps: new MemorySnapshotStore() },
      ]),
    );
    let nodes = ids.map((id, k) => node(id, net, stores.get(id)!, k + 1));
    await Promise.all(nodes.map((x) => x.n.start()));
    try {
      await until(() => nodes.some((x) => x.n.isLeader()), 'a leader');
      const leader = nodes.find((x) => x.n.isLeader())!;
      const lagging = nodes.find((x) => x !== leader)!;
      net.cut.add(lagging.n.id);
      for (let i = 0; i < 100; i++) await leader.n.propose({ name: 'put', args: [`k${i % 7}`, `v${i}`] });
      await until(() => leader.n.status().snapshotIndex >= 80, 'a leader snapshot');
      const leaderLog = stores.get(leader.n.id)!.log;
      expect(await leaderLog.firstIndex()).toBeGreaterThan(50); // compacted behind the snapshot

      net.cut.clear();
      const target = leader.n.status().commitIndex;
      await until(() => lagging.n.status().appliedIndex >= target, 'the lagging follower to catch up');
      expect(lagging.n.status().snapshotIndex).toBeGreaterThan(0);
      expect(net.chunks).toBeGreaterThan(1);
      expect(lagging.host.snapshot()).toEqual(leader.host.snapshot());

      // Everyone restarts from snapshot + log tail and keeps the same state.
      const before = leader.host.snapshot();
      await Promise.all(nodes.map((x) => x.n.stop()));
      nodes = ids.map((id, k) => node(id, net, stores.get(id)!, k + 10));
      await Promise.all(nodes.map((x) => x.n.start()));
      await until(() => nodes.some((x) => x.n.isLeader()), 'a leader after restart');
      const again = nodes.find((x) => x.n.isLeader())!;
      expect(await again.n.propose({ name: 'put', args: ['after', 'restart'] })).toBeUndefined();
      const kv = (x: { host: MachineHost }) => (x.host.machine as KvMachine).entries;
      await until(
        () => nodes.every((x) => kv(x).get('after') === 'restart'),
        'the post-restart write everywhere',
      );
      for (let i = 0; i < 7; i++) expect(kv(again).get(`k${i}`)).toBe(kv(nodes[0]!).get(`k${i}`));
      expect(before.byteLength).toBeGreaterThan(0);
    } finally {
      await Promise.all(nodes.map((x) => x.n.stop()));
    }
  });
});
