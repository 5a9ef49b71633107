// One replica process of the robustness suite: `raftline serve`'s startServe
// (@raftline/cli) with one group of the machine ROBUST_MACHINE, on
// PostgreSQL, reaching NATS through the replica's own fault proxy. Started by
// test/cluster's ReplicaCluster (its `script` option), so it reads that
// class's environment:
//   RAFT_CLUSTER, RAFT_GROUP, RAFT_ID, RAFT_VOTERS, ELECTION_MS, RAFT_PG_URL, RAFT_PG_SCHEMA
// and the suite's own:
//   ROBUST_NATS      id=host:port,… each replica's NATS URL (its proxy); NATS_URL when its id is absent
//   ROBUST_MACHINE   the machine module's absolute path; ROBUST_EXPORT its export (default: the one class)
//   ROBUST_JOIN      'voter': start outside the configuration and ask the leader to add it (serve's join)
//   ROBUST_RAFT      JSON of more NodeConfig fields (snapshotEntries, leaseReads, …)
//   ROBUST_PID_DIR   where it writes <id>.pid before it reports ready (the nemesis pauses it by pid)
//   ROBUST_LOG_LEVEL serve's log level (default warn)
//   ROBUST_RAFT_CONNECTION  'shared': Raft and client traffic on one NATS connection
//                    (nats.separateRaftConnection: false), for comparisons; unset or
//                    'separate': serve's default, a connection of its own for Raft
//   ROBUST_LOOP_DIR  when set, appends "<ms since epoch> <max event-loop delay ms>" each
//                    second to <dir>/<id>.loop (the overload run reads it)
// Logs (pino, level warn) go to stdout; it prints {"event":"ready"} once it serves.
import { appendFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { startServe, validateServeConfig } from '@raftline/cli';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`serve-replica: ${name} is not set`);
  return v;
}

/** This replica's NATS URL: its entry in ROBUST_NATS, else NATS_URL. */
function natsUrl(id: string): string {
  for (const pair of (process.env.ROBUST_NATS ?? '').split(',')) {
    const [who, url] = pair.split('=');
    if (who === id && url) return url;
  }
  return env('NATS_URL');
}

/** nats.separateRaftConnection from ROBUST_RAFT_CONNECTION: undefined leaves serve's default. */
function separateRaftConnection(): { separateRaftConnection?: boolean } {
  const v = process.env.ROBUST_RAFT_CONNECTION;
  if (v === undefined || v === '') return {};
  if (v !== 'shared' && v !== 'separate')
    throw new Error(`serve-replica: ROBUST_RAFT_CONNECTION (${v}) must be shared or separate`);
  return { separateRaftConnection: v === 'separate' };
}

/** Each second, the longest the event loop was blocked during it, appended to <dir>/<id>.loop. */
function recordLoopDelay(dir: string, id: string): void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    appendFileSync(join(dir, `${id}.loop`), `${Date.now()} ${Math.round(h.max / 1e6)}\n`);
    h.reset();
  }, 1000).unref();
}

async function main(): Promise<void> {
  const id = env('RAFT_ID');
  const group = env('RAFT_GROUP');
  const electionTimeoutMs = Number(env('ELECTION_MS', '1000'));
  const raft = JSON.parse(process.env.ROBUST_RAFT ?? '{}') as Record<string, unknown>;
  const joinAs = process.env.ROBUST_JOIN;
  const config = validateServeConfig(
    {
      node: id,
      cluster: env('RAFT_CLUSTER'),
      nats: { servers: [natsUrl(id)], ...separateRaftConnection() },
      store: { postgres: env('RAFT_PG_URL'), schema: env('RAFT_PG_SCHEMA'), poolSize: 4 },
      metrics: { enabled: false },
      log: { level: process.env.ROBUST_LOG_LEVEL ?? 'warn' },
      shutdown: { drainTimeoutMs: 1000 },
      raft: {
        electionTimeoutMs,
        heartbeatMs: Math.round(electionTimeoutMs / 6),
        proposalTimeoutMs: 3000,
        ...raft,
      },
      groups: {
        [group]: {
          machine: env('ROBUST_MACHINE'),
          ...(process.env.ROBUST_EXPORT ? { export: process.env.ROBUST_EXPORT } : {}),
          ...(joinAs ? { join: joinAs } : { voters: env('RAFT_VOTERS').split(',') }),
          mirror: false,
        },
      },
    },
    { baseDir: process.cwd(), source: 'serve-replica environment' },
  );
  if (process.env.ROBUST_LOOP_DIR) recordLoopDelay(process.env.ROBUST_LOOP_DIR, id);
  const server = await startServe(config);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  if (process.env.ROBUST_PID_DIR)
    writeFileSync(join(process.env.ROBUST_PID_DIR, `${id}.pid`), `${process.pid}`);
  process.stdout.write(`${JSON.stringify({ event: 'ready', id, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`serve-replica failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
