import { ENTRY_TYPES } from '@raftline/core';
import { postgresFixture } from './support/databases';
import { entry } from './support/entries';

// The log keeps every kind of entry the protocol appends: a membership change
// is a 'config' entry, and a log that refused it would wedge the leader.

describe('PostgresLogStore - entry types', () => {
  const fixture = postgresFixture();

  it('stores and reads back every entry type of core, config entries included', async () => {
    const stores = await fixture.open('types');
    const written = ENTRY_TYPES.map((type, i) => entry(i + 1, 1, type));
    await stores.logStore.append(written);
    const read = await (await fixture.open('types')).logStore.entries(1, written.length + 1);
    expect(read.map((e) => [e.index, e.type, Buffer.from(e.data).toString()])).toEqual(
      written.map((e) => [e.index, e.type, Buffer.from(e.data).toString()]),
    );
  });
});
