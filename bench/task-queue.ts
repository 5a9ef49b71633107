/**
 * The task queue end to end against BullMQ, side by side in interleaved
 * rounds: jobs/s and enqueue-to-completion latency (p50, p99) of
 * enqueue → claim → no-op handler → ack, with 1, 8 and 32 worker concurrency.
 *
 * - raftline: three replica processes (services/task-queue/scripts/replica.ts)
 *   on PostgreSQL stores (synchronous_commit on: every commit is durable),
 *   over NATS; a Producer and a Worker in this process, each on its own NATS
 *   connection. Every enqueue, claim and ack is a Raft-committed entry.
 * - BullMQ: a Queue and a Worker in this process on the local Redis
 *   (127.0.0.1:6379; one instance, no replication), removeOnComplete 1000
 *   (the task queue keeps 1000 done jobs per queue).
 * raftline runs twice: with the Worker's defaults (`prefetch: 'auto'`: it
 * holds as many jobs beyond concurrency as keep its slots busy while a claim
 * is on its way) and with `prefetch: 0` (BullMQ's way: a slot that finishes
 * waits for the next claim).
 * All get the same jobs: `JOBS[c]` jobs of one ~100-byte payload, one
 * add/enqueue call per job with up to `OUTSTANDING` calls in flight (a
 * flood: jobs/s, and the latency of a saturated queue), then 100 jobs one
 * at a time (the latency of an idle queue); a no-op handler, the same
 * concurrency c. Latency runs from the add call to the worker's
 * 'completed' event (after the ack). Each round runs every system, the
 * order rotating; the median round of each is reported with the ratios
 * raftline / BullMQ.
 *
 * Run: npm run bench:queue   (= node -r ./scripts/ts-register.js bench/task-queue.ts)
 * NATS_URL, RAFTLINE_PG_URL and REDIS_URL override the machine's servers;
 * BENCH_SYSTEMS (raftline,raftline-prefetch-0,bullmq), BENCH_CONCURRENCY
 * (1,8,32), BENCH_ROUNDS (3) and BENCH_JOBS (jobs of every flood) narrow a run while
 * investigating; BENCH_PROFILE=dir runs the replicas under --cpu-prof.
 * Writes bench/results/task-queue.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue, Worker as BullWorker } from 'bullmq';
import IORedis from 'ioredis';
import { Pool } from 'pg';
import { Producer, Worker } from '@raftline/task-queue';
import { AdminClient, connectNats, type NatsConnection } from '@raftline/transport-nats';

const ROOT = path.resolve(__dirname, '..');
const REGISTER = path.join(ROOT, 'scripts/ts-register.js');
const REPLICA = path.join(ROOT, 'services/task-queue/scripts/replica.ts');
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_SCHEMA = 'raftline_bench';
const IDS = ['q1', 'q2', 'q3'];
const ELECTION_MS = 1000;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY?.split(',').map(Number) ?? [1, 8, 32]) as readonly (
  1 | 8 | 32
)[];
/** Jobs of a flood: seconds of steady work for every system, not only its ramp-up. */
const JOBS: Record<1 | 8 | 32, number> = process.env.BENCH_JOBS
  ? {
      1: Number(process.env.BENCH_JOBS),
      8: Number(process.env.BENCH_JOBS),
      32: Number(process.env.BENCH_JOBS),
    }
  : { 1: 5000, 8: 10000, 32: 20000 };
const WARMUP = 500;
/** Jobs of a one-at-a-time (latency) run. */
const ONE_AT_A_TIME = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const OUTSTANDING = 256;
/** A run that has not completed its jobs by then is reported with what it completed. */
const RUN_LIMIT_MS = 90_000;
const PAYLOAD = { kind: 'email', to: 'someone@example.com', body: 'x'.repeat(56) };

/** raftline with the Worker's defaults (auto prefetch); raftline-prefetch-0 with prefetch 0; BullMQ. */
type System = 'raftline' | 'raftline-prefetch-0' | 'bullmq';
const SYSTEMS: readonly System[] = (process.env.BENCH_SYSTEMS?.split(',') as System[] | undefined) ?? [
  'raftline',
  'raftline-prefetch-0',
  'bullmq',
];

