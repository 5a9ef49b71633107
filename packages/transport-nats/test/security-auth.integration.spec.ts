import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { createAccount, createUser } from '@nats-io/nkeys';
import {
  connectNats,
  credsFileOptions,
  groupSubjects,
  NatsRaftClient,
  NatsTransport,
  type NatsConnection,
  type NodeConnectionOptions,
} from '../src/index';
import { startAdminReplica, type AdminReplica } from './support/admin';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';
import { authorization, readmeAllowLists, watchViolations } from './support/security';
import { makeOperator } from './support/security-auth';

jest.setTimeout(90_000);

/**
 * Runs a 3-replica group whose replicas connect with replicaAuth(id) and a
 * client that connects with clientAuth: the group elects, the client's
 * commands are applied, and the client's publish on a Raft subject is refused.
 */
async function groupServesOver(
  server: OwnNatsServer,
  cluster: string,
  replicaAuth: (id: string) => Partial<NodeConnectionOptions>,
  clientAuth: Partial<NodeConnectionOptions>,
  track: { connections: NatsConnection[]; replicas: AdminReplica[] },
): Promise<void> {
  const group = 'g';
  const ids = ['n1', 'n2', 'n3'];
  const open = async (auth: Partial<NodeConnectionOptions>) => {
    const nc = await connectNats({ servers: server.url, maxReconnectAttempts: 0, ...auth });
    track.connections.push(nc);
    return nc;
  };
  for (const id of ids) {
    const nc = await open(replicaAuth(id));
    track.replicas.push(await startAdminReplica({ connection: nc, cluster, group }, id, ids));
  }
  await waitFor('one leader', () => track.replicas.filter((r) => r.node.isLeader()).length === 1, 15_000);
  const cc = await open(clientAuth);
  const client = new NatsRaftClient({ connection: cc, cluster, group });
  for (let i = 1; i <= 3; i++) expect(await client.propose({ name: 'inc', args: ['k'] })).toBe(i);
  await waitFor('every replica applied 3', () =>
    track.replicas.every((r) => r.applier.counts.get('k') === 3),
  );

  const violations = watchViolations(cc);
  const raft = groupSubjects(cluster, group).raft('n1');
  cc.publish(raft, new Uint8Array([1, 2, 3]));
  await cc.flush();
  await waitFor('the refusal', () => violations.length === 1);
  expect(violations).toEqual([{ operation: 'publish', subject: raft }]);
}

describe('security - NKey authentication end to end', () => {
  let server: OwnNatsServer;
  const cluster = uniqueCluster('secnk');
  const track = { connections: [] as NatsConnection[], replicas: [] as AdminReplica[] };
  const replica = createUser();
  const client = createUser();

  beforeAll(async () => {
    const allow = readmeAllowLists(cluster);
    server = await startNatsServer({
      config: authorization([
        { auth: `nkey: ${replica.getPublicKey()}`, allow: allow.replica },
        { auth: `nkey: ${client.getPublicKey()}`, allow: allow.client },
      ]),
    });
  });
  afterAll(async () => {
    await Promise.all(track.replicas.map((r) => r.stop()));
    await Promise.all(track.connections.map((nc) => nc.close()));
    await server?.dispose();
  });

  it('replicas and a client that sign the server nonce with their NKey seeds elect and serve; an unknown NKey is refused', async () => {
    await groupServesOver(
      server,
      cluster,
      () => ({ authenticator: nkeyAuthenticator(replica.getSeed()) }),
      { authenticator: nkeyAuthenticator(client.getSeed()) },
      track,
    );
    const stranger = createUser();
    await expect(
      connectNats({
        servers: server.url,
        maxReconnectAttempts: 0,
        authenticator: nkeyAuthenticator(stranger.getSeed()),
      }),
    ).rejects.toMatchObject({ name: 'AuthorizationError' });
    // And a transport that opens its own connection passes the authenticator through.
    const t = await NatsTransport.create({
      cluster,
      group: 'other',
      nodeId: 'n1',
      connection: { servers: server.url, authenticator: nkeyAuthenticator(replica.getSeed()) },
    });
    expect(t.stats().connected).toBe(true);
    await t.close();
  });
});

describe('security - creds (JWT) authentication in operator mode', () => {
  let server: OwnNatsServer;
  let dir: string;
  const cluster = uniqueCluster('secjwt');
  const track = { connections: [] as NatsConnection[], replicas: [] as AdminReplica[] };
  const operator = makeOperator();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftline-creds-'));
    server = await startNatsServer({ config: operator.serverConfig });
  });
  afterAll(async () => {
    await Promise.all(track.replicas.map((r) => r.stop()));
    await Promise.all(track.connections.map((nc) => nc.close()));
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replicas and a client with .creds files (user JWTs the account signed) elect and serve; a user signed by an unknown account is refused', async () => {
    const allow = readmeAllowLists(cluster);
    const replicaCreds = operator.userCreds(dir, 'replica', allow.replica);
    const clientCreds = operator.userCreds(dir, 'client', allow.client);
    await groupServesOver(
      server,
      cluster,
      () => credsFileOptions(replicaCreds),
      credsFileOptions(clientCreds),
      track,
    );
    const forged = operator.userCreds(dir, 'forged', allow.replica, createAccount());
    await expect(
      connectNats({ servers: server.url, maxReconnectAttempts: 0, ...credsFileOptions(forged) }),
    ).rejects.toMatchObject({ name: 'AuthorizationError' });
  });
});
