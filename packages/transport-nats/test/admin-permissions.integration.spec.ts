import {
  AdminClient,
  AdminPermissionError,
  connectNats,
  NatsRaftClient,
  type NatsConnection,
} from '../src/index';
import { startAdminGroup, startAdminReplica, type AdminReplica } from './support/admin';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';

jest.setTimeout(60_000);

/**
 * The NATS permissions the README documents, for cluster `cluster`: a
 * replica's, a client's (commands and queries only), an administrator's
 * (admin subjects only) and a monitor's (status only).
 */
function permissionsConfig(cluster: string): string {
  const c = cluster;
  return `
authorization {
  users = [
    { user: replica, password: r, permissions: {
        publish: ["raftline.${c}.>", "_INBOX.>", "$JS.API.>", "$SRV.>"],
        subscribe: ["raftline.${c}.>", "_INBOX.>", "$SRV.>"] } }
    { user: client, password: c, permissions: {
        publish: ["raftline.${c}.*.client", "raftline.${c}.*.client.*", "raftline.${c}.*.query", "raftline.${c}.*.query.*"],
        subscribe: ["_INBOX.>", "raftline.${c}.*.leader"] } }
    { user: admin, password: a, permissions: {
        publish: ["raftline.${c}.*.admin.>"],
        subscribe: ["_INBOX.>"] } }
    { user: monitor, password: m, permissions: {
        publish: ["raftline.${c}.*.admin.status", "raftline.${c}.*.admin.*.status"],
        subscribe: ["_INBOX.>"] } }
  ]
}
`;
}

describe('admin API - NATS permissions keep clients off the admin subjects', () => {
  let server: OwnNatsServer;
  const cluster = uniqueCluster('perm');
  const group = 'g';
  const connections: NatsConnection[] = [];
  let replicas: AdminReplica[] = [];

  const connectAs = async (user: string, pass: string): Promise<NatsConnection> => {
    const nc = await connectNats({ servers: server.url, user, pass });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    server = await startNatsServer({ config: permissionsConfig(cluster) });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(connections.map((nc) => nc.close()));
    await server.dispose();
  });

  it('a client-only user proposes commands but every admin call fails with AdminPermissionError; an admin user administers; a monitor only reads status', async () => {
    const rc = await connectAs('replica', 'r');
    const at = { connection: rc, cluster, group };
    replicas = await startAdminGroup(at, ['n1', 'n2', 'n3']);
    await waitFor('one leader', () => replicas.some((r) => r.node.isLeader()));

    // The client user: commands work.
    const cc = await connectAs('client', 'c');
    const client = new NatsRaftClient({ connection: cc, cluster, group });
    expect(await client.propose({ name: 'inc', args: ['x'] })).toBe(1);
    // Admin subjects: refused by the server, named on the client, nothing carried out.
    const refused = new AdminClient({ connection: cc, cluster, group, timeoutMs: 2000 });
    const err = await refused.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminPermissionError);
    expect(err).toMatchObject({ operation: 'status', subject: `raftline.${cluster}.${group}.admin.status` });
    const add = await refused.addLearner('n4').catch((e: unknown) => e);
    expect(add).toBeInstanceOf(AdminPermissionError);
    await expect(refused.replicaStatus('n1')).rejects.toThrow(
      `status: this NATS user may not publish on raftline.${cluster}.${group}.admin.n1.status`,
    );
    expect(await client.propose({ name: 'inc', args: ['x'] })).toBe(2); // the connection still works

    // The admin user: status and membership.
    const admin = new AdminClient({ connection: await connectAs('admin', 'a'), cluster, group });
    const s = await admin.status();
    expect(s.replicas.map((r) => r.reachable)).toEqual([true, true, true]);
    replicas.push(await startAdminReplica(at, 'n4', []));
    expect((await admin.addLearner('n4')).members.learners).toEqual(['n4']);
    expect((await admin.remove('n4')).changed).toBe(true);

    // The monitor user: status, but no change.
    const monitor = new AdminClient({
      connection: await connectAs('monitor', 'm'),
      cluster,
      group,
      timeoutMs: 2000,
    });
    expect((await monitor.status()).leaderId).toBe(s.leaderId);
    await expect(monitor.addLearner('n4')).rejects.toBeInstanceOf(AdminPermissionError);
    await expect(monitor.snapshot({ node: 'n1' })).rejects.toBeInstanceOf(AdminPermissionError);
    expect((await admin.status()).members.learners).toEqual([]);
  });
});