interface Run {
  readonly system: System;
  readonly concurrency: number;
  readonly jobs: number;
  readonly completed: number;
  readonly seconds: number;
  readonly jobsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What one system needs to run a round: a producer's add, a worker's start, and cleanup. */
interface Subject {
  add(queue: string, payload: unknown): Promise<unknown>;
  /** Starts a worker on queue; onDone is called once per completed job with its payload. */
  work(
    queue: string,
    concurrency: number,
    onDone: (payload: { seq: number }) => void,
  ): Promise<{ close(): Promise<void> }>;
  drop(queue: string): Promise<void>;
}

// ---------------------------------------------------------------- raftline

async function startReplicas(cluster: string, group: string): Promise<ChildProcess[]> {
  return Promise.all(
    IDS.map(
      (id) =>
        new Promise<ChildProcess>((resolve, reject) => {
          const profile = process.env.BENCH_PROFILE
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
            : [];
          const proc = spawn(process.execPath, [...profile, '-r', REGISTER, REPLICA], {
            env: {
              ...process.env,
              NATS_URL,
              RAFT_CLUSTER: cluster,
              RAFT_GROUP: group,
              RAFT_ID: id,
              RAFT_VOTERS: IDS.join(','),
              RAFT_PG_URL: PG_URL,
              RAFT_PG_SCHEMA: PG_SCHEMA,
              ELECTION_MS: String(ELECTION_MS),
              RAFT_MIRROR: '0',
              SNAPSHOT_ENTRIES: '20000',
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let err = '';
          proc.stderr?.on('data', (b: Buffer) => (err += b.toString().slice(0, 5000)));
          const timer = setTimeout(
            () => reject(new Error(`replica ${id} not ready in 30 s: ${err}`)),
            30_000,
          );
          proc.stdout?.on('data', (b: Buffer) => {
            if (!b.toString().includes('"ready"')) return;
            clearTimeout(timer);
            resolve(proc);
          });
          proc.once('exit', (code) => reject(new Error(`replica ${id} exited (${code}): ${err}`)));
        }),
    ),
  );
}

async function stopProcesses(procs: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
          p.once('exit', () => (clearTimeout(kill), resolve()));
          p.kill('SIGTERM');
        }),
    ),
  );
}

async function awaitLeader(nc: NatsConnection, cluster: string, group: string): Promise<string> {
  const admin = new AdminClient({ connection: nc, cluster, group });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const status = await admin.status().catch(() => undefined);
    if (
      status?.leaderId &&
      status.replicas.every((r) => r.reachable && r.status.leaderId === status.leaderId)
    )
      return status.leaderId;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('no leader within 30 s');
}

function raftlineSubject(
  cluster: string,
  group: string,
  producerNc: NatsConnection,
  workerNc: NatsConnection,
  prefetch: 0 | undefined,
) {
  const producer = new Producer({ connection: producerNc, cluster, group, timeoutMs: 30_000 });
  const subject: Subject = {
    add: (queue, payload) => producer.enqueue(queue, payload),
    work: async (queue, concurrency, onDone) => {
      const worker = new Worker<{ seq: number }>(queue, async () => undefined, {
        connection: workerNc,
        cluster,
        group,
        concurrency,
        ...(prefetch === undefined ? {} : { prefetch }),
        timeoutMs: 30_000,
      });
      worker.on('completed', (job) => onDone(job.payload));
      worker.on('error', (err) => console.error('raftline worker:', err));
      return { close: () => worker.close() };
    },
    drop: async () => undefined, // done jobs are pruned by the queue's keep bounds
  };
  return { subject, close: () => producer.close() };
}

// ------------------------------------------------------------------ BullMQ

function bullmqSubject() {
  const producerConn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = new Map<string, Queue>();
  const queueOf = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection: producerConn })));
    return q;
  };
  const subject: Subject = {
    add: (queue, payload) => queueOf(queue).add('job', payload, { removeOnComplete: 1000 }),
    work: async (queue, concurrency, onDone) => {
      const worker = new BullWorker(queue, async () => undefined, {
        connection: new IORedis(REDIS_URL, { maxRetriesPerRequest: null }),
        concurrency,
      });
      worker.on('completed', (job) => onDone(job.data as { seq: number }));
      worker.on('error', (err) => console.error('bullmq worker:', err));
      await worker.waitUntilReady();
      return { close: () => worker.close() };
    },
    drop: async (queue) => {
      await queueOf(queue).obliterate({ force: true });
      await queueOf(queue).close();
      queues.delete(queue);
    },
  };
  return { subject, close: async () => void (await producerConn.quit()) };
}

