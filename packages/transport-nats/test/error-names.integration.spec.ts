// What a handler throws keeps its name across NATS: a client in another
// process catches CommandFailedError with the errorName the replica saw.
import {
  Command,
  CommandFailedError,
  MemoryLogStore,
  MemoryStableStore,
  Replica,
  ReplicatedStateMachine,
  StateMachine,
  seededRandom,
} from '@raftline/core';
import { connectClient, connectNats, NatsTransport, serveClients, type NatsConnection } from '../src/index';
import { FAST } from './support/cluster';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

class StaleTokenError extends Error {
  override readonly name = 'StaleTokenError';
}

@StateMachine('fenced')
class Fenced extends ReplicatedStateMachine {
  token = 4;
  @Command() write(token: number): number {
    if (token < this.token) throw new StaleTokenError(`token ${token} < ${this.token}`);
    return token;
  }
}

describe('remote errors - a handler’s error name over NATS', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterAll(async () => {
    await nc.close();
  });

  it('a client receives CommandFailedError with the errorName the handler threw', async () => {
    const cluster = uniqueCluster('en');
    const transport = await NatsTransport.create({ cluster, group: 'g', connection: nc, nodeId: 'n1' });
    const replica = new Replica({
      id: 'n1',
      voters: ['n1'],
      machine: new Fenced(),
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport,
      random: seededRandom(5),
      config: FAST,
    });
    const server = serveClients({ connection: nc, cluster, group: 'g', node: replica.node });
    await replica.start();
    const client = await connectClient<Fenced>({ connection: nc, cluster, group: 'g', timeoutMs: 4000 });
    try {
      await waitFor('a leader', () => replica.node.isLeader());
      expect(await client.commands.write(5)).toBe(5);
      const err: unknown = await client.commands.write(3).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandFailedError);
      expect(err).toMatchObject({
        command: 'write',
        reason: 'token 3 < 4',
        errorName: 'StaleTokenError',
        message: 'command write failed while applying: StaleTokenError: token 3 < 4',
      });
    } finally {
      client.close();
      server.close();
      await replica.stop();
      await transport.close();
    }
  });
});
