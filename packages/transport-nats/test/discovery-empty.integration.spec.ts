import { NodeStoppedError } from '@raftline/core';
import { connectNats, discoverReplicas, registerReplicaService, type NatsConnection } from '../src/index';
import { startNatsServer, type OwnNatsServer } from './support/nats-server';

describe('discoverReplicas - a NATS server with no replica', () => {
  let server: OwnNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url });
  });
  afterAll(async () => {
    await nc.close();
    await server.dispose();
  });

  it('returns an empty list, not NoResponders, when no replica is registered', async () => {
    await expect(discoverReplicas(nc, { timeoutMs: 200 })).resolves.toEqual([]);
    await expect(discoverReplicas(nc, { name: 'other', cluster: 'c', timeoutMs: 200 })).resolves.toEqual([]);
  });

  it('lists a registered replica, and nothing again once it deregistered', async () => {
    const node = {
      id: 'n1',
      status: () => {
        throw new NodeStoppedError('n1');
      },
    };
    const service = await registerReplicaService({ connection: nc, cluster: 'c', group: 'g', node });
    expect((await discoverReplicas(nc, { timeoutMs: 200 })).map((r) => r.node)).toEqual(['n1']);
    await service.stop();
    await expect(discoverReplicas(nc, { timeoutMs: 200 })).resolves.toEqual([]);
  });
});
