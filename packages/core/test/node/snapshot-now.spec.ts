import {
  ConfigError,
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  NodeStoppedError,
  RaftNode,
  seededRandom,
  systemClock,
  type SnapshotStore,
} from '../../src/index';
import { KvMachine } from '../state-machine/kv-machine';
import { FAST, kvNode, until } from '../support/nodes';

describe('§7 snapshots on demand - RaftNode.snapshotNow', () => {
  it('snapshots the applied state at once, compacts the log behind it, and a restart recovers from it', async () => {
    const net = new MemoryNetwork();
    const store = new MemorySnapshotStore();
    const logStore = new MemoryLogStore();
    const stableStore = new MemoryStableStore();
    // snapshotEntries 0: no automatic snapshot, so any snapshot here is snapshotNow's.
    const config = { snapshotEntries: 0, snapshotTrailingEntries: 2 };
    const a = kvNode('a', {
      voters: ['a'],
      transport: net.transport('a'),
      seed: 1,
      snapshotStore: store,
      logStore,
      stableStore,
      config,
    });
    await a.node.start();
    try {
      await until(() => a.node.isLeader(), 'a to lead');
      for (let i = 0; i < 10; i++) await a.node.propose({ name: 'put', args: [`k${i}`, `v${i}`] });
      const applied = a.node.status().appliedIndex;
      expect(a.node.status().snapshotIndex).toBe(0);

      const index = await a.node.snapshotNow();
      expect(index).toBe(applied);
      expect(a.node.status().snapshotIndex).toBe(applied);
      expect((await store.latest())?.index).toBe(applied);
      await until(() => a.node.status().snapshotIndex === applied, 'the snapshot to show');
      // Compaction keeps snapshotTrailingEntries behind the snapshot.
      let first = 0;
      await until(() => {
        void logStore.firstIndex().then((f) => (first = f));
        return first === applied - 1;
      }, 'the log to be compacted');

      // Nothing applied since: no second snapshot, the same index again.
      expect(await a.node.snapshotNow()).toBe(applied);
    } finally {
      await a.node.stop();
    }

    const again = kvNode('a', {
      voters: ['a'],
      transport: net.transport('a'),
      seed: 1,
      snapshotStore: store,
      logStore,
      stableStore,
      config,
    });
    await again.node.start();
    try {
      expect(again.node.status().snapshotIndex).toBeGreaterThan(0);
      await until(
        () => again.kv().get('k0') === 'v0' && again.kv().get('k9') === 'v9',
        'the restarted node to hold the state',
      );
    } finally {
      await again.node.stop();
    }
  });

  it('refuses without a snapshot store (ConfigError) and once stopped (NodeStoppedError)', async () => {
    const net = new MemoryNetwork();
    const node = new RaftNode({
      id: 'solo',
      voters: ['solo'],
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: net.transport('solo'),
      clock: systemClock,
      random: seededRandom(3),
      applier: new MachineHost(new KvMachine()),
      config: FAST,
    });
    await expect(node.snapshotNow()).rejects.toBeInstanceOf(NodeStoppedError);
    await node.start();
    await expect(node.snapshotNow()).rejects.toThrow(ConfigError);
    await expect(node.snapshotNow()).rejects.toThrow(/snapshotStore is not set: node solo/);
    await node.stop();
    await expect(node.snapshotNow()).rejects.toBeInstanceOf(NodeStoppedError);
  });

  it("rejects with the store's error when the snapshot cannot be written, and succeeds once it can", async () => {
    const net = new MemoryNetwork();
    const inner = new MemorySnapshotStore();
    let failing = true;
    const store: SnapshotStore = {
      latest: () => inner.latest(),
      read: () => inner.read(),
      close: () => inner.close(),
      create: (meta) => (failing ? Promise.reject(new Error('disk full')) : inner.create(meta)),
    };
    const config = { snapshotEntries: 0 };
    const a = kvNode('a', {
      voters: ['a'],
      transport: net.transport('a'),
      seed: 2,
      snapshotStore: store,
      config,
    });
    await a.node.start();
    try {
      await until(() => a.node.isLeader(), 'a to lead');
      await a.node.propose({ name: 'put', args: ['x', '1'] });
      await expect(a.node.snapshotNow()).rejects.toThrow('disk full');
      expect(a.node.status().snapshotIndex).toBe(0);
      failing = false;
      expect(await a.node.snapshotNow()).toBe(a.node.status().appliedIndex);
    } finally {
      await a.node.stop();
    }
  });
});
