import { CompactedError, LogGapError, type LogStore } from '@raftline/core';
import { entries, entry } from '../support/entries';

/** Opens a LogStore for `owner`; the same owner again reopens the same log (when the store is durable). */
export type OpenLogStore = (owner: string) => Promise<LogStore>;

let owners = 0;

/**
 * The LogStore contract (packages/core/src/ports/log-store.ts) as a jest
 * suite. `durable` adds the checks that a reopened store sees the same log.
 */
export function describeLogStoreContract(name: string, open: OpenLogStore, opts: { durable: boolean }): void {
  describe(`${name} - LogStore contract`, () => {
    let store: LogStore;
    let owner: string;
    beforeEach(async () => {
      owner = `log-${process.pid}-${++owners}`;
      store = await open(owner);
    });
    afterEach(async () => {
      await store.close();
    });

    const bounds = async () => [await store.firstIndex(), await store.lastIndex()];

    it('a new log is empty: first 1, last 0, no entries', async () => {
      expect(await bounds()).toEqual([1, 0]);
      expect(await store.entries(1, 10)).toEqual([]);
    });

    it('appends and reads back entries with their term, type and bytes', async () => {
      const binary = {
        index: 3,
        term: 2,
        type: 'normal' as const,
        data: Uint8Array.from({ length: 256 }, (_, i) => i),
      };
      const batch = [entry(1), entry(2, 1, 'noop'), binary];
      await store.append(batch);
      expect(await bounds()).toEqual([1, 3]);
      expect(await store.entries(1, 4)).toEqual(batch);
    });

    it('entries(lo, hi) returns lo ≤ index < hi, cut at the end of the log', async () => {
      await store.append(entries(1, 10));
      expect((await store.entries(3, 6)).map((e) => e.index)).toEqual([3, 4, 5]);
      expect((await store.entries(8, 100)).map((e) => e.index)).toEqual([8, 9, 10]);
      expect(await store.entries(11, 20)).toEqual([]);
      expect(await store.entries(5, 5)).toEqual([]);
      expect(await store.entries(7, 4)).toEqual([]);
    });

    it('an append at or below the last index replaces the suffix from there', async () => {
      await store.append(entries(1, 5, 1));
      await store.append(entries(3, 4, 2));
      expect(await bounds()).toEqual([1, 4]);
      expect(await store.entries(1, 10)).toEqual([...entries(1, 2, 1), ...entries(3, 4, 2)]);
      await store.append([entry(1, 3)]);
      expect(await store.entries(1, 10)).toEqual([entry(1, 3)]);
    });

    it('an append past lastIndex() + 1 throws LogGapError and changes nothing', async () => {
      await store.append(entries(1, 3));
      await expect(store.append([entry(5)])).rejects.toBeInstanceOf(LogGapError);
      expect(await bounds()).toEqual([1, 3]);
      await store.append([entry(4)]);
      expect(await store.lastIndex()).toBe(4);
    });

    it('an empty append changes nothing', async () => {
      await store.append([]);
      expect(await bounds()).toEqual([1, 0]);
    });

    it('truncateSuffix(from) removes every entry ≥ from', async () => {
      await store.append(entries(1, 6));
      await store.truncateSuffix(4);
      expect(await bounds()).toEqual([1, 3]);
      await store.truncateSuffix(10);
      expect(await bounds()).toEqual([1, 3]);
      expect(await store.entries(1, 10)).toEqual(entries(1, 3));
      await store.append(entries(4, 5, 2));
      expect(await store.entries(3, 10)).toEqual([entry(3), ...entries(4, 5, 2)]);
    });

    it('compactPrefix(upTo) moves the first index; reads below it throw CompactedError', async () => {
      await store.append(entries(1, 10));
      await store.compactPrefix(4);
      expect(await bounds()).toEqual([5, 10]);
      await expect(store.entries(4, 6)).rejects.toBeInstanceOf(CompactedError);
      expect(await store.entries(5, 7)).toEqual(entries(5, 6));
      await store.compactPrefix(2);
      expect(await bounds()).toEqual([5, 10]);
      await expect(store.append([entry(3, 2)])).rejects.toBeInstanceOf(CompactedError);
    });

    it('compacting past the end leaves an empty log that continues at upTo + 1', async () => {
      await store.append(entries(1, 3));
      await store.compactPrefix(7);
      expect(await bounds()).toEqual([8, 7]);
      expect(await store.entries(8, 10)).toEqual([]);
      await expect(store.append([entry(9)])).rejects.toBeInstanceOf(LogGapError);
      await store.append(entries(8, 9, 2));
      expect(await bounds()).toEqual([8, 9]);
      await store.truncateSuffix(1);
      expect(await bounds()).toEqual([8, 7]);
    });

    it('a batch larger than one INSERT is written whole', async () => {
      const big = entries(1, 20_000);
      await store.append(big);
      expect(await bounds()).toEqual([1, 20_000]);
      const back = await store.entries(1, 20_001);
      expect(back).toHaveLength(20_000);
      expect(back[12_345]).toEqual(entry(12_346));
      await store.append(entries(5, 17_000, 2));
      expect(await store.lastIndex()).toBe(17_000);
      expect((await store.entries(4, 6)).map((e) => e.term)).toEqual([1, 2]);
    });

    if (opts.durable) {
      it('a reopened store has the same log', async () => {
        await store.append(entries(1, 12));
        await store.append(entries(9, 11, 2));
        await store.compactPrefix(3);
        await store.close();
        store = await open(owner);
        expect(await bounds()).toEqual([4, 11]);
        expect(await store.entries(4, 12)).toEqual([...entries(4, 8, 1), ...entries(9, 11, 2)]);
      });

      it('a reopened store remembers a compaction past the end', async () => {
        await store.append(entries(1, 2));
        await store.compactPrefix(5);
        await store.close();
        store = await open(owner);
        expect(await bounds()).toEqual([6, 5]);
      });
    }
  });
}