/** The installed BullMQ's version (bench results name it). */
function bullmqVersion(): string {
  const file = require.resolve('bullmq/package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

// -------------------------------------------------------------------- runs

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Enqueues `jobs` jobs with up to OUTSTANDING calls in flight, a worker of `concurrency` handling them. */
/**
 * Enqueues `jobs` jobs, a worker of `concurrency` handling them: with
 * `outstanding` > 1, up to that many add calls in flight (a flood: the
 * throughput, and the latency of a saturated queue); with 1, one job at a
 * time, each added once the one before completed (the latency of an idle queue).
 */
async function run(
  system: System,
  s: Subject,
  concurrency: number,
  jobs: number,
  outstanding: number,
): Promise<Run> {
  const queue = `bench-${system}-${concurrency}-${randomUUID().slice(0, 6)}`;
  const sentAt = new Float64Array(jobs);
  const latencies: number[] = [];
  const waiting = new Map<number, () => void>();
  let finished: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const deadline = Date.now() + RUN_LIMIT_MS;
  const worker = await s.work(queue, concurrency, ({ seq }) => {
    latencies.push(performance.now() - sentAt[seq]!);
    waiting.get(seq)?.();
    if (latencies.length === jobs) finished();
  });
  const start = performance.now();
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < jobs && Date.now() < deadline) {
      const seq = next++;
      const done = outstanding === 1 ? new Promise<void>((resolve) => waiting.set(seq, resolve)) : undefined;
      sentAt[seq] = performance.now();
      await s.add(queue, { seq, ...PAYLOAD });
      await done;
    }
  };
  await Promise.all(Array.from({ length: outstanding }, sender));
  await Promise.race([allDone, new Promise((resolve) => setTimeout(resolve, RUN_LIMIT_MS))]);
  const seconds = (performance.now() - start) / 1000;
  await worker.close();
  await s.drop(queue);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    system,
    concurrency,
    jobs,
    completed: latencies.length,
    seconds: round3(seconds),
    jobsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: round3(percentile(sorted, 50)),
    p99Ms: round3(percentile(sorted, 99)),
    maxMs: round3(sorted[sorted.length - 1] ?? NaN),
  };
}

const medianBy = (runs: readonly Run[], by: (r: Run) => number): Run | undefined =>
  [...runs].sort((a, b) => by(a) - by(b))[Math.floor(runs.length / 2)];

