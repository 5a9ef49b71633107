import { MemoryStableStore, stepStoreOf } from '@raftline/core';
import { pgliteFixture, postgresFixture, type Fixture } from './support/databases';
import { entries, entry } from './support/entries';

// StepStore (core's optional capability): PostgresLogStore writes a Raft
// step's entries and hard state in one atomic write, with the stable store
// opened alongside it and with no other.

jest.setTimeout(30_000);

let owners = 0;
const nextOwner = (): string => `step-${process.pid}-${++owners}`;

function describeStepStore(
  name: string,
  makeFixture: () => Fixture & { rawQuery(sql: string): Promise<void> },
) {
  describe(`${name} - StepStore`, () => {
    const fixture = makeFixture();

    it('is found for the stores of one open, not for another node’s stable store or a memory one', async () => {
      const a = await fixture.open(nextOwner());
      const b = await fixture.open(nextOwner());
      expect(stepStoreOf(a.logStore, a.stableStore)).toBe(a.logStore);
      expect(stepStoreOf(a.logStore, b.stableStore)).toBeUndefined();
      expect(stepStoreOf(a.logStore, new MemoryStableStore())).toBeUndefined();
    });

    it('persistStep makes entries and hard state durable together; a reopened store finds both', async () => {
      const owner = nextOwner();
      let stores = await fixture.open(owner);
      await stores.logStore.persistStep(entries(1, 5, 2), { term: 2, vote: 'n3', commit: 0 });
      await stores.logStore.persistStep(entries(6, 8, 2), undefined);
      await stores.logStore.persistStep(entries(9, 9, 2), { term: 2, vote: 'n3', commit: 8 });
      stores = await fixture.open(owner);
      expect(await stores.stableStore.load()).toEqual({ term: 2, vote: 'n3', commit: 8 });
      expect(await stores.logStore.lastIndex()).toBe(9);
      expect(await stores.logStore.entries(1, 10)).toEqual(entries(1, 9, 2));
    });

    it('persistStep replaces an overlapping suffix and saves the hard state in the same write', async () => {
      const owner = nextOwner();
      let stores = await fixture.open(owner);
      await stores.logStore.persistStep(entries(1, 6, 1), { term: 1, vote: 'n1', commit: 2 });
      await stores.logStore.persistStep(entries(4, 5, 3), { term: 3, vote: '', commit: 3 });
      stores = await fixture.open(owner);
      expect(await stores.logStore.entries(1, 10)).toEqual([...entries(1, 3, 1), ...entries(4, 5, 3)]);
      expect(await stores.stableStore.load()).toEqual({ term: 3, vote: '', commit: 3 });
    });

    it('persistStep with no entries saves the hard state only', async () => {
      const stores = await fixture.open(nextOwner());
      await stores.logStore.persistStep([], { term: 4, vote: 'n2', commit: 0 });
      expect(await stores.stableStore.load()).toEqual({ term: 4, vote: 'n2', commit: 0 });
      expect(await stores.logStore.lastIndex()).toBe(0);
    });

    it('a step whose entries cannot be written leaves the hard state as it was', async () => {
      const owner = nextOwner();
      const stores = await fixture.open(owner);
      await stores.logStore.persistStep(entries(1, 2, 1), { term: 1, vote: 'n1', commit: 1 });
      // A row the store does not know of makes the step's INSERT fail (duplicate key) midway.
      await fixture.rawQuery(
        `INSERT INTO "${fixture.schema}".log_entry (group_id, node_id, idx, term, type, payload) ` +
          `VALUES ('g', '${owner}', 4, 1, 0, '\\x00')`,
      );
      await expect(
        stores.logStore.persistStep([entry(3, 5), entry(4, 5)], { term: 5, vote: 'n9', commit: 2 }),
      ).rejects.toThrow();
      expect(await stores.stableStore.load()).toEqual({ term: 1, vote: 'n1', commit: 1 });
    });
  });
}

describeStepStore('PostgreSQL', () => {
  const f = postgresFixture();
  return { ...f, rawQuery: async (sql) => void (await f.admin().query(sql)) };
});
describeStepStore('PGlite', () => {
  const f = pgliteFixture();
  return { ...f, rawQuery: async (sql) => void (await f.db().query(sql)) };
});
