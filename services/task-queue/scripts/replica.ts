// One replica of a task queue group in its own process, on PostgreSQL stores
// (for the integration tests, the benchmark, and by hand):
//   node -r <repo>/scripts/ts-register.js services/task-queue/scripts/replica.ts
// Configured by environment:
//   RAFT_CLUSTER, RAFT_GROUP, RAFT_ID, RAFT_VOTERS (comma-separated)   required
//   NATS_URL         default 127.0.0.1:4222
//   RAFT_PG_URL      default postgres://postgres@127.0.0.1:5432/test; rows keyed (RAFT_GROUP, RAFT_ID),
//                    so a restarted process resumes from them
//   RAFT_PG_SCHEMA   default raftline
//   ELECTION_MS      election timeout (default 1000); heartbeat is a sixth of it
//   TICK_MS          the leader ticks an idle queue this often (default 1000; 0: never)
//   RAFT_MIRROR      0 turns off the JetStream mirror of the committed stream (default on)
//   SNAPSHOT_ENTRIES snapshot every this many entries (default: the node's)
//   SYNCHRONOUS_COMMIT  on (default) or off
// Prints one JSON line {"event":"ready"} once serving; SIGTERM stops it (a leader hands over first).
import 'reflect-metadata';
import { createPostgresStores } from '@raftline/store-postgres';
import { connectNats } from '@raftline/transport-nats';
import { serveTaskQueue } from '../src/index';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (!v) throw new Error(`task-queue replica: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const cluster = env('RAFT_CLUSTER');
  const group = env('RAFT_GROUP');
  const id = env('RAFT_ID');
  const electionTimeoutMs = Number(env('ELECTION_MS', '1000'));
  const synchronousCommit = env('SYNCHRONOUS_COMMIT', 'on');
  if (synchronousCommit !== 'on' && synchronousCommit !== 'off')
    throw new Error(`task-queue replica: SYNCHRONOUS_COMMIT (${synchronousCommit}) must be on or off`);
  const nc = await connectNats({ servers: env('NATS_URL', '127.0.0.1:4222'), name: `task-queue ${id}` });
  const stores = await createPostgresStores({
    url: env('RAFT_PG_URL', 'postgres://postgres@127.0.0.1:5432/test'),
    schema: env('RAFT_PG_SCHEMA', 'raftline'),
    groupId: group,
    nodeId: id,
    applicationName: `task-queue-${id}`,
    synchronousCommit,
  });
  const snapshotEntries = process.env.SNAPSHOT_ENTRIES;
  const server = await serveTaskQueue({
    connection: nc,
    cluster,
    group,
    id,
    voters: env('RAFT_VOTERS').split(','),
    logStore: stores.logStore,
    stableStore: stores.stableStore,
    snapshotStore: stores.snapshotStore,
    config: {
      electionTimeoutMs,
      heartbeatMs: Math.round(electionTimeoutMs / 6),
      tickMs: 10,
      proposalTimeoutMs: 3000,
      ...(snapshotEntries ? { snapshotEntries: Number(snapshotEntries), snapshotLogRatio: 0 } : {}),
    },
    tickMs: Number(env('TICK_MS', '1000')),
    mirror: env('RAFT_MIRROR', '1') !== '0',
  });
  const stop = async (): Promise<void> => {
    await server.stop();
    await stores.close();
    await nc.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`${JSON.stringify({ event: 'ready', id, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`task-queue replica failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
