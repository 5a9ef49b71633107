/**
 * A 3-replica raftline cluster over NATS, each replica its own process
 * (test/fixtures/replica.ts: RaftNode + NatsTransport,
 * in-memory stores, serveClients), driven by NatsRaftClient from this process:
 *   (a) sequential commit latency: one client, one command at a time;
 *   (b) throughput: 64 concurrent clients over 8 connections, a bounded count;
 *   (c) as (b) with every replica mirroring the committed stream into
 *       JetStream, and how long the stream takes to hold the last command.
 * Every command is a client request to the leader (NATS request/reply),
 * replicated to a quorum, applied, and answered.
 *
 * Run: npm run bench:nats   (= node -r ./scripts/ts-register.js bench/nats-cluster.ts)
 * NATS_URL overrides the shared server 127.0.0.1:4222 (JetStream needed for (c)).
 * Writes bench/results/nats-cluster.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  committedStreamName,
  connectNats,
  discoverReplicas,
  NatsRaftClient,
  type NatsConnection,
  type ReplicaStats,
} from '@raftline/transport-nats';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const ROOT = path.resolve(__dirname, '..');
const REGISTER = path.join(ROOT, 'scripts/ts-register.js');
const REPLICA = path.join(ROOT, 'test/fixtures/replica.ts');
export const IDS = ['r1', 'r2', 'r3'];
const ELECTION_MS = 1000;
const SEQUENTIAL = { warmup: 200, commands: 2000 };
const CONCURRENT = { clients: 64, connections: 8, warmup: 1000, commands: 20_000, rounds: 3 };
const KEYS = 1000;

export interface Cluster {
  readonly cluster: string;
  readonly procs: ChildProcess[];
  stop(): Promise<void>;
}

/**
 * Spawns replica `id` (test/fixtures/replica.ts) with env and waits for it to say it is ready (20 s at most).
 * @throws Error when it exits or is not ready in time
 */
export function spawnReplica(id: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolve, reject) => {
    const proc = spawn(process.execPath, ['-r', REGISTER, REPLICA], {
      env: { ...env, RAFT_ID: id },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr?.on('data', (b: Buffer) => (err += b.toString().slice(0, 5000)));
    const timer = setTimeout(() => reject(new Error(`replica ${id} not ready in 60 s: ${err}`)), 60_000);
    proc.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('"ready"')) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once('exit', (code) => reject(new Error(`replica ${id} exited (${code}): ${err}`)));
  });
}

/** The environment of the replicas of `cluster` (see test/fixtures/replica.ts); extraEnv overrides it. */
export function replicaEnv(cluster: string, mirror: boolean, extraEnv: Record<string, string> = {}) {
  return {
    ...process.env,
    NATS_URL,
    RAFT_CLUSTER: cluster,
    RAFT_GROUP: 'bench',
    RAFT_VOTERS: IDS.join(','),
    ELECTION_MS: String(ELECTION_MS),
    RAFT_MIRROR: mirror ? '1' : '0',
    ...extraEnv,
  };
}

/**
 * Spawns one replica process per id and waits for each to say it is ready (20 s at most).
 * extraEnv overrides the replicas' environment (e.g. NATS_URL, ELECTION_MS, RAFT_STORE; see test/fixtures/replica.ts).
 */
export async function startCluster(
  cluster: string,
  mirror: boolean,
  extraEnv: Record<string, string> = {},
): Promise<Cluster> {
  const env = replicaEnv(cluster, mirror, extraEnv);
  const procs = await Promise.all(IDS.map((id) => spawnReplica(id, env)));
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve();
            const kill = setTimeout(() => p.kill('SIGKILL'), 3000);
            p.once('exit', () => (clearTimeout(kill), resolve()));
            p.kill('SIGTERM');
          }),
      ),
    );
  };
  return { cluster, procs, stop };
}

/** Finds the replicas through the NATS services framework and waits until all three agree on one leader. */
export async function awaitLeader(nc: NatsConnection, cluster: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const found = await discoverReplicas(nc, { cluster, timeoutMs: 300 });
    const statuses = await Promise.all(
      found.map(async (r) => {
        try {
          return (await nc.request(r.endpoints.status!, undefined, { timeout: 500 })).json<{
            role: string;
            leaderId: string;
          }>();
        } catch {
          return undefined;
        }
      }),
    );
    const leaders = statuses.filter((s) => s?.role === 'leader');
    if (found.length === IDS.length && leaders.length === 1 && statuses.every((s) => s?.leaderId)) {
      return leaders[0]!.leaderId;
    }
  }
  throw new Error('no single leader within 20 s');
}

/** The highest stream sequence any replica's mirror reports having stored (its stats endpoint). */
async function mirroredSequence(nc: NatsConnection, statsSubjects: readonly string[]): Promise<number> {
  let best = 0;
  for (const subject of statsSubjects) {
    try {
      const msg = await nc.request(subject, undefined, { timeout: 500 });
      best = Math.max(best, msg.json<ReplicaStats>().mirror?.lastSequence ?? 0);
    } catch {
      // not answering now: ask again next round
    }
  }
  return best;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function summary(latencies: number[]) {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 1000) / 1000;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    p50Ms: r(percentile(s, 50)),
    p90Ms: r(percentile(s, 90)),
    p99Ms: r(percentile(s, 99)),
    maxMs: r(s[s.length - 1] ?? NaN),
    meanMs: r(mean),
  };
}

