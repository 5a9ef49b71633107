import type { Message } from '@raftline/core';
import { pack } from '@raftline/core';
import {
  connectNats,
  FrameCodec,
  NatsTransport,
  PROTOCOL_VERSION,
  SubjectTokenError,
  type NatsTransportOptions,
} from '../src/index';
import type { NatsConnection } from '../src/nats';
import { append, everyType, heartbeat, vote } from './support/messages';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

interface Peer {
  transport: NatsTransport;
  inbox: Message[];
}

describe('NatsTransport - exchange over the shared NATS server', () => {
  let nc: NatsConnection;
  let raw: NatsConnection;
  const open: NatsTransport[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
    raw = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await nc.close();
    await raw.close();
  });

  async function peer(
    nodeId: string,
    extra: Partial<NatsTransportOptions> & { cluster: string },
  ): Promise<Peer> {
    const transport = await NatsTransport.create({ group: 'g1', nodeId, connection: nc, ...extra });
    open.push(transport);
    const inbox: Message[] = [];
    await transport.listen((m) => inbox.push(m));
    return { transport, inbox };
  }

  it('delivers every message type intact, with from and to restored', async () => {
    const cluster = uniqueCluster();
    const a = await peer('a', { cluster });
    const b = await peer('b', { cluster });
    const sent = everyType('a', 'b');
    a.transport.send(sent);
    await waitFor('all messages at b', () => b.inbox.length === sent.length);
    expect(b.inbox).toEqual(sent);
    expect(a.inbox).toEqual([]);
  });

  it('coalesces the messages to one peer in one send() into one frame, in order', async () => {
    const cluster = uniqueCluster();
    const a = await peer('a', { cluster });
    const b = await peer('b', { cluster });
    const c = await peer('c', { cluster });
    a.transport.send([heartbeat('a', 'b', 1), vote('a', 'c'), append('a', 'b'), heartbeat('a', 'b', 2)]);
    await waitFor('b and c receive', () => b.inbox.length === 3 && c.inbox.length === 1);
    expect(b.inbox.map((m) => m.type)).toEqual(['heartbeat', 'append', 'heartbeat']);
    expect(a.transport.stats().sent).toMatchObject({ frames: 2, messages: 4, chunks: 0 });
    expect(b.transport.stats().received).toEqual({ frames: 1, messages: 3, chunks: 0 });
  });

  it('keeps groups and clusters apart on one shared connection', async () => {
    const cluster = uniqueCluster();
    const a1 = await peer('a', { cluster, group: 'one' });
    const b1 = await peer('b', { cluster, group: 'one' });
    const b2 = await peer('b', { cluster, group: 'two' });
    const bOther = await peer('b', { cluster: uniqueCluster(), group: 'one' });
    a1.transport.send([heartbeat('a', 'b')]);
    await waitFor('b in group one receives', () => b1.inbox.length === 1);
    await raw.flush();
    expect(b2.inbox).toEqual([]);
    expect(bOther.inbox).toEqual([]);
  });

  it('drops and counts garbage, truncated, wrong-version, wrong-cluster, wrong-group, misaddressed and ill-typed frames', async () => {
    const cluster = uniqueCluster();
    const b = await peer('b', { cluster });
    const subject = b.transport.subjects.raft('b');
    const good = new FrameCodec({ cluster, group: 'g1', nodeId: 'a' }).encodeRaft('b', [heartbeat('a', 'b')]);
    const envelope = (over: Record<string, unknown>) =>
      pack({
        v: PROTOCOL_VERSION,
        c: cluster,
        g: 'g1',
        f: 'a',
        t: 'b',
        term: 1,
        type: 'raft',
        body: [{ type: 'heartbeat', term: 1, commit: 0 }],
        ...over,
      });
    const bad: [string, Uint8Array][] = [
      ['decode', new TextEncoder().encode('hello, raft')],
      ['decode', good.subarray(0, good.byteLength - 3)],
      ['decode', new Uint8Array(0)],
      ['version', envelope({ v: PROTOCOL_VERSION + 1 })],
      ['cluster', envelope({ c: 'elsewhere' })],
      ['group', envelope({ g: 'g2' })],
      ['recipient', envelope({ t: 'c' })],
      ['type', envelope({ body: [{ type: 'install-snapshot', term: 1 }] })],
      ['type', envelope({ type: 'gossip' })],
      ['malformed', envelope({ body: [{ type: 'heartbeat', term: '1', commit: 0 }] })],
      ['malformed', envelope({ body: [{ type: 'heartbeat', term: 1 }] })],
      ['malformed', envelope({ f: 42 })],
      [
        'malformed',
        envelope({
          body: [
            {
              type: 'append',
              term: 1,
              prevIndex: 0,
              prevTerm: 0,
              commit: 0,
              entries: [[1, 1, 'normal', 'not bytes']],
            },
          ],
        }),
      ],
      ['malformed', envelope({ body: [] })],
      ['malformed', pack([1, 2, 3])],
    ];
    for (const [, data] of bad) raw.publish(subject, data);
    raw.publish(subject, good);
    await waitFor('the good frame behind the bad ones', () => b.inbox.length === 1);
    const expected: Record<string, number> = {};
    for (const [reason] of bad) expected[reason] = (expected[reason] ?? 0) + 1;
    expect(b.transport.stats().dropped).toMatchObject(expected);
    expect(b.inbox).toEqual([heartbeat('a', 'b')]);
  });

  it('drops and counts inbound frames larger than maxFrameBytes, and refuses to send them', async () => {
    const cluster = uniqueCluster();
    const a = await peer('a', { cluster, maxFrameBytes: 4096 });
    const b = await peer('b', { cluster, maxFrameBytes: 4096 });
    const big = new FrameCodec({ cluster, group: 'g1', nodeId: 'a' }).encodeRaft('b', [
      append('a', 'b', 2, 4000),
    ]);
    raw.publish(b.transport.subjects.raft('b'), big);
    a.transport.send([append('a', 'b', 2, 4000), heartbeat('a', 'b')]);
    a.transport.send([heartbeat('a', 'b')]);
    await waitFor('the small frame', () => b.inbox.length === 1);
    await waitFor('the oversize count', () => b.transport.stats().dropped.oversize === 1);
    expect(a.transport.stats().sendDropped.oversize).toBe(2);
  });

  it('with a cluster key, rejects unsigned, forged and tampered frames and accepts signed ones', async () => {
    const cluster = uniqueCluster();
    const a = await peer('a', { cluster, clusterKey: 'secret-1' });
    const b = await peer('b', { cluster, clusterKey: 'secret-1' });
    const subject = b.transport.subjects.raft('b');
    const unsigned = new FrameCodec({ cluster, group: 'g1', nodeId: 'a' }).encodeRaft('b', [
      heartbeat('a', 'b', 9),
    ]);
    const forged = new FrameCodec({ cluster, group: 'g1', nodeId: 'a', clusterKey: 'guess' }).encodeRaft(
      'b',
      [heartbeat('a', 'b', 9)],
    );
    const signed = new FrameCodec({ cluster, group: 'g1', nodeId: 'a', clusterKey: 'secret-1' });
    const tampered = signed.encodeRaft('b', [heartbeat('a', 'b', 9)]);
    tampered[tampered.byteLength - 40] = tampered[tampered.byteLength - 40]! ^ 0x01; // a bit of the envelope
    const truncated = signed.encodeRaft('b', [heartbeat('a', 'b', 9)]).subarray(0, 20);
    for (const data of [unsigned, forged, tampered, truncated]) raw.publish(subject, data);
    a.transport.send([heartbeat('a', 'b', 1)]);
    await waitFor('the signed frame', () => b.inbox.length === 1);
    expect(b.inbox).toEqual([heartbeat('a', 'b', 1)]);
    expect(b.transport.stats().dropped.auth).toBe(4);

    // A node without the key cannot talk to keyed nodes, and they cannot talk to it.
    const c = await peer('c', { cluster });
    c.transport.send([heartbeat('c', 'b', 1)]);
    a.transport.send([heartbeat('a', 'c', 1)]);
    await waitFor(
      'both refusals',
      () => b.transport.stats().dropped.auth === 5 && c.transport.stats().dropped.decode === 1,
    );
    expect(c.inbox).toEqual([]);
  });

  it('validates subject tokens and limits with named errors', async () => {
    await expect(
      NatsTransport.create({ cluster: 'a.b', group: 'g', nodeId: 'n', connection: nc }),
    ).rejects.toThrow(SubjectTokenError);
    await expect(
      NatsTransport.create({ cluster: 'c', group: 'g*', nodeId: 'n', connection: nc }),
    ).rejects.toThrow(/group \("g\*"\) is not a valid NATS subject token/);
    await expect(
      NatsTransport.create({ cluster: 'c', group: 'g', nodeId: 'n 1', connection: nc }),
    ).rejects.toThrow(SubjectTokenError);
    await expect(
      NatsTransport.create({ cluster: 'c', group: 'g', nodeId: 'n', connection: nc, maxFrameBytes: 0 }),
    ).rejects.toThrow(/maxFrameBytes \(0\) must be a positive integer/);
    const t = await NatsTransport.create({ cluster: 'c', group: 'g', nodeId: 'n', connection: nc });
    open.push(t);
    expect(() => t.send([heartbeat('n', 'bad.peer')])).not.toThrow();
    expect(t.stats().sendDropped.error).toBe(1);
  });
});
