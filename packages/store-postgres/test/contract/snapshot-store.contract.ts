import { SnapshotNotFoundError, type SnapshotMeta, type SnapshotStore } from '@raftline/core';

/** Opens a SnapshotStore for `owner`; the same owner again reopens the same snapshots (when durable). */
export type OpenSnapshotStore = (owner: string) => Promise<SnapshotStore>;

/** Reads the whole latest snapshot. */
export async function readAll(store: SnapshotStore): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of store.read()) chunks.push(chunk);
  return chunks;
}

const bytes = (...values: number[]) => Uint8Array.from(values);

let owners = 0;

/** The SnapshotStore contract (packages/core/src/ports/snapshot-store.ts) as a jest suite. */
export function describeSnapshotStoreContract(
  name: string,
  open: OpenSnapshotStore,
  opts: { durable: boolean },
): void {
  describe(`${name} - SnapshotStore contract`, () => {
    let store: SnapshotStore;
    let owner: string;
    beforeEach(async () => {
      owner = `snap-${process.pid}-${++owners}`;
      store = await open(owner);
    });
    afterEach(async () => {
      await store.close();
    });

    const meta = (index: number, term = 1): SnapshotMeta => ({
      index,
      term,
      size: 5,
      voters: ['n1', 'n2', 'n3'],
    });

    it('with no snapshot, latest() is undefined and read() throws SnapshotNotFoundError', async () => {
      expect(await store.latest()).toBeUndefined();
      await expect(readAll(store)).rejects.toBeInstanceOf(SnapshotNotFoundError);
    });

    it('chunks written and committed read back in order, with the metadata', async () => {
      const w = await store.create(meta(10, 2));
      await w.write(bytes(1, 2));
      await w.write(bytes(3));
      await w.write(bytes(4, 5));
      expect(await store.latest()).toBeUndefined();
      await w.commit();
      expect(await store.latest()).toEqual(meta(10, 2));
      expect(await readAll(store)).toEqual([bytes(1, 2), bytes(3), bytes(4, 5)]);
    });

    it('many chunks read back whole', async () => {
      const w = await store.create(meta(3));
      const sent = Array.from({ length: 40 }, (_, i) => bytes(i, i + 1, 255 - i));
      for (const c of sent) await w.write(c);
      await w.commit();
      expect(await readAll(store)).toEqual(sent);
    });

    it('an aborted snapshot is never visible and the previous one stays', async () => {
      const first = await store.create(meta(5));
      await first.write(bytes(5));
      await first.commit();
      const second = await store.create(meta(9));
      await second.write(bytes(9));
      await second.abort();
      expect(await store.latest()).toEqual(meta(5));
      expect(await readAll(store)).toEqual([bytes(5)]);
    });

    it('a newer commit becomes the latest; one still being written is not visible', async () => {
      const a = await store.create(meta(5));
      await a.write(bytes(5));
      await a.commit();
      const b = await store.create(meta(8, 3));
      await b.write(bytes(8));
      expect(await readAll(store)).toEqual([bytes(5)]);
      await b.commit();
      expect(await store.latest()).toEqual(meta(8, 3));
      expect(await readAll(store)).toEqual([bytes(8)]);
    });

    it('a snapshot of the same index replaces the committed one cleanly', async () => {
      const a = await store.create(meta(5));
      await a.write(bytes(1));
      await a.commit();
      const b = await store.create(meta(5));
      await b.write(bytes(2));
      await b.write(bytes(3));
      expect(await readAll(store)).toEqual([bytes(1)]);
      await b.commit();
      expect(await readAll(store)).toEqual([bytes(2), bytes(3)]);
    });

    it('an empty snapshot commits and reads as no chunks', async () => {
      const w = await store.create({ index: 1, term: 1, size: 0, voters: [] });
      await w.commit();
      expect(await store.latest()).toEqual({ index: 1, term: 1, size: 0, voters: [] });
      expect(await readAll(store)).toEqual([]);
    });

    if (opts.durable) {
      it('a reopened store has the committed snapshot', async () => {
        const w = await store.create(meta(12, 4));
        await w.write(bytes(7, 7));
        await w.commit();
        await store.close();
        store = await open(owner);
        expect(await store.latest()).toEqual(meta(12, 4));
        expect(await readAll(store)).toEqual([bytes(7, 7)]);
      });
    }
  });
}
