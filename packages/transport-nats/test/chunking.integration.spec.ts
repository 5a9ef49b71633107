import type { Message } from '@raftline/core';
import { connectNats, FrameCodec, NatsTransport, type NatsTransportOptions } from '../src/index';
import type { NatsConnection } from '../src/nats';
import { append, heartbeat } from './support/messages';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';

const MAX_PAYLOAD = 64 * 1024;

describe('NatsTransport - frames above max_payload (own nats-server, max_payload 64 KiB)', () => {
  let server: OwnNatsServer;
  let nc: NatsConnection;
  let raw: NatsConnection;
  const open: NatsTransport[] = [];

  beforeAll(async () => {
    server = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}` });
    nc = await connectNats({ servers: server.url });
    raw = await connectNats({ servers: server.url });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await nc?.close();
    await raw?.close();
    await server?.dispose();
  });

  async function peer(nodeId: string, extra: Partial<NatsTransportOptions> & { cluster: string }) {
    const transport = await NatsTransport.create({ group: 'g', nodeId, connection: nc, ...extra });
    open.push(transport);
    const inbox: Message[] = [];
    await transport.listen((m) => inbox.push(m));
    return { transport, inbox };
  }

  it('reads max_payload from the server', () => {
    expect(nc.info?.max_payload).toBe(MAX_PAYLOAD);
  });

  it.each([
    ['without', undefined],
    ['with', 'k3y'],
  ])('splits a 320 KiB frame into chunks and reassembles it (%s a cluster key)', async (_, clusterKey) => {
    const cluster = uniqueCluster();
    const keyed = clusterKey ? { clusterKey } : {};
    const a = await peer('a', { cluster, ...keyed });
    const b = await peer('b', { cluster, ...keyed });
    const big = append('a', 'b', 40, 8 * 1024);
    a.transport.send([big, heartbeat('a', 'b')]);
    await waitFor('the reassembled frame', () => b.inbox.length === 2);
    expect(b.inbox).toEqual([big, heartbeat('a', 'b')]);
    const sent = a.transport.stats().sent;
    expect(sent.frames).toBe(1);
    expect(sent.chunks).toBeGreaterThanOrEqual(Math.ceil((40 * 8 * 1024) / MAX_PAYLOAD));
    expect(b.transport.stats().received).toEqual({ frames: 1, messages: 2, chunks: sent.chunks });
    expect(b.transport.stats().reassembling).toEqual({ frames: 0, bytes: 0 });
  });

  it('discards a partial frame whose chunks never all arrive, after the reassembly timeout', async () => {
    const cluster = uniqueCluster();
    const b = await peer('b', { cluster, reassemblyTimeoutMs: 200 });
    const codec = new FrameCodec({ cluster, group: 'g', nodeId: 'a' });
    const subject = b.transport.subjects.raft('b');
    raw.publish(subject, codec.encodeChunk('b', 1, 'lost', 0, 3, new Uint8Array(1000)));
    raw.publish(subject, codec.encodeChunk('b', 1, 'lost', 2, 3, new Uint8Array(10)));
    await waitFor('the partial frame', () => b.transport.stats().reassembling.frames === 1);
    expect(b.transport.stats().reassembling.bytes).toBe(1010);
    await waitFor('the timeout', () => b.transport.stats().dropped['reassembly-timeout'] === 1, 2000);
    expect(b.transport.stats().reassembling).toEqual({ frames: 0, bytes: 0 });
    expect(b.inbox).toEqual([]);
  });

  it('bounds the reassembly buffer: chunks beyond it are refused and counted', async () => {
    const cluster = uniqueCluster();
    const b = await peer('b', { cluster, maxReassemblyBytes: 100_000, maxReassemblyFrames: 2 });
    const codec = new FrameCodec({ cluster, group: 'g', nodeId: 'a' });
    const subject = b.transport.subjects.raft('b');
    const chunk = (id: string) => codec.encodeChunk('b', 1, id, 0, 4, new Uint8Array(40_000));
    raw.publish(subject, chunk('one'));
    raw.publish(subject, chunk('two')); // 80 000 bytes held: at the byte bound's edge
    raw.publish(subject, chunk('three')); // a third frame: over maxReassemblyFrames
    raw.publish(subject, codec.encodeChunk('b', 1, 'two', 1, 4, new Uint8Array(40_000))); // over maxReassemblyBytes
    await waitFor('the refusals', () => b.transport.stats().dropped['reassembly-full'] === 2);
    expect(b.transport.stats().reassembling).toEqual({ frames: 1, bytes: 40_000 });
  });

  it('drops a chunked frame that grows beyond maxFrameBytes, and a malformed chunk', async () => {
    const cluster = uniqueCluster();
    const a = await peer('a', { cluster });
    const b = await peer('b', { cluster, maxFrameBytes: 100_000 });
    a.transport.send([append('a', 'b', 40, 8 * 1024)]);
    await waitFor('the oversize drop', () => b.transport.stats().dropped.oversize === 1);
    const codec = new FrameCodec({ cluster, group: 'g', nodeId: 'a' });
    raw.publish(b.transport.subjects.raft('b'), codec.encodeChunk('b', 1, 'x', 5, 5, new Uint8Array(10)));
    await waitFor('the malformed chunk', () => b.transport.stats().dropped.malformed === 1);
    a.transport.send([heartbeat('a', 'b')]);
    await waitFor('a small frame after them', () => b.inbox.length === 1);
    expect(b.inbox).toEqual([heartbeat('a', 'b')]);
  });
});
