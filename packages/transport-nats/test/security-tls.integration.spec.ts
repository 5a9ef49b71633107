import { connectNats, NatsRaftClient, type NatsConnection } from '../src/index';
import { startAdminReplica, type AdminReplica } from './support/admin';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';
import {
  makeCertificates,
  plainTextAttempt,
  tlsConfig,
  type CertFiles,
  type TestPki,
} from './support/security-tls';

jest.setTimeout(90_000);

describe('security - replicas and clients reach NATS over mutual TLS', () => {
  let server: OwnNatsServer;
  let pki: TestPki;
  let stranger: TestPki;
  const cluster = uniqueCluster('sectls');
  const group = 'g';
  const ids = ['n1', 'n2', 'n3'];
  const connections: NatsConnection[] = [];
  const replicas: AdminReplica[] = [];

  const connectWith = async (cert: CertFiles, ca = pki.ca): Promise<NatsConnection> => {
    const nc = await connectNats({
      servers: server.url,
      maxReconnectAttempts: 0,
      tls: { ca, cert: cert.cert, key: cert.key },
    });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    pki = makeCertificates();
    stranger = makeCertificates('another CA');
    server = await startNatsServer({ config: tlsConfig(pki, true) });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(connections.map((nc) => nc.close()));
    await server?.dispose();
    pki?.dispose();
    stranger?.dispose();
  });

  it('three replicas with client certificates elect a leader and serve a client over TLS', async () => {
    for (const id of ids) {
      const nc = await connectWith(pki.client(`replica-${id}`));
      expect(nc.info?.tls_required).toBe(true);
      replicas.push(await startAdminReplica({ connection: nc, cluster, group }, id, ids));
    }
    await waitFor('one leader', () => replicas.filter((r) => r.node.isLeader()).length === 1, 15_000);
    const client = new NatsRaftClient({
      connection: await connectWith(pki.client('client')),
      cluster,
      group,
    });
    for (let i = 1; i <= 5; i++) expect(await client.propose({ name: 'inc', args: ['k'] })).toBe(i);
    const read = await client.query({ name: 'count', args: ['k'] }, { consistency: 'linearizable' });
    expect(read.value).toBe(5);
    await waitFor('every replica applied 5', () => replicas.every((r) => r.applier.counts.get('k') === 5));
    for (const r of replicas) expect(r.transport.stats().dropped.auth).toBe(0);
  });

  it('a plain-text connection is refused: the server announces tls_required and closes it without answering', async () => {
    const attempt = await plainTextAttempt(server.port);
    expect(JSON.parse(attempt.info.replace(/^INFO /, ''))).toMatchObject({ tls_required: true });
    // nats-server 2.9 takes what follows INFO as the start of a TLS handshake: it fails, and the server
    // closes the connection without a PONG (newer servers may send -ERR first).
    expect(attempt.reply).not.toMatch(/PONG|\+OK/);
    expect(attempt.closed).toBe(true);
  });

  it('TLS without a client certificate, or with one from another CA, is refused', async () => {
    const noCert = connectNats({ servers: server.url, maxReconnectAttempts: 0, tls: { ca: pki.ca } });
    await expect(noCert).rejects.toThrow();
    const foreign = stranger.client('intruder');
    await expect(
      connectNats({
        servers: server.url,
        maxReconnectAttempts: 0,
        tls: { ca: pki.ca, cert: foreign.cert, key: foreign.key },
      }),
    ).rejects.toThrow();
    // Nor does a client accept a server its CA did not sign.
    await expect(connectWith(pki.client('client2'), stranger.ca)).rejects.toThrow();
  });
});
