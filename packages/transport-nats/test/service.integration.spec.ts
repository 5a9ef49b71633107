import { ConfigError, NodeStoppedError, type NodeStatus } from '@raftline/core';
import {
  connectNats,
  discoverReplicas,
  mirrorCommitted,
  registerReplicaService,
  REPLICA_SERVICE_NAME,
  REPLICA_SERVICE_VERSION,
  type JetStreamMirror,
  type NatsConnection,
  type ReplicaService,
  type ReplicaStats,
} from '../src/index';
import { leaders, startReplicas, type Replica } from './support/cluster';
import { deleteStream } from './support/jetstream';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

describe('replica services - discovery and status over the NATS services framework', () => {
  let nc: NatsConnection;
  let replicas: Replica[] = [];
  const services: ReplicaService[] = [];
  const mirrors: JetStreamMirror[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    for (const m of mirrors.splice(0)) {
      await m.close();
      await deleteStream(nc, m.stream);
    }
    await Promise.all(replicas.map((r) => r.node.stop()));
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  async function request<T>(subject: string): Promise<T> {
    const msg = await nc.request(subject, undefined, { timeout: 1000 });
    return msg.json<T>();
  }

  it('registers every replica; $SRV.PING and discoverReplicas find them, and their status endpoints agree on one leader', async () => {
    const cluster = uniqueCluster('s');
    replicas = await startReplicas(['n1', 'n2', 'n3'], { cluster, group: 'orders', connection: nc });
    for (const r of replicas) {
      const mirror = await mirrorCommitted({ node: r.node, connection: nc, cluster, group: 'orders' });
      mirrors.push(mirror);
      const options = {
        connection: nc,
        cluster,
        group: 'orders',
        node: r.node,
        transport: r.transport,
        mirror,
      };
      services.push(await registerReplicaService(options));
    }
    await waitFor('one leader', () => leaders(replicas).length === 1);
    const leader = leaders(replicas)[0]!;
    await leader.node.propose({ name: 'inc', args: ['k'] });

    // Standard discovery: every instance of the service answers $SRV.PING.<name>.
    const pings: { name: string; id: string; version: string; metadata: Record<string, string> }[] = [];
    const answers = await nc.requestMany(`$SRV.PING.${REPLICA_SERVICE_NAME}`, undefined, {
      strategy: 'timer',
      maxWait: 500,
    });
    for await (const m of answers) pings.push(m.json());
    const ours = pings.filter((p) => p.metadata.cluster === cluster);
    expect(ours.map((p) => p.metadata.node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(ours.map((p) => p.id).sort()).toEqual(services.map((s) => s.id).sort());
    for (const p of ours) {
      expect(p).toMatchObject({ name: 'raftline', version: REPLICA_SERVICE_VERSION });
      expect(p.metadata.group).toBe('orders');
    }

    const found = await discoverReplicas(nc, { cluster, group: 'orders' });
    expect(found.map((r) => r.node)).toEqual(['n1', 'n2', 'n3']);
    expect(found[0]!.endpoints).toEqual({
      status: `raftline.${cluster}.orders.srv.n1.status`,
      stats: `raftline.${cluster}.orders.srv.n1.stats`,
    });
    const statuses = await Promise.all(found.map((r) => request<NodeStatus>(r.endpoints.status!)));
    expect(statuses.filter((s) => s.role === 'leader').map((s) => s.id)).toEqual([leader.id]);
    for (const s of statuses) {
      expect(s.leaderId).toBe(leader.id);
      expect(s.term).toBe(statuses[0]!.term);
      expect(s.members.voters).toEqual(['n1', 'n2', 'n3']);
    }
    await waitFor('the mirror published', () => mirrors.some((m) => m.status().lastIndex > 0));
    const stats = await request<ReplicaStats>(found.find((r) => r.node === leader.id)!.endpoints.stats!);
    expect(stats.node).toBe(leader.id);
    expect(stats.transport!.received.messages).toBeGreaterThan(0);
    expect(stats.transport!.dropped.auth).toBe(0);
    expect(stats.mirror).toMatchObject({ active: true, stream: mirrors[0]!.stream });
    expect(stats.mirror!.lastIndex).toBeGreaterThan(0);

    // A stopped service is no longer discovered.
    await services[0]!.stop();
    const after = await discoverReplicas(nc, { cluster });
    expect(after.map((r) => r.node)).toEqual(['n2', 'n3']);
  });

  it('answers a service error (503) when the node cannot report, and refuses a bad name or version', async () => {
    const cluster = uniqueCluster('s');
    const node = {
      id: 'n9',
      status: (): NodeStatus => {
        throw new NodeStoppedError('n9');
      },
    };
    services.push(await registerReplicaService({ connection: nc, cluster, group: 'g', node }));
    const msg = await nc.request(`raftline.${cluster}.g.srv.n9.status`, undefined, { timeout: 1000 });
    expect(msg.headers?.get('Nats-Service-Error-Code')).toBe('503');
    expect(msg.headers?.get('Nats-Service-Error')).toMatch(/^NodeStoppedError/);
    const stats = await request<ReplicaStats>(`raftline.${cluster}.g.srv.n9.stats`);
    expect(stats).toEqual({ node: 'n9' });

    await expect(
      registerReplicaService({ connection: nc, cluster, group: 'g', node, name: 'a.b' }),
    ).rejects.toThrow(ConfigError);
    await expect(
      registerReplicaService({ connection: nc, cluster, group: 'g', node, version: 'one' }),
    ).rejects.toThrow(/version \("one"\) must be a semantic version/);
  });
});
