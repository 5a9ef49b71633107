import { AdminClient, connectNats, NatsRaftClient, type NatsConnection } from '../src/index';
import { startAdminGroup, startAdminReplica, type AdminReplica } from './support/admin';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';
import { startLoad } from './support/processes';

jest.setTimeout(90_000);

describe('admin API - operations during client load', () => {
  let nc: NatsConnection;
  let replicas: AdminReplica[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await nc.close();
  });

  it('adds and promotes a voter, transfers leadership twice, snapshots, verifies and removes the voter under a bounded load, and no acknowledged command is lost or applied twice', async () => {
    const at = { connection: nc, cluster: uniqueCluster('aload'), group: 'g' };
    replicas = await startAdminGroup(at, ['n1', 'n2', 'n3']);
    await waitFor('one leader', () => replicas.some((r) => r.node.isLeader()));
    const admin = new AdminClient({ ...at, timeoutMs: 10_000 });
    const client = new NatsRaftClient({ ...at, timeoutMs: 5000 });
    const load = startLoad(client, { workers: 4, maxCommands: 800, maxMs: 30_000, prefix: 'L' });
    const progress = (n: number) =>
      waitFor(`${n} more acknowledged commands`, () => load.result.acked.length >= n, 20_000);

    try {
      await progress(50);
      replicas.push(await startAdminReplica(at, 'n4', []));
      expect((await admin.addLearner('n4')).changed).toBe(true);
      expect((await admin.addVoter('n4')).members.voters).toContain('n4');
      await progress(load.result.acked.length + 50);

      const before = (await admin.status()).leaderId;
      const target = ['n1', 'n2', 'n3'].find((id) => id !== before)!;
      expect(await admin.transferLeadership(target)).toEqual({ leaderId: target, changed: true });
      await progress(load.result.acked.length + 50);

      const snap = await admin.snapshot();
      expect(snap.node).toBe(target);
      expect((await admin.snapshot({ node: 'n4' })).index).toBeGreaterThan(0);
      const moved = await admin.transferLeadership();
      expect(moved.changed).toBe(true);
      await progress(load.result.acked.length + 50);

      const verified = await admin.verify();
      expect(verified).toMatchObject({ agree: true, disagreeing: [], missing: [] });
      expect(verified.replicas.map((r) => r.node)).toEqual(['n1', 'n2', 'n3', 'n4']);
      expect((await admin.remove('n4')).members.voters).not.toContain('n4');
      await progress(load.result.acked.length + 50);
    } finally {
      load.stop();
    }
    const result = await load.done;
    expect(result.acked.length).toBeGreaterThanOrEqual(250);

    // Every voter applies the same commands: each acknowledged one exactly once, none twice.
    const voters = replicas.filter((r) => ['n1', 'n2', 'n3'].includes(r.id));
    const leader = voters.find((r) => r.node.isLeader()) ?? voters[0]!;
    await waitFor(
      'the voters to apply the same log',
      () => voters.every((r) => r.applier.applied.length === leader.applier.applied.length),
      10_000,
    );
    for (const r of voters) {
      expect(r.applier.applied).toEqual(leader.applier.applied);
      for (const key of result.acked) expect(r.applier.counts.get(key)).toBe(1);
      for (const key of result.unknown) expect(r.applier.counts.get(key) ?? 0).toBeLessThanOrEqual(1);
      for (const key of result.refused) expect(r.applier.counts.get(key)).toBeUndefined();
      expect(new Set(r.applier.applied).size).toBe(r.applier.applied.length);
    }
    console.log(
      `admin under load: ${result.acked.length} acknowledged, ${result.unknown.length} unknown, ${result.refused.length} refused`,
    );
  });
});
