import {
  CompactedError,
  LogGapError,
  MemoryLogStore,
  MemorySnapshotStore,
  type Entry,
} from '../../src/index';

const entry = (index: number, bytes = 100): Entry => ({
  index,
  term: 1,
  type: 'normal',
  data: new Uint8Array(bytes),
});
const range = (lo: number, hi: number, bytes?: number): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i, bytes));

describe('MemoryLogStore - compaction frees the entries it drops (§7 log compaction)', () => {
  it('holds only the entries after the compaction point: bytes, first index and reads', async () => {
    const log = new MemoryLogStore();
    await log.append(range(1, 1000));
    const full = log.byteSize();
    await log.compactPrefix(900);
    expect(await log.firstIndex()).toBe(901);
    expect(await log.lastIndex()).toBe(1000);
    expect(log.byteSize()).toBe(full / 10);
    await expect(log.entries(900, 901)).rejects.toBeInstanceOf(CompactedError);
    expect((await log.entries(901, 1001)).map((e) => e.index)).toEqual(range(901, 1000).map((e) => e.index));
  });

  it('stays at a bounded size through many rounds of append and compaction', async () => {
    const log = new MemoryLogStore();
    for (let round = 0; round < 100; round++) {
      await log.append(range(round * 100 + 1, round * 100 + 100));
      if (round > 0) await log.compactPrefix(round * 100 - 10); // keeps 10 trailing entries
    }
    expect(await log.firstIndex()).toBe(9891);
    expect(log.byteSize()).toBe(110 * (100 + 24));
  });

  it('refuses an append before the first index or past the end with a named error', async () => {
    const log = new MemoryLogStore();
    await log.append(range(1, 10));
    await log.compactPrefix(5);
    await expect(log.append([entry(3)])).rejects.toBeInstanceOf(CompactedError);
    await expect(log.append([entry(12)])).rejects.toBeInstanceOf(LogGapError);
  });
});

describe('MemorySnapshotStore - keeps only the newest snapshot', () => {
  it('drops an older snapshot once a newer one is committed', async () => {
    const store = new MemorySnapshotStore();
    for (const index of [10, 20, 30]) {
      const w = await store.create({ index, term: 1, size: 1000, voters: ['a'] });
      await w.write(new Uint8Array(1000));
      await w.commit();
    }
    expect((await store.latest())?.index).toBe(30);
    expect(store.byteSize()).toBe(1000);
  });
});
