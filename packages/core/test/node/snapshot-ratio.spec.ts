import { ConfigError, MemoryNetwork, MemorySnapshotStore, resolveNodeConfig } from '../../src/index';
import { kvNode, until } from '../support/nodes';

/** A single node (it elects itself) snapshotting every 10 entries, none kept behind, with the ratio given. */
async function solo(snapshotLogRatio: number) {
  const snaps = new MemorySnapshotStore();
  const { node } = kvNode('solo', {
    voters: ['solo'],
    transport: new MemoryNetwork().transport('solo'),
    seed: 1,
    snapshotStore: snaps,
    config: { snapshotEntries: 10, snapshotTrailingEntries: 0, snapshotLogRatio },
  });
  await node.start();
  await until(() => node.isLeader(), 'a leader');
  const put = (key: string, value: string) => node.propose({ name: 'put', args: [key, value] });
  return { node, put, snaps };
}

describe('snapshotLogRatio - a large state is snapshotted after as much log, not every snapshotEntries', () => {
  it('with ratio 1, waits until the log since the last snapshot holds its size; with 0, every 10 entries', async () => {
    const big = 'x'.repeat(20_000);
    for (const ratio of [1, 0]) {
      const { node, put, snaps } = await solo(ratio);
      const snapshotIndex = () => node.status().snapshotIndex;
      try {
        await put('big', big); // a state of some 20 KB
        for (let i = 0; i < 10; i++) await put(`a${i}`, 'v');
        // The first snapshot (no earlier one to compare with) comes after 10 entries.
        await until(() => snapshotIndex() > 0, 'the first snapshot');
        const first = snapshotIndex();
        // 30 small entries: far fewer bytes than the snapshot holds.
        for (let i = 0; i < 30; i++) await put(`b${i}`, 'v');
        if (ratio === 0) {
          await until(() => snapshotIndex() > first, 'a snapshot 10 entries later');
          continue;
        }
        // Any snapshot due would be taken right after the entry's apply, and written at once to memory.
        await put('probe', 'v');
        await new Promise((r) => setTimeout(r, 50));
        expect(snapshotIndex()).toBe(first);
        expect((await snaps.latest())!.index).toBe(first);
        // Some 24 KB of log more than covers the 20 KB snapshot.
        for (let i = 0; i < 12; i++) await put(`c${i}`, 'y'.repeat(2_000));
        await until(() => snapshotIndex() > first, 'a snapshot once the log outgrew it');
      } finally {
        await node.stop();
      }
    }
  });

  it('refuses a negative or infinite ratio with ConfigError', () => {
    expect(() => resolveNodeConfig({ snapshotLogRatio: -1 })).toThrow(ConfigError);
    expect(() => resolveNodeConfig({ snapshotLogRatio: Infinity })).toThrow(/snapshotLogRatio/);
    expect(resolveNodeConfig({}).node.snapshotLogRatio).toBe(1);
  });
});
