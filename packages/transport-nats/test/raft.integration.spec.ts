import { leaders, startReplicas, type Replica } from './support/cluster';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

describe('RaftNode over NatsTransport - three nodes in one process', () => {
  let replicas: Replica[] = [];
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.node.stop()));
    replicas = [];
  });

  it.each([
    ['without', {}],
    ['with', { clusterKey: 'raft-key' }],
  ])(
    'elects one leader and commits proposals on every replica in the same order (%s a cluster key)',
    async (_, extra) => {
      replicas = await startReplicas(['n1', 'n2', 'n3'], {
        cluster: uniqueCluster(),
        group: 'counter',
        connection: { servers: SHARED_NATS },
        ...extra,
      });
      await waitFor('one leader', () => leaders(replicas).length === 1, 5000);
      const leader = leaders(replicas)[0]!;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          leader.node.propose({ name: 'inc', args: [i % 2 ? 'odd' : 'even'] }),
        ),
      );
      expect([...results].sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: 50 }, (_, i) => Math.floor(i / 2) + 1),
      );
      await waitFor('every replica applied all 50', () =>
        replicas.every((r) => r.applier.applied.length === 50),
      );
      for (const r of replicas) expect(r.applier.applied).toEqual(leader.applier.applied);
      const follower = replicas.find((r) => r !== leader)!;
      // Whether propose throws or rejects, a follower refuses with the leader's id.
      const refused = Promise.resolve().then(() => follower.node.propose({ name: 'inc', args: ['x'] }));
      await expect(refused).rejects.toMatchObject({ name: 'NotLeaderError', leaderId: leader.id });
      for (const r of replicas) {
        const s = r.transport.stats();
        expect(s.received.messages).toBeGreaterThan(0);
        expect(Object.values(s.dropped).reduce((a, b) => a + b, 0)).toBe(0);
      }
    },
  );
});