async function sequential(client: NatsRaftClient) {
  for (let i = 0; i < SEQUENTIAL.warmup; i++) await client.propose({ name: 'inc', args: [`w${i % KEYS}`] });
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < SEQUENTIAL.commands; i++) {
    const t = performance.now();
    await client.propose({ name: 'inc', args: [`s${i % KEYS}`] });
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    commands: SEQUENTIAL.commands,
    seconds: Math.round(seconds * 1000) / 1000,
    commandsPerSecond: Math.round(SEQUENTIAL.commands / seconds),
    ...summary(latencies),
  };
}

/** `total` commands from `clients` concurrent clients; each takes the next command when its last one is answered. */
async function concurrent(clients: readonly NatsRaftClient[], total: number, prefix: string) {
  let issued = 0;
  let failed = 0;
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (issued < total) {
        const i = issued++;
        const t = performance.now();
        try {
          await client.propose({ name: 'inc', args: [`${prefix}${i % KEYS}`] });
          latencies.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return {
    clients: clients.length,
    commands: total,
    failed,
    seconds: Math.round(seconds * 1000) / 1000,
    commandsPerSecond: Math.round(latencies.length / seconds),
    ...summary(latencies),
  };
}

/** CONCURRENT.rounds runs of CONCURRENT.commands each; reports every round and the median one (by rate). */
async function throughputRounds(clients: readonly NatsRaftClient[]) {
  const rounds = [];
  for (let r = 0; r < CONCURRENT.rounds; r++)
    rounds.push(await concurrent(clients, CONCURRENT.commands, `c${r}-`));
  const byRate = [...rounds].sort((a, b) => a.commandsPerSecond - b.commandsPerSecond);
  return {
    median: byRate[Math.floor(byRate.length / 2)]!,
    rounds,
    failed: rounds.reduce((n, r) => n + r.failed, 0),
  };
}

async function withCluster<T>(
  mirror: boolean,
  run: (cluster: string, conns: NatsConnection[]) => Promise<T>,
) {
  const cluster = `bench${process.pid}${mirror ? 'm' : ''}`;
  const conns = await Promise.all(
    Array.from({ length: CONCURRENT.connections }, () => connectNats({ servers: NATS_URL })),
  );
  const c = await startCluster(cluster, mirror);
  try {
    await awaitLeader(conns[0]!, cluster);
    return await run(cluster, conns);
  } finally {
    await c.stop();
    if (mirror) {
      const deleteApi = `$JS.API.STREAM.DELETE.${committedStreamName(cluster, 'bench')}`;
      await conns[0]!.request(deleteApi, undefined, { timeout: 5000 }).catch(() => undefined);
    }
    await Promise.all(conns.map((nc) => nc.close()));
  }
}

function makeClients(cluster: string, conns: readonly NatsConnection[]): NatsRaftClient[] {
  return Array.from(
    { length: CONCURRENT.clients },
    (_, i) =>
      new NatsRaftClient({
        connection: conns[i % conns.length]!,
        cluster,
        group: 'bench',
        timeoutMs: 10_000,
      }),
  );
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const plain = await withCluster(false, async (cluster, conns) => {
    const seq = await sequential(new NatsRaftClient({ connection: conns[0]!, cluster, group: 'bench' }));
    console.log('(a) sequential', seq);
    const clients = makeClients(cluster, conns);
    await concurrent(clients, CONCURRENT.warmup, 'w');
    const tput = await throughputRounds(clients);
    console.log(
      '(b) 64 clients',
      tput.median,
      tput.rounds.map((r) => r.commandsPerSecond),
    );
    return { sequential: seq, throughput: tput };
  });
  const mirrored = await withCluster(true, async (cluster, conns) => {
    const clients = makeClients(cluster, conns);
    await concurrent(clients, CONCURRENT.warmup, 'w');
    const found = await discoverReplicas(conns[0]!, { cluster });
    const statsSubjects = found.map((r) => r.endpoints.stats!);
    const tput = await throughputRounds(clients);
    // The leader's mirror reports, through its service's stats endpoint, the last sequence it stored.
    const expected = CONCURRENT.warmup + CONCURRENT.rounds * CONCURRENT.commands - tput.failed;
    const t = performance.now();
    let messages = 0;
    for (let i = 0; i < 5000 && messages < expected; i++) {
      messages = await mirroredSequence(conns[0]!, statsSubjects);
      if (messages < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const result = {
      ...tput,
      streamSequence: messages,
      mirrorCaughtUpWithinMsOfLastAck: Math.round(performance.now() - t),
    };
    console.log(
      '(c) 64 clients, JetStream mirror on',
      result.median,
      result.rounds.map((r) => r.commandsPerSecond),
    );
    console.log(
      `    stream sequence ${messages}; mirror caught up ${result.mirrorCaughtUpWithinMsOfLastAck} ms after the last ack`,
    );
    return result;
  });
  const result = {
    benchmark: 'nats-cluster',
    command: 'npm run bench:nats  (node -r ./scripts/ts-register.js bench/nats-cluster.ts)',
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      node: process.version,
      loadAverage1mBeforeAfter: [loadBefore[0], os.loadavg()[0]].map((l) => Math.round((l ?? 0) * 100) / 100),
    },
    nats: { url: NATS_URL },
    config: {
      replicas: IDS.length,
      processes: 'one per replica, plus this client process',
      stores: 'in-memory',
      electionTimeoutMs: ELECTION_MS,
      heartbeatMs: Math.round(ELECTION_MS / 6),
      sequential: SEQUENTIAL,
      concurrent: CONCURRENT,
      command: 'inc <key>: a counter per key, 1000 keys',
    },
    sequential: plain.sequential,
    throughput: plain.throughput,
    throughputWithMirror: mirrored,
  };
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'nats-cluster.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${path.join(out, 'nats-cluster.json')}`);
}

// bench/compare.ts imports the pieces above; only `npm run bench:nats` runs the benchmark.
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
