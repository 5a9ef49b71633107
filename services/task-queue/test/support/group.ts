// A task queue group of in-process replicas (serveTaskQueue, in-memory stores)
// over the machine's NATS, under a cluster id no other run uses.
import { randomUUID } from 'node:crypto';
import { MemoryLogStore, MemoryStableStore, seededRandom } from '@raftline/core';
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import { serveTaskQueue, type TaskQueueReplica } from '../../src/index';

export const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

export interface Group {
  readonly cluster: string;
  readonly group: string;
  readonly nc: NatsConnection;
  readonly replicas: readonly TaskQueueReplica[];
  /** The replica that leads now (waits up to 10 s for one). */
  leader(): Promise<TaskQueueReplica>;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls cond every 20 ms until it holds. @throws Error naming what after timeoutMs */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

/** Starts `size` replicas of a task queue group (no JetStream mirror) and waits for a leader. */
export async function startGroup(size = 3): Promise<Group> {
  const cluster = `tq${randomUUID().slice(0, 8)}`;
  const group = 'jobs';
  const nc = await connectNats({ servers: NATS_URL });
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const rng = seededRandom(11);
  const replicas = await Promise.all(
    ids.map((id) =>
      serveTaskQueue({
        connection: nc,
        cluster,
        group,
        id,
        voters: ids,
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        config: { electionTimeoutMs: 300, heartbeatMs: 50, tickMs: 10, proposalTimeoutMs: 3000 },
        random: rng.fork(),
        tickMs: 200,
        mirror: false,
      }),
    ),
  );
  const leader = async (): Promise<TaskQueueReplica> => {
    let found: TaskQueueReplica | undefined;
    await until(
      () => (found = replicas.find((r) => r.replica.status().role === 'leader')) !== undefined,
      'a leader',
    );
    return found!;
  };
  await leader();
  const stop = async (): Promise<void> => {
    await Promise.all(replicas.map((r) => r.stop()));
    await nc.close();
  };
  return { cluster, group, nc, replicas, leader, stop };
}
