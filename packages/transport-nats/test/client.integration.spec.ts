import { pack, unpack } from '@raftline/core';
import {
  connectNats,
  LeaderUnavailableError,
  NatsRaftClient,
  RemoteCommandError,
  serveClients,
  type NatsConnection,
} from '../src/index';
import { leaders, startReplicas, type Replica } from './support/cluster';

/** A fake replica's query: these tests send none. */
const noQuery = () => Promise.reject(new Error('this fake replica serves no queries'));
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

describe('NatsRaftClient and serveClients - request/reply to a group', () => {
  let replicas: Replica[] = [];
  let nc: NatsConnection;
  const servers: { close(): void }[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    servers.splice(0).forEach((s) => s.close());
    await Promise.all(replicas.map((r) => r.node.stop()));
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  it('reaches the leader through any replica, follows the leader hint, and returns the handler value', async () => {
    const cluster = uniqueCluster();
    replicas = await startReplicas(['n1', 'n2', 'n3'], { cluster, group: 'g', connection: nc });
    for (const r of replicas)
      servers.push(serveClients({ connection: nc, cluster, group: 'g', node: r.node }));
    await waitFor('one leader', () => leaders(replicas).length === 1);
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g' });
    const values = [];
    for (let i = 0; i < 10; i++) values.push(await client.propose({ name: 'inc', args: ['k'] }));
    expect(values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(client.leaderHint).toBe(leaders(replicas)[0]!.id);

    // A follower asked directly answers NotLeaderError with the leader's id.
    const follower = replicas.find((r) => !r.node.isLeader())!;
    const msg = await nc.request(
      `raftline.${cluster}.g.client.${follower.id}`,
      pack({ name: 'inc', args: ['k'] }),
      {
        timeout: 1000,
      },
    );
    expect(unpack(msg.data)).toMatchObject({
      ok: false,
      error: { name: 'NotLeaderError', leaderId: client.leaderHint },
    });

    // A malformed request is refused, not applied: by the leader as DecodeError; a follower refuses it unread.
    const bad = await nc.request(
      `raftline.${cluster}.g.client.${client.leaderHint}`,
      new Uint8Array([0xc1]),
      {
        timeout: 1000,
      },
    );
    expect(unpack(bad.data)).toMatchObject({ ok: false, error: { name: 'DecodeError' } });
    const unread = await nc.request(`raftline.${cluster}.g.client.${follower.id}`, new Uint8Array([0xc1]), {
      timeout: 1000,
    });
    expect(unpack(unread.data)).toMatchObject({ ok: false, error: { name: 'NotLeaderError' } });
  });

  it('reports a replica refusal as RemoteCommandError and no replica as LeaderUnavailableError', async () => {
    const cluster = uniqueCluster();
    const refusing = {
      id: 'solo',
      propose: () => Promise.reject(Object.assign(new Error('bad input'), { name: 'CommandRejectedError' })),
      query: noQuery,
    };
    servers.push(serveClients({ connection: nc, cluster, group: 'g', node: refusing }));
    await nc.flush();
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', timeoutMs: 300 });
    await expect(client.propose({ name: 'inc', args: [] })).rejects.toMatchObject({
      name: 'RemoteCommandError',
      remoteName: 'CommandRejectedError',
      outcomeUnknown: false,
    });
    await expect(client.propose({ name: 'inc', args: [] })).rejects.toBeInstanceOf(RemoteCommandError);
    const nobody = new NatsRaftClient({
      connection: nc,
      cluster: uniqueCluster(),
      group: 'g',
      timeoutMs: 300,
    });
    await expect(nobody.propose({ name: 'inc', args: [] })).rejects.toBeInstanceOf(LeaderUnavailableError);
  });

  it('forgets a leader that answered it stopped, so the next command asks any replica', async () => {
    const cluster = uniqueCluster();
    const fail =
      (name: string, extra: object = {}) =>
      () =>
        Promise.reject(Object.assign(new Error(name), { name, ...extra }));
    servers.push(
      serveClients({
        connection: nc,
        cluster,
        group: 'g',
        node: { id: 'a', propose: fail('NotLeaderError', { leaderId: 'b' }), query: noQuery },
      }),
      serveClients({
        connection: nc,
        cluster,
        group: 'g',
        node: { id: 'b', propose: fail('NodeStoppedError'), query: noQuery },
      }),
    );
    await nc.flush();
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', timeoutMs: 1000 });
    for (let i = 0; i < 10; i++) {
      // Whether a (which points at b) or b answers first, b's NodeStoppedError ends the attempt.
      await expect(client.propose({ name: 'inc', args: [] })).rejects.toMatchObject({
        remoteName: 'NodeStoppedError',
        outcomeUnknown: true,
      });
      expect(client.leaderHint).toBe('');
    }
  });
});
