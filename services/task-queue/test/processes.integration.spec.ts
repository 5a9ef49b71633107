// Real processes: three task queue replicas (scripts/replica.ts) over the
// machine's NATS on PostgreSQL stores, two worker processes, a producer in
// this process. The leader and a worker holding a job mid-handler are
// killed with -9. What must hold, read from the committed stream (the
// JetStream mirror, folded by jobEvents): no job is lost, none is completed
// twice, every completion is under the job's last lease, and the killed
// worker's job comes back after its lease expires and is completed by the
// other worker. Bounded: 240 jobs, about 30 s.
import { randomUUID } from 'node:crypto';
import { AdminClient, connectNats, readCommitted, type NatsConnection } from '@raftline/transport-nats';
import { JobEventFeed, Producer, type JobEvent } from '../src/index';
import { NATS_URL, sleep, until } from './support/group';
import {
  deleteGroupRows,
  deleteStream,
  PG_SCHEMA,
  PG_URL,
  REPLICA_SCRIPT,
  spawnChild,
  WORKER_SCRIPT,
  type Child,
} from './support/processes';

jest.setTimeout(90_000);

const IDS = ['r1', 'r2', 'r3'];
const QUEUE = 'work';
const LEASE_MS = 3000;
const FAST_JOBS = 200;
const SLOW_JOBS = 4;
const LATE_JOBS = 36;

describe('task queue - real processes over NATS and PostgreSQL', () => {
  const cluster = `tqp${randomUUID().slice(0, 8)}`;
  const group = `tq-${randomUUID().slice(0, 8)}`;
  const children: Child[] = [];
  let nc: NatsConnection;
  let producer: Producer;
  let admin: AdminClient;

  const replicaEnv = (id: string): Record<string, string> => ({
    NATS_URL,
    RAFT_CLUSTER: cluster,
    RAFT_GROUP: group,
    RAFT_ID: id,
    RAFT_VOTERS: IDS.join(','),
    RAFT_PG_URL: PG_URL,
    RAFT_PG_SCHEMA: PG_SCHEMA,
    ELECTION_MS: '600',
    TICK_MS: '500',
  });
  const startReplica = async (id: string): Promise<Child> => {
    const child = await spawnChild(id, REPLICA_SCRIPT, replicaEnv(id));
    children.push(child);
    return child;
  };
  const startWorker = async (id: string): Promise<Child> => {
    const env = { NATS_URL, RAFT_CLUSTER: cluster, RAFT_GROUP: group, QUEUE, WORKER_ID: id };
    const child = await spawnChild(id, WORKER_SCRIPT, {
      ...env,
      CONCURRENCY: '4',
      LEASE_MS: String(LEASE_MS),
    });
    children.push(child);
    return child;
  };
  const leaderId = async (): Promise<string> => {
    let leader = '';
    await until(
      async () => (leader = (await admin.status().catch(() => undefined))?.leaderId ?? '') !== '',
      'a leader',
      20_000,
    );
    return leader;
  };

  beforeAll(async () => {
    nc = await connectNats({ servers: NATS_URL });
    admin = new AdminClient({ connection: nc, cluster, group });
    producer = new Producer({ connection: nc, cluster, group, timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await producer?.close();
    await Promise.all(children.map((c) => c.stop()));
    await deleteStream(nc, cluster, group).catch(() => undefined);
    await nc?.close();
    await deleteGroupRows(group);
  });

  it('kill -9 of the leader and of a worker mid-job: no job lost, none completed twice, the killed worker’s job re-delivered after its lease', async () => {
    const replicas = await Promise.all(IDS.map(startReplica));
    await leaderId();

    // Worker A alone first, so that it takes the slow jobs; it is killed while it runs them.
    const a = await startWorker('worker-a');
    const slow = await producer.enqueueMany(
      QUEUE,
      Array.from({ length: SLOW_JOBS }, () => ({ payload: { ms: 60_000, retryMs: 5 } })),
    );
    await until(
      () => a.lines.filter((l) => l.event === 'active').length === SLOW_JOBS,
      'A running the slow jobs',
    );
    const b = await startWorker('worker-b');
    const fast = await Promise.all(
      Array.from({ length: FAST_JOBS }, () => producer.enqueue(QUEUE, { ms: 5 })),
    );
    await a.kill9();
    await until(() => b.lines.filter((l) => l.event === 'completed').length >= FAST_JOBS / 4, 'B under way');

    // Kill the leader while B works and the producer enqueues; then restart it from its rows.
    const killed = await leaderId();
    const victim = replicas[IDS.indexOf(killed)]!;
    const lateCalls = Array.from({ length: LATE_JOBS }, async (_, i) => {
      await sleep(i * 20);
      return producer.enqueue(QUEUE, { ms: 5 });
    });
    await victim.kill9();
    const late = await Promise.all(lateCalls);
    expect(await leaderId()).not.toBe(killed);
    await startReplica(killed);

    const all = [...slow, ...fast, ...late];
    expect(new Set(all).size).toBe(SLOW_JOBS + FAST_JOBS + LATE_JOBS);
    await until(async () => (await producer.stats(QUEUE)).done === all.length, 'every job done', 45_000);
    const stats = await producer.stats(QUEUE);
    expect(stats).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0, done: all.length });

    // The committed stream, folded: what every job went through.
    const feed = new JobEventFeed();
    const events: JobEvent[] = [];
    await until(
      async () => {
        for await (const r of readCommitted({
          connection: nc,
          cluster,
          group,
          fromIndex: feed.index + 1,
          outcomes: 'all',
          follow: false,
        })) {
          events.push(...feed.apply(r));
        }
        return events.filter((e) => e.type === 'completed').length >= all.length;
      },
      'the mirror holding every completion',
      15_000,
    );
    const byJob = new Map<string, JobEvent[]>();
    for (const e of events) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e]);
    for (const id of all) {
      const life = byJob.get(id) ?? [];
      const completed = life.filter((e) => e.type === 'completed');
      expect({ id, completions: completed.length }).toEqual({ id, completions: 1 }); // none lost, none twice
      const claims = life
        .filter((e) => e.type === 'claimed')
        .map((e) => (e.type === 'claimed' ? e.token : 0));
      expect(claims).toEqual([...claims].sort((x, y) => x - y)); // tokens increase from claim to claim
      expect(completed[0]!.type === 'completed' && completed[0]!.token).toBe(claims[claims.length - 1]);
    }
    for (const id of slow) {
      const life = byJob.get(id)!;
      expect(life.map((e) => e.type)).toEqual(['enqueued', 'claimed', 'failed', 'claimed', 'completed']);
      expect(life[1]).toMatchObject({ workerId: 'worker-a', attempt: 1 });
      expect(life[2]).toMatchObject({ expired: true, workerId: 'worker-a', next: 'ready' });
      expect(life[3]).toMatchObject({ workerId: 'worker-b', attempt: 2 });
      expect(life[4]).toMatchObject({ workerId: 'worker-b' });
    }
    expect(await producer.getJob(slow[0]!)).toMatchObject({ state: 'done', result: 'worker-b', attempts: 2 });
  });
});