async function dropRows(group: string): Promise<void> {
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  try {
    for (const table of ['snapshot', 'log_entry', 'log_bounds', 'hard_state', 'node_lock']) {
      await pool
        .query(`DELETE FROM "${PG_SCHEMA}".${table} WHERE group_id = $1`, [group])
        .catch(() => undefined);
    }
  } finally {
    await pool.end();
  }
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const cluster = `bench${process.pid}`;
  const group = `queue-${randomUUID().slice(0, 8)}`;
  const [producerNc, workerNc] = await Promise.all([
    connectNats({ servers: NATS_URL, name: 'bench producer' }),
    connectNats({ servers: NATS_URL, name: 'bench worker' }),
  ]);
  const procs = await startReplicas(cluster, group);
  const raftline = raftlineSubject(cluster, group, producerNc, workerNc, undefined);
  const noPrefetch = raftlineSubject(cluster, group, producerNc, workerNc, 0);
  const bullmq = bullmqSubject();
  const subjects: Record<System, Subject> = {
    raftline: raftline.subject,
    'raftline-prefetch-0': noPrefetch.subject,
    bullmq: bullmq.subject,
  };
  const results: Record<string, unknown> = {};
  try {
    await awaitLeader(producerNc, cluster, group);
    for (const system of SYSTEMS) await run(system, subjects[system], 8, WARMUP, OUTSTANDING);
    for (const c of CONCURRENCY) {
      const floods: Run[] = [];
      const singles: Run[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Each round runs every system; the order rotates, so no system always goes first.
        const order = SYSTEMS.map((_, i) => SYSTEMS[(i + r) % SYSTEMS.length]!);
        for (const system of order) {
          const flood = await run(system, subjects[system], c, JOBS[c], OUTSTANDING);
          const single = await run(system, subjects[system], c, ONE_AT_A_TIME, 1);
          console.log(JSON.stringify({ flood, oneAtATime: single }));
          floods.push(flood);
          singles.push(single);
        }
      }
      const pick = (runs: readonly Run[], by: (r: Run) => number) =>
        Object.fromEntries(
          SYSTEMS.map((sys) => [
            sys,
            medianBy(
              runs.filter((x) => x.system === sys),
              by,
            ),
          ]),
        );
      const throughput = pick(floods, (r) => r.jobsPerSecond);
      const latency = pick(singles, (r) => r.p50Ms);
      const ratio = (sys: System) => {
        const [t, l, tb, lb] = [throughput[sys], latency[sys], throughput.bullmq, latency.bullmq];
        if (!t || !l || !tb || !lb) return undefined;
        return {
          jobsPerSecond: round3(t.jobsPerSecond / tb.jobsPerSecond),
          saturatedP50Ms: round3(t.p50Ms / tb.p50Ms),
          saturatedP99Ms: round3(t.p99Ms / tb.p99Ms),
          idleP50Ms: round3(l.p50Ms / lb.p50Ms),
          idleP99Ms: round3(l.p99Ms / lb.p99Ms),
        };
      };
      results[`concurrency${c}`] = {
        throughput,
        latencyOneAtATime: latency,
        ratioToBullmq: Object.fromEntries(SYSTEMS.filter((x) => x !== 'bullmq').map((x) => [x, ratio(x)])),
        rounds: { flood: floods, oneAtATime: singles },
      };
    }
  } finally {
    await raftline.close();
    await noPrefetch.close();
    await bullmq.close();
    await stopProcesses(procs);
    await Promise.all([producerNc.close(), workerNc.close()]);
    await dropRows(group);
  }
  const result = {
    benchmark: 'task-queue',
    command: 'npm run bench:queue  (node -r ./scripts/ts-register.js bench/task-queue.ts)',
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      node: process.version,
      loadAverage1mBeforeAfter: [loadBefore[0], os.loadavg()[0]].map((l) => Math.round((l ?? 0) * 100) / 100),
    },
    config: {
      raftline: {
        replicas: IDS.length,
        processes: 'one per replica; Producer and Worker in the benchmark process, one NATS connection each',
        stores: 'PostgreSQL, synchronous_commit on',
        mirror: 'off',
        electionTimeoutMs: ELECTION_MS,
        worker: 'batch = concurrency + prefetch (auto: at most 256), leaseMs 30000, acks batched (ackMany)',
        prefetch: "raftline: 'auto' (the default); raftline-prefetch-0: 0",
        producer: 'enqueue() calls batched into enqueueMany (at most 100 a command, 4 commands in flight)',
      },
      bullmq: {
        redis: REDIS_URL,
        version: bullmqVersion(),
        removeOnComplete: 1000,
      },
      jobs: JOBS,
      warmupJobs: WARMUP,
      rounds: ROUNDS,
      outstandingAdds: OUTSTANDING,
      payloadBytes: JSON.stringify({ seq: 0, ...PAYLOAD }).length,
      handler: 'no-op',
      oneAtATimeJobs: ONE_AT_A_TIME,
      latency:
        'from the add/enqueue call to the worker’s completed event (after the ack); throughput runs flood the queue ' +
        '(saturated latency), one-at-a-time runs add each job once the one before completed (idle latency)',
    },
    results,
  };
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'task-queue.json'), JSON.stringify(result, null, 2) + '\n');
  const brief = (r: Run | undefined) => r && `${r.jobsPerSecond} jobs/s p50 ${r.p50Ms} p99 ${r.p99Ms}`;
  for (const [key, value] of Object.entries(results)) {
    const v = value as { throughput: Record<string, Run>; latencyOneAtATime: Record<string, Run> };
    for (const sys of SYSTEMS)
      console.log(
        key,
        sys,
        'flood:',
        brief(v.throughput[sys]),
        '| one at a time:',
        brief(v.latencyOneAtATime[sys]),
      );
  }
  console.log(`wrote ${path.join(out, 'task-queue.json')}`);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
