import {
  MachineHost,
  encodeCommand,
  pack,
  seededRandom,
  type CommandEnvelope,
  type NodeId,
} from '@raftline/core';
import { KvMachine, SimCluster } from '../src/index';
import { append, cluster, converge, dump, firstIndex, put, until } from './support/sim';

jest.setTimeout(120_000);

/** Values of id's applied commands whose first argument is key, in index order. */
function appliedValues(c: SimCluster, id: NodeId, key: string): unknown[] {
  return [...c.applied(id)]
    .filter(([, cmd]) => cmd.args[0] === key)
    .sort(([a], [b]) => a - b)
    .map(([, cmd]) => cmd.args[1]);
}

/** Cuts off or crashes followers for long stretches, so that they return to a compacted leader log. */
async function installUnderFaults(c: SimCluster, rng: ReturnType<typeof seededRandom>): Promise<void> {
  for (let step = 0; step < 60; step++) {
    const id = c.ids[rng.nextInt(c.ids.length)]!;
    const roll = rng.nextInt(10);
    if (roll < 3 && c.leader() !== id && c.runningIds().length > 3) c.crash(id);
    else if (roll < 5 && c.leader() !== id) c.disconnect(id);
    else if (roll < 8 && !c.isRunning(id)) await c.restart(id);
    else c.connect(id);
    await c.advance(100 + rng.nextInt(300));
    c.check();
  }
}

