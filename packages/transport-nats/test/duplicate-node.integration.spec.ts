import {
  connectNats,
  discoverReplicas,
  DuplicateNodeError,
  NatsTransport,
  type NatsConnection,
} from '../src/index';
import { spawnReplicas, type ReplicaProcess } from './support/processes';
import { SHARED_NATS, startNatsServer, uniqueCluster, type OwnNatsServer } from './support/nats-server';

// One live transport per (cluster, group, node): a second one with the same
// id is refused with DuplicateNodeError, in this process or another, and
// never registers with discovery; once the first is gone the id starts again.

/** How many transports answer for node in cluster/group right now (waits 300 ms for answers). */
async function answering(nc: NatsConnection, cluster: string, group: string, node: string): Promise<number> {
  const subject = `raftline.${cluster}.${group}.alive.${node}`;
  let n = 0;
  try {
    for await (const _ of await nc.requestMany(subject, undefined, { strategy: 'timer', maxWait: 300 })) n++;
  } catch {
    // no responders: nobody answers
  }
  return n;
}

describe('duplicate node ids - one process, the shared NATS server', () => {
  let nc: NatsConnection;
  const open: NatsTransport[] = [];
  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await nc.close();
  });

  const create = async (cluster: string, nodeId: string, group = 'g', connection = nc) => {
    const t = await NatsTransport.create({ cluster, group, nodeId, connection });
    open.push(t);
    return t;
  };

  it('a second transport with the same cluster, group and node is refused, naming the live one; other ids are not; close() frees the id', async () => {
    const cluster = uniqueCluster();
    const first = await create(cluster, 'n1');
    const refused = create(cluster, 'n1').catch((e: unknown) => e);
    expect(await refused).toBeInstanceOf(DuplicateNodeError);
    expect(await refused).toMatchObject({
      cluster,
      group: 'g',
      nodeId: 'n1',
      other: { pid: process.pid, host: expect.any(String), startedAt: expect.any(Number) },
    });
    expect(String(await refused)).toMatch(
      new RegExp(`node n1 of ${cluster}/g is already running \\(pid ${process.pid} on `),
    );
    // The refused one answers for nothing; the live one still does.
    expect(await answering(nc, cluster, 'g', 'n1')).toBe(1);

    await create(cluster, 'n2');
    await create(cluster, 'n1', 'other-group');
    await create(uniqueCluster(), 'n1');

    await first.close();
    expect(await answering(nc, cluster, 'g', 'n1')).toBe(0);
    await create(cluster, 'n1');
  });

  it('a subscriber that never answers (a wildcard listener) does not block a start', async () => {
    const cluster = uniqueCluster();
    const listener = nc.subscribe(`raftline.${cluster}.>`);
    try {
      await nc.flush();
      await expect(create(cluster, 'n1')).resolves.toBeInstanceOf(NatsTransport);
    } finally {
      listener.unsubscribe();
    }
  });

  it('of transports started at the same moment with one id, on separate connections, exactly one starts; the others are refused', async () => {
    const connections = await Promise.all(
      Array.from({ length: 4 }, () => connectNats({ servers: SHARED_NATS })),
    );
    const cluster = uniqueCluster();
    const winners: number[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const nodeId = `r${round}`;
        const outcomes = await Promise.allSettled(connections.map((c) => create(cluster, nodeId, 'g', c)));
        for (const o of outcomes) {
          if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DuplicateNodeError);
        }
        winners.push(outcomes.filter((o) => o.status === 'fulfilled').length);
        expect(await answering(nc, cluster, 'g', nodeId)).toBe(winners[round]);
      }
      expect(winners).toEqual(Array.from({ length: 10 }, () => 1));
    } finally {
      await Promise.all(open.splice(0).map((t) => t.close()));
      await Promise.all(connections.map((c) => c.close()));
    }
  }, 30_000);
});

describe('duplicate node ids - replica processes on a nats-server of their own', () => {
  let server: OwnNatsServer;
  let nc: NatsConnection;
  const procs: ReplicaProcess[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url });
  }, 20_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill9()));
    await nc?.close();
    await server?.dispose();
  });

  it('a second process with the same id fails with DuplicateNodeError and never registers; after kill -9 of the first the id starts again', async () => {
    const o = { natsUrl: server.url, cluster: uniqueCluster(), group: 'g', ids: ['n1'], electionMs: 300 };
    const [first] = await spawnReplicas(o);
    procs.push(first!);

    const second = spawnReplicas(o).catch((e: unknown) => e);
    const failure = String(await second);
    expect(failure).toMatch(/replica n1 exited \(1\)/);
    expect(failure).toMatch(
      new RegExp(
        `DuplicateNodeError: node n1 of ${o.cluster}/g is already running \\(pid ${first!.proc.pid} on `,
      ),
    );
    const listed = await discoverReplicas(nc, { cluster: o.cluster, group: 'g' });
    expect(listed.map((r) => r.node)).toEqual(['n1']);

    await first!.kill9();
    const [third] = await spawnReplicas(o);
    procs.push(third!);
    const relisted = await discoverReplicas(nc, { cluster: o.cluster, group: 'g' });
    expect(relisted.map((r) => r.node)).toEqual(['n1']);
    expect(await answering(nc, o.cluster, 'g', 'n1')).toBe(1);
  }, 60_000);
});
