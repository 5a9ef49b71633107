import { MemoryLogStore, MemorySnapshotStore, MemoryStableStore } from '@raftline/core';
import { describeLogStoreContract } from './contract/log-store.contract';
import { describeSnapshotStoreContract } from './contract/snapshot-store.contract';
import { describeStableStoreContract } from './contract/stable-store.contract';
import { pgliteFixture, postgresFixture, type Fixture } from './support/databases';

// One contract, three implementations: the in-memory reference from core,
// PostgreSQL (the shared test server, this file's own schema) and PGlite.

jest.setTimeout(30_000);

describeLogStoreContract('memory', async () => new MemoryLogStore(), { durable: false });
describeStableStoreContract('memory', async () => new MemoryStableStore(), { durable: false });
describeSnapshotStoreContract('memory', async () => new MemorySnapshotStore(), { durable: false });

function describeDatabase(name: string, makeFixture: () => Fixture): void {
  describe(name, () => {
    const fixture = makeFixture();
    describeLogStoreContract(name, async (owner) => (await fixture.open(owner)).logStore, { durable: true });
    describeStableStoreContract(name, async (owner) => (await fixture.open(owner)).stableStore, {
      durable: true,
    });
    describeSnapshotStoreContract(name, async (owner) => (await fixture.open(owner)).snapshotStore, {
      durable: true,
    });
  });
}

describeDatabase('PostgreSQL', postgresFixture);
describeDatabase('PGlite', pgliteFixture);
