import { ConfigError } from '@raftline/core';
import {
  AdminClient,
  connectNats,
  REPLICA_SERVICE_VERSION,
  type GroupStatus,
  type NatsConnection,
} from '../src/index';
import { SHARED_NATS, uniqueCluster } from './support/nats-server';
import { spawnReplicas, type ReplicaProcess } from './support/processes';

jest.setTimeout(90_000);

describe('admin API - replicas in their own processes', () => {
  let nc: NatsConnection;
  let procs: ReplicaProcess[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill9()));
    await nc.close();
  });

  it('reports every replica process, moves leadership to a named one, and reports a killed one as unreachable', async () => {
    const cluster = uniqueCluster('aproc');
    procs = await spawnReplicas({
      natsUrl: SHARED_NATS,
      cluster,
      group: 'g',
      ids: ['n1', 'n2', 'n3'],
      electionMs: 600,
      env: { RAFT_SNAPSHOTS: 'off' },
    });
    const admin = new AdminClient({ connection: nc, cluster, group: 'g', requestTimeoutMs: 1000 });
    // The first leader appears within a few election timeouts, and every replica hears of it.
    const settled = (x: GroupStatus) =>
      x.leaderId !== '' && x.replicas.every((r) => r.reachable && r.status.leaderId === x.leaderId);
    let status = await admin.status();
    for (let i = 0; i < 100 && !settled(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await admin.status();
    }
    expect(status.leaderId).not.toBe('');
    expect(status.replicas.map((r) => [r.node, r.reachable])).toEqual([
      ['n1', true],
      ['n2', true],
      ['n3', true],
    ]);
    for (const r of status.replicas) {
      expect(r).toMatchObject({
        reachable: true,
        status: { version: REPLICA_SERVICE_VERSION, leaderId: status.leaderId },
      });
    }

    const target = ['n1', 'n2', 'n3'].find((id) => id !== status.leaderId)!;
    expect(await admin.transferLeadership(target)).toEqual({ leaderId: target, changed: true });
    expect((await admin.replicaStatus(target)).role).toBe('leader');
    // These replicas have no snapshot store (RAFT_SNAPSHOTS=off): the replica's ConfigError comes back as one.
    await expect(admin.snapshot()).rejects.toBeInstanceOf(ConfigError);

    const victim = procs.find((p) => p.id !== target)!;
    await victim.kill9();
    const after = await admin.status();
    expect(after.leaderId).toBe(target);
    expect(after.replicas.find((r) => r.node === victim.id)).toMatchObject({ reachable: false });
    expect(after.replicas.filter((r) => r.reachable).map((r) => r.node)).toEqual(
      ['n1', 'n2', 'n3'].filter((id) => id !== victim.id),
    );
  });
});
