import type { StableStore } from '@raftline/core';

/** Opens a StableStore for `owner`; the same owner again reopens the same state (when durable). */
export type OpenStableStore = (owner: string) => Promise<StableStore>;

let owners = 0;

/** The StableStore contract (packages/core/src/ports/stable-store.ts) as a jest suite. */
export function describeStableStoreContract(
  name: string,
  open: OpenStableStore,
  opts: { durable: boolean },
): void {
  describe(`${name} - StableStore contract`, () => {
    let store: StableStore;
    let owner: string;
    beforeEach(async () => {
      owner = `stable-${process.pid}-${++owners}`;
      store = await open(owner);
    });
    afterEach(async () => {
      await store.close();
    });

    it('a node that never saved loads undefined', async () => {
      expect(await store.load()).toBeUndefined();
    });

    it('load() returns the last saved hard state', async () => {
      await store.save({ term: 1, vote: 'n1', commit: 0 });
      await store.save({ term: 7, vote: '', commit: 42 });
      expect(await store.load()).toEqual({ term: 7, vote: '', commit: 42 });
    });

    if (opts.durable) {
      it('a reopened store loads what was saved', async () => {
        await store.save({ term: 3, vote: 'n2', commit: 9 });
        await store.close();
        store = await open(owner);
        expect(await store.load()).toEqual({ term: 3, vote: 'n2', commit: 9 });
      });
    }
  });
}
