import {
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  type Message,
  type Transport,
} from '../../src/index';
import { silentLogger } from '../../src/logger';
import {
  SNAPSHOT_HELD_OFFSET,
  SnapshotReceiver,
  SnapshotSender,
  crc32,
  writeSnapshot,
  type TransferDeps,
} from '../../src/node/snapshot-transfer';
import type { Clock } from '../../src/ports/clock';
import type { SnapshotChunk, SnapshotChunkResponse } from '../../src/protocol/types';
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
  it('restarts from a snapshot newer than its stored log (a crash between installing it and resetting the log) and keeps writing', async () => {
    const net = new CuttableNetwork();
    const stores = {
      log: new MemoryLogStore(),
      stable: new MemoryStableStore(),
      snaps: new MemorySnapshotStore(),
    };
    const solo = (log: MemoryLogStore, seed: number) =>
      kvNode('solo', {
        voters: ['solo'],
        transport: net.transport('solo'),
        seed,
        logStore: log,
        stableStore: stores.stable,
        snapshotStore: stores.snaps,
        config: { snapshotEntries: 20, snapshotTrailingEntries: 5, proposalTimeoutMs: 5000 },
      });
    const first = solo(stores.log, 1);
    await first.node.start();
    await until(() => first.node.isLeader(), 'a leader');
    for (let i = 0; i < 5; i++) await first.node.propose({ name: 'put', args: [`k${i}`, `v${i}`] });
    const early = await stores.log.entries(1, (await stores.log.lastIndex()) + 1);
    for (let i = 5; i < 60; i++) await first.node.propose({ name: 'put', args: [`k${i}`, `v${i}`] });
    await until(() => first.node.status().snapshotIndex > early.length + 5, 'a snapshot past the early log');
    const snapshotIndex = first.node.status().snapshotIndex;
    await first.node.stop();

    // What a crash after the snapshot is stored, before the old log is reset, leaves behind.
    const stale = new MemoryLogStore();
    await stale.append(early);
    const again = solo(stale, 2);
    await again.node.start();
    try {
      await until(() => again.node.isLeader(), 'a leader after the restart');
      await again.node.propose({ name: 'put', args: ['after', 'restart'] });
      expect(again.node.status().storageError).toBeUndefined();
      expect(await stale.firstIndex()).toBe(snapshotIndex + 1);
      expect(again.kv().get('after')).toBe('restart');
      // Index 1 is the first leader's no-op, so k{i} is at index i + 2: the snapshot holds k0 … k{snapshotIndex − 2}.
      for (let i = 0; i + 2 <= snapshotIndex; i++) expect(again.kv().get(`k${i}`)).toBe(`v${i}`);
    } finally {
      await again.node.stop();
    }
  });

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

/** Timers that fire only when the test says so. */
class ManualClock implements Clock {
  private timers: { fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return 0;
  }
  setTimeout(fn: () => void, _ms: number): () => void {
    const t = { fn, cancelled: false };
    this.timers.push(t);
    return () => void (t.cancelled = true);
  }
  /** Fires every pending timer once. */
  fireAll(): void {
    const due = this.timers;
    this.timers = [];
    for (const t of due) if (!t.cancelled) t.fn();
  }
}

describe('§7 InstallSnapshot transfer - the runtime hears how a transfer ended', () => {
  const info = { index: 40, term: 2, membership: { voters: ids, outgoing: [], learners: [] } };

  /** A leader-side sender of a 500-byte snapshot in 64-byte chunks, and a follower-side receiver wired to it. */
  async function pair() {
    const clock = new ManualClock();
    const leaderStore = new MemorySnapshotStore();
    await writeSnapshot(leaderStore, info, new Uint8Array(500).fill(7), 64);
    const chunks: SnapshotChunk[] = [];
    const outcome: string[] = [];
    const base = { clock, logger: silentLogger, chunkBytes: 64, chunkTimeoutMs: 100 };
    let receiver: Pick<SnapshotReceiver, 'onChunk'> | undefined;
    const leaderDeps: TransferDeps = {
      ...base,
      id: 'n1',
      store: leaderStore,
      send: (m) => {
        chunks.push(m as SnapshotChunk);
        receiver?.onChunk(m as SnapshotChunk);
      },
    };
    const sender = new SnapshotSender(
      leaderDeps,
      'n2',
      2,
      () => outcome.push('failed'),
      () => outcome.push('finished'),
    );
    const replies: SnapshotChunkResponse[] = [];
    const followerDeps: TransferDeps = {
      ...base,
      id: 'n2',
      store: new MemorySnapshotStore(),
      send: (m) => {
        replies.push(m as SnapshotChunkResponse);
        sender.onResponse(m as SnapshotChunkResponse);
      },
    };
    return {
      clock,
      sender,
      chunks,
      outcome,
      replies,
      followerDeps,
      setReceiver: (r: Pick<SnapshotReceiver, 'onChunk'>) => (receiver = r),
    };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

  it('a delivered snapshot is reported finished once, after the last chunk is acknowledged', async () => {
    const p = await pair();
    const installed: number[] = [];
    p.setReceiver(new SnapshotReceiver(p.followerDeps, (_from, _term, s) => installed.push(s.index)));
    await p.sender.start();
    await until(() => p.outcome.length > 0, 'the transfer to end');
    expect(p.outcome).toEqual(['finished']);
    expect(installed).toEqual([40]);
    expect(p.chunks.length).toBeGreaterThan(5);
    p.clock.fireAll(); // no timer is left to resend anything
    await settle();
    expect(p.outcome).toEqual(['finished']);
  });

  it('a follower answers a chunk of a snapshot it already holds as complete, so the sender stops at once', async () => {
    const p = await pair();
    const receiver = new SnapshotReceiver(p.followerDeps, () => undefined);
    // Every chunk is answered as held (what SnapshotManager does for a snapshot at or below its commit index).
    p.setReceiver({ onChunk: (m) => receiver.held(m) });
    await p.sender.start();
    await until(() => p.outcome.length > 0, 'the transfer to end');
    expect(p.outcome).toEqual(['finished']);
    expect(p.chunks).toHaveLength(1);
    expect(p.replies).toEqual([
      expect.objectContaining({
        type: 'snapshot-chunk-resp',
        index: 40,
        offset: SNAPSHOT_HELD_OFFSET,
        reject: false,
      }),
    ]);
  });

  it('a transfer nobody answers is reported failed after its retries', async () => {
    const p = await pair(); // no receiver: every chunk is lost
    await p.sender.start();
    for (let k = 0; k < 20 && p.outcome.length === 0; k++) p.clock.fireAll();
    expect(p.outcome).toEqual(['failed']);
  });
});
