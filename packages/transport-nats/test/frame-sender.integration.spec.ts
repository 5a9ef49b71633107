import type { Message } from '@raftline/core';
import { connectNats, FrameCodec, NatsTransport, type NatsConnection } from '../src/index';
import { heartbeat } from './support/messages';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

describe('NatsTransport - a frame whose sender is not a legal node id', () => {
  let nc: NatsConnection;
  let raw: NatsConnection;
  let transport: NatsTransport | undefined;

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
    raw = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await transport?.close();
    transport = undefined;
  });
  afterAll(async () => {
    await nc.close();
    await raw.close();
  });

  it('is dropped and counted as malformed, and the frames behind it still arrive', async () => {
    const cluster = uniqueCluster();
    transport = await NatsTransport.create({ cluster, group: 'g1', nodeId: 'b', connection: nc });
    const inbox: Message[] = [];
    await transport.listen((m) => inbox.push(m));
    const subject = transport.subjects.raft('b');
    // What a peer running under an illegal id would send: the codec stamps its id as the sender.
    const from = (nodeId: string) =>
      new FrameCodec({ cluster, group: 'g1', nodeId }).encodeRaft('b', [heartbeat(nodeId, 'b')]);
    const illegal = ['a.b', 'a b', '*', '>', 'x>', 'tab\t', 'nul\u0000', '\u007f', 'line\n'];
    for (const f of illegal) raw.publish(subject, from(f));
    raw.publish(subject, from('a'));
    await waitFor('the legal frame behind the illegal ones', () => inbox.some((m) => m.from === 'a'), 3000);
    expect(inbox).toEqual([heartbeat('a', 'b')]);
    expect(transport.stats().dropped.malformed).toBe(illegal.length);
    expect(transport.stats().received.frames).toBe(1);
  });
});