describe('SimCluster - §7 snapshots and log compaction', () => {
  it('compacts every log behind its snapshots, and persistedBytes counts the snapshot', async () => {
    const c = await cluster({ nodes: 3, seed: 3, snapshotEvery: 20, snapshotTrailing: 5 });
    await c.waitForLeader();
    const before = c.persistedBytes('n1');
    for (let k = 0; k < 100; k++) await c.client('w').propose(put(`k${k % 4}`, `v${k}`));
    await c.advance(200);
    for (const id of c.ids) {
      const { snapshotIndex, appliedIndex } = c.status(id);
      expect(snapshotIndex).toBeGreaterThanOrEqual(80);
      expect(firstIndex(c, id)).toBe(snapshotIndex - 5 + 1); // 5 trailing entries kept
      expect(c.stores(id).snapshots.byteSize()).toBeGreaterThan(0);
      expect(appliedIndex).toBeLessThan(snapshotIndex + 20);
    }
    const { log, stable, snapshots } = c.stores('n1');
    expect(c.persistedBytes('n1')).toBe(
      log.byteSize() + pack(stable.loadSync()!).byteLength + snapshots.byteSize(),
    );
    expect(c.persistedBytes('n1')).toBeGreaterThan(before);
    c.check();
    await c.stop();
  });

  it('installs snapshots on followers that fall behind, through crashes and an unreliable network', async () => {
    const c = await cluster({ nodes: 5, seed: 71, snapshotEvery: 15, snapshotTrailing: 3 });
    const rng = seededRandom(171);
    c.setUnreliable({ dropRate: 0.1, delayMs: [0, 20], duplicateRate: 0.1, reorder: true });
    let stop = false;
    const acked = new Map<string, string[]>();
    const writers = ['a', 'b', 'c'].map(async (name) => {
      const mine: string[] = [];
      acked.set(name, mine);
      for (let n = 0; !stop && !c.stopped; n++) {
        const token = `${name}${n};`;
        await c
          .client(name)
          .propose(append(name, token), { timeoutMs: 1500 })
          .then(() => mine.push(token))
          .catch(() => undefined); // outcome unknown: may or may not be in the state
      }
    });
    try {
      await installUnderFaults(c, rng);
    } finally {
      stop = true;
    }
    const state = await converge(c, 'end');
    await Promise.all(writers);
    // Every acknowledged append is in the state exactly once, in its client's order.
    for (const [name, tokens] of acked) {
      const value = state.get(name) ?? '';
      for (const t of tokens) expect(value.split(t)).toHaveLength(2);
      expect(value.split(';').filter((t) => t.startsWith(name)).length).toBeGreaterThanOrEqual(tokens.length);
    }
    expect(c.networkStats().byType['snapshot-chunk'].count).toBeGreaterThan(0);
    // Some node caught up by installing a snapshot: it never applied the entries the snapshot covered.
    const skipped = c.ids.filter((id) => {
      const indexes = [...c.applied(id).keys()].sort((a, b) => a - b);
      return indexes.some((i, k) => k > 0 && i - indexes[k - 1]! > 15);
    });
    expect(skipped.length).toBeGreaterThan(0);
    await c.stop();
  });

  it('keeps persistedBytes under a fixed bound across 20 000 commands with snapshotEvery 200', async () => {
    const snapshotEvery = 200;
    const trailing = 50;
    const clients = ['w1', 'w2', 'w3', 'w4'];
    const keys = 10;
    const valueOf = (k: number) => `value-${String(k).padStart(8, '0')}`; // always 14 characters
    const c = await cluster({ nodes: 3, seed: 12, snapshotEvery, snapshotTrailing: trailing });
    // The bound: the retained log (snapshotEvery + trailing entries, plus a few in flight), the
    // largest state the workload can build, and the hard state. Each from its largest instance.
    const entryBytes =
      encodeCommand({
        name: 'put',
        args: ['k9', valueOf(99_999_999)],
        session: { clientId: 'w4', seq: 999_999, ackedBelow: 999_999 },
        time: 1e12,
      }).byteLength + 24; // MemoryLogStore counts 24 bytes per entry besides its payload
    const full = new MachineHost(new KvMachine());
    for (const [n, clientId] of clients.entries()) {
      for (let k = 0; k < keys; k++) {
        const command: CommandEnvelope = {
          name: 'put',
          args: [`k${k}`, valueOf(99_999_999)],
          session: { clientId, seq: 999_999, ackedBelow: 999_999 },
          time: 1e12,
        };
        full.apply(command, { index: 1e9 + n * keys + k, term: 1e6, time: 1e12 });
      }
    }
    const snapshotBytes = full.snapshot().byteLength + 128; // + the configuration stored with it
    const hardStateBytes = pack({ term: 1e6, vote: 'n3', commit: 1e9 }).byteLength;
    const inFlight = 50;
    const bound = entryBytes * (snapshotEvery + trailing + inFlight) + snapshotBytes + hardStateBytes;

    await c.waitForLeader();
    let next = 0;
    let maxSeen = 0;
    const total = 20_000;
    const checkBound = () => {
      for (const id of c.ids) {
        const bytes = c.persistedBytes(id);
        maxSeen = Math.max(maxSeen, bytes);
        expect(bytes).toBeLessThanOrEqual(bound);
      }
    };
    await Promise.all(
      clients.map(async (name) => {
        for (let k = next++; k < total; k = next++) {
          await c.client(name).propose(put(`k${k % keys}`, valueOf(k)));
          if (k % 250 === 0) checkBound();
        }
      }),
    );
    checkBound();
    c.check();
    // Without compaction the log alone would be 20 000 entries, far above the bound.
    expect(total * (entryBytes - 10)).toBeGreaterThan(20 * bound);
    expect(maxSeen).toBeGreaterThan(bound / 4); // the bound is not absurdly loose
    for (const id of c.ids) expect(c.status(id).snapshotIndex).toBeGreaterThan(total - 2 * snapshotEvery);
    await c.stop();
  });

  it.each([
    ['instant', [0, 0] as const],
    ['slow', [1, 12] as const],
  ])(
    'loses nothing when every node crashes and restarts after snapshots (%s storage)',
    async (_name, storage) => {
      const c = await cluster({
        nodes: 3,
        seed: 23,
        snapshotEvery: 25,
        snapshotTrailing: 0,
        storageLatencyMs: storage,
      });
      await c.waitForLeader();
      const rng = seededRandom(123);
      const acked: string[] = [];
      let fromSnapshot = 0;
      for (let round = 0; round < 8; round++) {
        // Writes in flight when everything crashes may or may not survive; acknowledged ones must.
        const writing = (async () => {
          for (let n = 0; n < 30; n++) {
            const token = `${round}.${n};`;
            const ok = await c
              .client(`r${round}`)
              .propose(append('log', token), { timeoutMs: 3000 })
              .then(() => true)
              .catch(() => false);
            if (ok) acked.push(token);
            else return;
          }
        })();
        await c.advance(100 + rng.nextInt(400));
        for (const id of c.ids) c.crash(id);
        await writing;
        for (const id of c.ids) await c.restart(id);
        await c.waitForLeader();
        c.check();
        fromSnapshot += c.ids.filter((id) => c.status(id).snapshotIndex > 0).length;
      }
      expect(fromSnapshot).toBeGreaterThan(12); // most of the 24 restarts recovered from a snapshot
      const state = await converge(c, 'end');
      const log = state.get('log') ?? '';
      expect(acked.length).toBeGreaterThan(50);
      for (const token of acked) expect(log.split(token)).toHaveLength(2); // there, and only once
      // Each incarnation re-applied only the tail after its snapshot, so the applied map has gaps.
      for (const id of c.ids) expect(appliedValues(c, id, 'log').length).toBeLessThan(log.split(';').length);
      for (const id of c.ids) expect(dump(c, id).get('log')).toBe(log);
      await c.stop();
    },
  );
});

describe('SimCluster - snapshots and membership', () => {
  it('keeps the configuration a snapshot ends at: members restarted from it, and a joiner that installed it', async () => {
    // A snapshot after every entry: the newest one ends exactly at the last configuration entry.
    const c = await cluster({ nodes: 3, seed: 5, snapshotEvery: 1, snapshotTrailing: 0 });
    await c.waitForLeader();
    await c.propose(put('a', '1'));
    await c.addNode('n4');
    const all = ['n1', 'n2', 'n3', 'n4'];
    await until(
      c,
      () => c.ids.every((id) => c.status(id).appliedIndex === c.status(c.leader()!).commitIndex),
      2000,
    );
    expect(c.status('n4').snapshotIndex).toBeGreaterThan(0); // it joined by snapshot
    for (const id of all) expect([id, [...c.status(id).members.voters].sort()]).toEqual([id, all]);
    for (const id of all) {
      await c.restart(id);
      expect([id, [...c.status(id).members.voters].sort()]).toEqual([id, all]);
    }
    await c.waitForLeader();
    expect(await c.propose(put('a', '2'))).toBeNull();
    c.check();
  });
});
