import type { RaftNode } from '@raftline/core';
import {
  connectNats,
  mirrorCommitted,
  NatsRaftClient,
  serveClients,
  type JetStreamMirror,
  type NatsConnection,
} from '../src/index';
import { startReplicas, type Replica } from './support/cluster';
import { deleteStream, readStream } from './support/jetstream';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';
import { startLoad, type Load } from './support/processes';

/** [index, term, key] of every committed command of a node, read from its committed stream. */
async function committedOf(node: RaftNode, count: number): Promise<[number, number, string][]> {
  const out: [number, number, string][] = [];
  if (count === 0) return out;
  for await (const e of node.committed()) {
    out.push([e.index, e.term, String(e.command.args[0])]);
    if (out.length === count) break;
  }
  return out;
}

describe('JetStreamMirror - three RaftNodes over NATS with the mirror on', () => {
  let nc: NatsConnection;
  let replicas: Replica[] = [];
  const mirrors: JetStreamMirror[] = [];
  const servers: { close(): void }[] = [];
  const loads: Load[] = [];
  let stream = '';

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterAll(async () => {
    loads.forEach((l) => l.stop());
    await Promise.all(loads.map((l) => l.done));
    servers.forEach((s) => s.close());
    await Promise.all(mirrors.map((m) => m.close()));
    await Promise.all(replicas.map((r) => r.node.stop()));
    if (stream) await deleteStream(nc, stream);
    await nc.close();
  });

  it('after leader changes under load (two isolations, one stopped leader), the stream holds exactly the committed commands, in order', async () => {
    const cluster = uniqueCluster('mr');
    replicas = await startReplicas(['n1', 'n2', 'n3'], { cluster, group: 'g', connection: nc });
    for (const r of replicas) {
      servers.push(serveClients({ connection: nc, cluster, group: 'g', node: r.node }));
      mirrors.push(await mirrorCommitted({ node: r.node, connection: nc, cluster, group: 'g' }));
    }
    stream = mirrors[0]!.stream;
    const stopped = new Set<Replica>();
    const leaderNow = () => replicas.find((r) => !stopped.has(r) && !r.link.isolated && r.node.isLeader());
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', timeoutMs: 3000 });
    const load = startLoad(client, { workers: 8, maxCommands: 20_000, maxMs: 45_000, prefix: 'm' });
    loads.push(load);
    const progress = async (what: string, n = 100) => {
      const at = load.result.acked.length;
      await waitFor(what, () => load.result.acked.length >= at + n, 10_000);
    };
    await waitFor('a leader', () => leaderNow() !== undefined);
    await progress('commands through the first leader');

    const deposed: string[] = [];
    for (let round = 0; round < 2; round++) {
      const old = leaderNow()!;
      deposed.push(old.id);
      old.link.isolated = true;
      await waitFor('another leader', () => (leaderNow() ?? old) !== old, 5000);
      await progress(`commands after isolating ${old.id}`);
      old.link.isolated = false;
      await waitFor(`${old.id} steps down`, () => !old.node.isLeader(), 5000);
    }
    const victim = leaderNow()!;
    deposed.push(victim.id);
    servers[replicas.indexOf(victim)]!.close();
    await victim.node.stop(); // its mirror keeps running: a stopped node still says it leads
    stopped.add(victim);
    await waitFor('a leader among the survivors', () => leaderNow() !== undefined, 5000);
    await progress('commands after stopping the leader');
    load.stop();
    const result = await load.done;

    const survivors = replicas.filter((r) => !stopped.has(r));
    const leader = leaderNow()!;
    await waitFor(
      'the survivors applied everything committed',
      () => survivors.every((r) => r.node.status().appliedIndex === leader.node.status().commitIndex),
      10_000,
    );
    const expected = await committedOf(leader.node, leader.applier.applied.length);
    for (const r of survivors) {
      expect(await committedOf(r.node, r.applier.applied.length)).toEqual(expected);
    }
    const lastIndex = expected[expected.length - 1]![0];
    await waitFor(
      'the mirror caught up',
      () => mirrors.some((m) => m.status().lastIndex === lastIndex),
      10_000,
    );

    // An ordinary JetStream consumer reads exactly the committed command sequence.
    const read = await readStream(nc, stream);
    expect(read.map((m) => [m.record.index, m.record.term, m.record.command.args[0]])).toEqual(expected);
    expect(read.map((m) => m.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(read.map((m) => m.msgId)).toEqual(expected.map(([index]) => String(index)));
    const keys = read.map((m) => String(m.record.command.args[0]));
    expect(new Set(keys).size).toBe(keys.length);
    const inStream = new Set(keys);
    expect(result.acked.filter((k) => !inStream.has(k))).toEqual([]);
    // The stream was written by more than one leader.
    expect(new Set(deposed).size).toBeGreaterThanOrEqual(2);
    expect(mirrors.filter((m) => m.status().published > 0).length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
