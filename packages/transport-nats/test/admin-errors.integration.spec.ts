import {
  ConfigError,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  NodeStoppedError,
  RaftNode,
  seededRandom,
  systemClock,
} from '@raftline/core';
import {
  AdminClient,
  AdminRefusedError,
  AdminUnavailableError,
  connectNats,
  serveAdmin,
  SubjectTokenError,
  type NatsConnection,
} from '../src/index';
import { CounterApplier } from './support/cluster';
import { startAdminReplica, type AdminReplica, type GroupAddress } from './support/admin';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

jest.setTimeout(60_000);

describe('admin API - named errors, never a hang or a crash', () => {
  let nc: NatsConnection;
  let at: GroupAddress;
  let replicas: AdminReplica[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  beforeEach(() => {
    at = { connection: nc, cluster: uniqueCluster('aer'), group: 'g' };
  });
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  it('refuses bad client and server options with ConfigError or SubjectTokenError naming them', () => {
    expect(() => new AdminClient({ ...at, timeoutMs: 0 })).toThrow(
      'timeoutMs (0) must be an integer between 1 and 300000',
    );
    expect(() => new AdminClient({ ...at, requestTimeoutMs: 1.5 })).toThrow(ConfigError);
    expect(() => new AdminClient({ ...at, replicas: ['a.b'] })).toThrow(SubjectTokenError);
    expect(() => new AdminClient({ ...at, timeout: 5 } as never)).toThrow(/timeout/);
    const node = { id: 'n1' } as never;
    expect(() => serveAdmin({ ...at, node, lagSampleMs: 0 })).toThrow(
      'lagSampleMs (0) must be a positive integer',
    );
    expect(() => serveAdmin({ ...at, node, lagWindow: 1 } as never)).toThrow(ConfigError);
  });

  it('reports a group nobody serves as AdminUnavailableError, with nothing carried out', async () => {
    const admin = new AdminClient({ ...at, timeoutMs: 300, requestTimeoutMs: 100 });
    await expect(admin.status()).rejects.toBeInstanceOf(AdminUnavailableError);
    const err = await admin.addVoter('n4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminUnavailableError);
    expect(err).toMatchObject({ operation: 'add-voter', attempts: 0, outcomeUnknown: false });
    // Seeds are reported, not thrown.
    const seeded = await new AdminClient({ ...at, replicas: ['x1'], requestTimeoutMs: 100 }).status();
    expect(seeded.replicas).toEqual([
      { node: 'x1', reachable: false, reason: 'nobody serves its admin subject' },
    ]);
    expect(seeded.leaderId).toBe('');
  });

  it('answers malformed requests and unknown operations with AdminRequestError, and keeps serving', async () => {
    replicas = [await startAdminReplica(at, 'n1', ['n1'])];
    const ask = async (op: string, payload: string) => {
      const msg = await nc.request(`raftline.${at.cluster}.g.admin.n1.${op}`, payload, { timeout: 1000 });
      return msg.json<{ ok: boolean; error?: { name: string; message: string } }>();
    };
    expect(await ask('add-voter', '{"node":')).toMatchObject({
      ok: false,
      error: { name: 'AdminRequestError', message: 'malformed add-voter request: the payload is not JSON' },
    });
    expect(await ask('frobnicate', '')).toMatchObject({ ok: false, error: { name: 'AdminRequestError' } });
    expect(await ask('status', '{"verbose":true}')).toMatchObject({
      ok: false,
      error: { message: 'malformed status request: unknown key "verbose"' },
    });
    expect(await ask('status', '')).toMatchObject({ ok: true, value: { id: 'n1' } });
  });

  it('refuses what cannot apply to the group: removing the only voter, transferring with no other voter, a snapshot without a store', async () => {
    replicas = [await startAdminReplica(at, 'n1', ['n1'], {}, { snapshots: false })];
    await waitFor('n1 to lead', () => replicas[0]!.node.isLeader());
    const admin = new AdminClient({ ...at, timeoutMs: 2000 });
    await expect(admin.remove('n1')).rejects.toThrow('remove refused: n1 is the only voter');
    await expect(admin.transferLeadership()).rejects.toThrow('transfer refused: n1 is the only voter');
    await expect(admin.transferLeadership('n1')).resolves.toEqual({ leaderId: 'n1', changed: false });
    const snap = await admin.snapshot().catch((e: unknown) => e);
    expect(snap).toBeInstanceOf(ConfigError);
    expect((snap as ConfigError).problems).toEqual(['snapshotStore is not set: node n1 cannot snapshot']);
    await expect(admin.promote('n1')).resolves.toMatchObject({ changed: false });
    await expect(admin.addLearner('n1')).rejects.toBeInstanceOf(AdminRefusedError);
  });

  it('reports a replica whose node is not started yet as unreachable, naming NodeStoppedError', async () => {
    const node = new RaftNode({
      id: 'n1',
      voters: ['n1'],
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: new MemoryNetwork().transport('n1'),
      clock: systemClock,
      random: seededRandom(1),
      applier: new CounterApplier(),
    });
    const server = serveAdmin({ ...at, node });
    try {
      const admin = new AdminClient({ ...at, replicas: ['n1'], requestTimeoutMs: 500 });
      const s = await admin.status();
      expect(s.replicas).toEqual([
        { node: 'n1', reachable: false, reason: 'NodeStoppedError: node n1 is stopped' },
      ]);
      await expect(admin.replicaStatus('n1')).rejects.toBeInstanceOf(NodeStoppedError);
    } finally {
      server.close();
    }
  });
});
