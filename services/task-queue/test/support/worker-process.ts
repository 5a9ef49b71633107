// A Worker in its own process, for the process tests (kill -9 mid-job):
//   node -r <repo>/scripts/ts-register.js services/task-queue/test/support/worker-process.ts
// Environment: NATS_URL, RAFT_CLUSTER, RAFT_GROUP, QUEUE, WORKER_ID, CONCURRENCY, LEASE_MS.
// A job's payload { ms, retryMs } says how long its handler takes (retryMs from the second attempt on). Prints one JSON line per
// event: {"event":"ready"}, then {"event":"active"|"completed"|"lost", id, attempt}.
// SIGTERM closes the worker gracefully (running handlers finish).
import { connectNats } from '@raftline/transport-nats';
import { Worker } from '../../src/index';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`worker-process: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const nc = await connectNats({ servers: env('NATS_URL'), name: `worker ${env('WORKER_ID')}` });
  const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
  const worker = new Worker<{ ms: number; retryMs?: number }, string>(
    env('QUEUE'),
    async (job) => {
      const { ms, retryMs = ms } = job.payload;
      await new Promise((resolve) => setTimeout(resolve, job.attempt > 1 ? retryMs : ms));
      return job.workerId;
    },
    {
      connection: nc,
      cluster: env('RAFT_CLUSTER'),
      group: env('RAFT_GROUP'),
      workerId: env('WORKER_ID'),
      concurrency: Number(env('CONCURRENCY')),
      leaseMs: Number(env('LEASE_MS')),
      pollMs: 200,
      timeoutMs: 15_000,
    },
  );
  worker.on('active', (job) => say({ event: 'active', id: job.id, attempt: job.attempt }));
  worker.on('completed', (job) => say({ event: 'completed', id: job.id, attempt: job.attempt }));
  worker.on('lost', (job) => say({ event: 'lost', id: job.id, attempt: job.attempt }));
  worker.on('error', () => undefined); // leader changes: the worker retries
  process.once('SIGTERM', () => {
    void worker.close().then(async () => {
      await nc.close();
      process.exit(0);
    });
  });
  say({ event: 'ready', pid: process.pid });
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
