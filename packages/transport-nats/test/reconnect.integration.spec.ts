import type { Message } from '@raftline/core';
import { NatsTransport } from '../src/index';
import { heartbeat } from './support/messages';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';

describe('NatsTransport - NATS goes away and comes back (own nats-server)', () => {
  let server: OwnNatsServer;
  const open: NatsTransport[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()));
    await server?.dispose();
  });

  it('drops sends while disconnected, buffers nothing, and delivers again once NATS is back', async () => {
    const cluster = uniqueCluster();
    const make = async (nodeId: string) => {
      const t = await NatsTransport.create({
        cluster,
        group: 'g',
        nodeId,
        connection: { servers: server.url },
      });
      open.push(t);
      const inbox: Message[] = [];
      await t.listen((m) => inbox.push(m));
      return { t, inbox };
    };
    const a = await make('a');
    const b = await make('b');
    a.t.send([heartbeat('a', 'b', 1)]);
    await waitFor('delivery before the outage', () => b.inbox.length === 1);

    await server.stop();
    await waitFor('a notices the outage', () => !a.t.stats().connected);
    for (let i = 0; i < 100; i++) a.t.send([heartbeat('a', 'b', 2)]);
    expect(a.t.stats().sendDropped.disconnected).toBe(100);
    expect(a.t.stats().sent.frames).toBe(1);

    await server.start();
    await waitFor('both reconnect', () => a.t.stats().connected && b.t.stats().connected, 10_000);
    // The subscription is renewed on reconnect; allow for b's SUB to reach the server first.
    await waitFor(
      'delivery after the outage',
      () => {
        a.t.send([heartbeat('a', 'b', 3)]);
        return b.inbox.some((m) => m.term === 3);
      },
      5000,
    );
    expect(b.inbox.filter((m) => m.term === 2)).toEqual([]);
  }, 30_000);
});
