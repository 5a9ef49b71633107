import { ConfigError, resolveNodeConfig } from '@raftline/core';
import { connectNats, NatsRaftClient, PayloadTooLargeError, type NatsConnection } from '../src/index';
import { startTallyReplicas, stopTallyReplicas, type MachineReplica } from './support/machines';
import { startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';

/** The server's max_payload in these tests. */
const MAX_PAYLOAD = 64 * 1024;

/** The error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('payload limits - a command or a reply too large for its way is named, never a timeout', () => {
  let server: OwnNatsServer;
  let nc: NatsConnection;
  let replicas: MachineReplica[] = [];

  beforeAll(async () => {
    server = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}` });
    nc = await connectNats({ servers: server.url });
  });
  afterEach(async () => {
    await stopTallyReplicas(replicas);
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
    await server.dispose();
  });

  async function group(o: Parameters<typeof startTallyReplicas>[1]['config'] = {}, transport = {}) {
    const cluster = uniqueCluster('p');
    replicas = await startTallyReplicas(['n1', 'n2', 'n3'], {
      connection: nc,
      cluster,
      group: 'g',
      config: o,
      transport,
    });
    await waitFor('a leader', () => replicas.some((r) => r.node.isLeader()));
    return new NatsRaftClient({ connection: nc, cluster, group: 'g', timeoutMs: 4000 });
  }

  const lastIndex = () => Math.max(...replicas.map((r) => r.node.status().lastIndex));

  it('the client refuses a request above the server max_payload before sending it', async () => {
    const client = await group();
    expect(await client.propose({ name: 'carry', args: ['small'] })).toBe(5);
    const err = await rejection(client.propose({ name: 'carry', args: ['x'.repeat(MAX_PAYLOAD)] }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ what: 'command', limit: MAX_PAYLOAD, limitName: 'NATS max_payload' });
    expect((err as PayloadTooLargeError).size).toBeGreaterThan(MAX_PAYLOAD);
    expect((err as Error).message).toMatch(
      /^command of \d+ bytes exceeds NATS max_payload \(65536 bytes\); nothing was applied$/,
    );
    // Never sent: no replica saw it.
    const seen = replicas.flatMap((r) => r.seen).map((q) => String(q.args[0]).length);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((n) => n === 'small'.length)).toBe(true);
  });

  it('a replica refuses a command above maxCommandBytes before it enters the log, and the client gets the same error', async () => {
    const client = await group({ maxCommandBytes: 16 * 1024 });
    await client.propose({ name: 'carry', args: ['warm-up'] });
    const before = lastIndex();
    const err = await rejection(client.propose({ name: 'carry', args: ['x'.repeat(20 * 1024)] }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ what: 'command', limit: 16 * 1024, limitName: 'maxCommandBytes' });
    expect((err as PayloadTooLargeError).size).toBeGreaterThan(20 * 1024);
    expect(lastIndex()).toBe(before);
    // A command within the limit still goes through.
    expect(await client.propose({ name: 'carry', args: ['x'.repeat(15 * 1024)] })).toBe(15 * 1024);
  });

  it("a replica refuses a command its transport's maxFrameBytes could never replicate", async () => {
    // Below the server's max_payload, above what one 8 KiB frame holds.
    const client = await group({}, { maxFrameBytes: 8 * 1024 });
    const leader = replicas.find((r) => r.node.isLeader())!;
    expect(leader.transport.maxEntryBytes).toBeLessThan(8 * 1024);
    expect(leader.transport.maxEntryBytes).toBeGreaterThan(7 * 1024);
    const before = lastIndex();
    const err = await rejection(client.propose({ name: 'carry', args: ['x'.repeat(12 * 1024)] }));
    expect(err).toMatchObject({
      name: 'PayloadTooLargeError',
      what: 'command',
      limit: leader.transport.maxEntryBytes,
      limitName: "the transport's maxEntryBytes",
    });
    expect(lastIndex()).toBe(before);
    // An entry that fits one frame replicates to every replica.
    expect(await client.propose({ name: 'carry', args: ['x'.repeat(6 * 1024)] })).toBe(6 * 1024);
    await waitFor('every replica applied it', () => replicas.every((r) => r.machine.counts.carried === 1));
  });

  it('maxCommandBytes must be a positive integer', () => {
    expect(() => resolveNodeConfig({ maxCommandBytes: 0 })).toThrow(ConfigError);
    expect(() => resolveNodeConfig({ maxCommandBytes: 1.5 })).toThrow(
      'maxCommandBytes (1.5) must be a positive integer',
    );
    expect(resolveNodeConfig().node.maxCommandBytes).toBe(1024 * 1024);
  });

  it('a result too large to send back is reported as such, and the command stays applied', async () => {
    const client = await group();
    const err = await rejection(client.propose({ name: 'make', args: [MAX_PAYLOAD + 1] }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ what: 'reply', limit: MAX_PAYLOAD, limitName: 'NATS max_payload' });
    expect((err as Error).message).toMatch(/the command was applied but its result cannot be sent back$/);
    await waitFor('every replica applied it', () => replicas.every((r) => r.machine.counts.made === 1));
    expect(await client.propose({ name: 'make', args: [10] })).toBe('x'.repeat(10));
  });
});
