/**
 * raftline side by side with NATS JetStream and etcd on this machine
 * (issue 15). Every system runs three replica processes on loopback, each
 * started here on spare ports with its own data directory:
 *   raftline-pg   3 replicas (test/fixtures/replica.ts) with PostgreSQL stores on the machine's
 *                 server (a schema of this run, synchronous_commit on), over our own nats-server
 *   raftline-mem  the same with in-memory stores
 *   jetstream     3 nats-servers in one cluster, an R3 file-store stream (no fsync per ack)
 *   etcd          3 members (when etcd is installed), fsync on, over the HTTP/JSON gateway
 * Commands are 256-byte writes. In interleaved rounds (the system order rotates each round):
 * sequential latency (one client), then throughput and latency at 16, 64 and 256 concurrent
 * clients (each sends its next command when the last is answered, for a fixed time), and RSS of
 * each process; then failover: kill -9 of the leader, time until a write succeeds again, the
 * replica restarted on its data between trials (not for raftline-mem, whose replicas lose their
 * log when killed). Figures are medians over rounds.
 *
 * Run: npm run bench:compare [-- --quick]   (--quick: one round, shorter runs, 3 failover trials; < 5 min)
 * Writes bench/results/compare.json (compare-quick.json) and compare.svg (compare-quick.svg).
 * The last line: ratios: pg/jetstream@64=X pg/jetstream@256=X pg/etcd@256=X seq-p50-pg/etcd=X load=…
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNatsServer } from '../packages/transport-nats/test/support/nats-server';
import { compareSvg } from './compare-chart';
import { etcdBinary, sleep, startEtcd, startJetStream, type Peer, type Write } from './compare-peers';
import { startRaftline } from './compare-raftline';
import { summary } from './nats-cluster';

const QUICK = process.argv.includes('--quick');
const LEVELS = [16, 64, 256] as const;
const PLAN = QUICK
  ? { rounds: 1, sequential: 300, warmupMs: 500, runMs: 2500, failoverTrials: 3 }
  : { rounds: 3, sequential: 1500, warmupMs: 1000, runMs: 6000, failoverTrials: 10 };
/** raftline's election timeout (randomized in [x, 2x)); etcd gets the same, heartbeat a sixth. */
const ELECTION_MS = 150;
const CONNECTIONS = 8;

type Latency = ReturnType<typeof summary>;
interface Level extends Latency {
  readonly clients: number;
  readonly commands: number;
  readonly failed: number;
  readonly commandsPerSecond: number;
}
interface Round {
  readonly sequential: Latency & { readonly commands: number; readonly failed: number };
  readonly levels: Level[];
  readonly rssMb: number[];
}

/** n commands one after another (a failed one, e.g. during a leader change, is counted and skipped). */
async function sequential(write: Write, n: number): Promise<Round['sequential']> {
  const lat: number[] = [];
  let failed = 0;
  for (let i = -50; i < n; i++) {
    const t = performance.now();
    try {
      await write(i + 50);
      if (i >= 0) lat.push(performance.now() - t);
    } catch {
      failed++;
    }
  }
  return { commands: lat.length, failed, ...summary(lat) };
}

/** `clients` concurrent writers for ms milliseconds. */
async function concurrent(peer: Peer, clients: number, ms: number, record: boolean): Promise<Level> {
  const lat: number[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const write = peer.writer(c);
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await write(next++);
          if (record) lat.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return {
    clients,
    commands: lat.length,
    failed,
    commandsPerSecond: Math.round(lat.length / seconds),
    ...summary(lat),
  };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
  } catch {
    return NaN;
  }
}

async function round(peer: Peer): Promise<Round> {
  const seq = await sequential(peer.writer(0), PLAN.sequential);
  const levels: Level[] = [];
  for (const clients of LEVELS) {
    await concurrent(peer, clients, PLAN.warmupMs, false);
    levels.push(await concurrent(peer, clients, PLAN.runMs, true));
  }
  const r = { sequential: seq, levels, rssMb: peer.pids().map(rssMb) };
  console.log(
    `  ${peer.name.padEnd(13)} seq p50 ${seq.p50Ms} ms p99 ${seq.p99Ms} ms | ` +
      levels
        .map(
          (l) =>
            `${l.clients}: ${l.commandsPerSecond}/s p99 ${l.p99Ms} ms${l.failed ? ` (${l.failed} failed)` : ''}`,
        )
        .join(' | ') +
      ` | RSS ${r.rssMb.join('/')} MB`,
  );
  return r;
}

/** Kills the leader `trials` times; each time, ms from the kill until a write succeeds again (probes every 20 ms). */
async function failover(peer: Peer, trials: number): Promise<number[]> {
  const times: number[] = [];
  for (let t = 0; t < trials; t++) {
    await sleep(500);
    const { write, killedAt } = await peer.killLeader();
    const ms = await new Promise<number>((resolve) => {
      let done = false;
      let i = 0;
      const probe = (): void => {
        if (done) return;
        if (performance.now() - killedAt > 20_000) return resolve(NaN);
        write(1_000_000 + t * 10_000 + i++).then(
          () => {
            if (!done) resolve(performance.now() - killedAt);
            done = true;
          },
          () => undefined,
        );
        setTimeout(probe, 20);
      };
      probe();
    });
    times.push(Math.round(ms));
    await peer.recover();
  }
  return times;
}

const median = (xs: readonly number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const started = Date.now();
  const nats = await startNatsServer(); // raftline's own NATS (no other traffic)
  const peers: Peer[] = [];
  const etcd = etcdBinary();
  try {
    peers.push(await startRaftline('postgres', nats.url, CONNECTIONS, ELECTION_MS));
    peers.push(await startRaftline('memory', nats.url, CONNECTIONS, ELECTION_MS));
    peers.push(await startJetStream(CONNECTIONS));
    if (etcd) peers.push(await startEtcd(etcd, ELECTION_MS, Math.round(ELECTION_MS / 6)));
    const rounds = new Map<string, Round[]>(peers.map((p) => [p.name, []]));
    for (let r = 0; r < PLAN.rounds; r++) {
      console.log(`round ${r + 1}/${PLAN.rounds}`);
      for (let k = 0; k < peers.length; k++) {
        const peer = peers[(k + r) % peers.length]!;
        rounds.get(peer.name)!.push(await round(peer));
      }
    }
    const failovers = new Map<string, number[]>();
    for (const peer of peers) {
      if (peer.name === 'raftline-mem') continue;
      const times = await failover(peer, PLAN.failoverTrials);
      failovers.set(peer.name, times);
      console.log(`  ${peer.name.padEnd(13)} failover ms ${times.join(' ')} (median ${median(times)})`);
    }
    report(peers, rounds, failovers, loadBefore, started, etcd);
  } finally {
    for (const p of peers) await p.stop().catch((err: unknown) => console.error(`stopping ${p.name}:`, err));
    await nats.dispose();
  }
}

function report(
  peers: readonly Peer[],
  rounds: ReadonlyMap<string, Round[]>,
  failovers: ReadonlyMap<string, number[]>,
  loadBefore: number[],
  started: number,
  etcd: string | undefined,
): void {
  const systems = peers.map((p) => {
    const rs = rounds.get(p.name)!;
    const level = (i: number, f: (l: Level) => number) => median(rs.map((r) => f(r.levels[i]!)));
    return {
      system: p.name,
      sequential: {
        p50Ms: median(rs.map((r) => r.sequential.p50Ms)),
        p99Ms: median(rs.map((r) => r.sequential.p99Ms)),
      },
      levels: LEVELS.map((clients, i) => ({
        clients,
        commandsPerSecond: level(i, (l) => l.commandsPerSecond),
        p50Ms: level(i, (l) => l.p50Ms),
        p99Ms: level(i, (l) => l.p99Ms),
        failed: rs.reduce((n, r) => n + r.levels[i]!.failed, 0),
      })),
      failoverMs: failovers.get(p.name) ?? [],
      failoverMedianMs: median(failovers.get(p.name) ?? []),
      rssMb: rs[rs.length - 1]!.rssMb,
      rounds: rs,
    };
  });
  const get = (name: string) => systems.find((s) => s.system === name);
  const tput = (name: string, clients: number) =>
    get(name)?.levels.find((l) => l.clients === clients)?.commandsPerSecond ?? NaN;
  const ratio = (a: number, b: number) =>
    Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '-';
  const load = os.loadavg().map((l) => l.toFixed(2));
  console.log(
    '\n| system | seq p50 ms | seq p99 ms | 16 clients/s | 64 clients/s | 256 clients/s | p99 @256 ms | failover median ms | RSS MB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const s of systems) {
    console.log(
      `| ${s.system} | ${s.sequential.p50Ms} | ${s.sequential.p99Ms} | ${s.levels.map((l) => l.commandsPerSecond).join(' | ')} | ` +
        `${s.levels[2]!.p99Ms} | ${Number.isFinite(s.failoverMedianMs) ? s.failoverMedianMs : '-'} | ${s.rssMb.join('/')} |`,
    );
  }
  const pg = 'raftline-pg';
  const ratios = {
    'pg/jetstream@64': ratio(tput(pg, 64), tput('jetstream', 64)),
    'pg/jetstream@256': ratio(tput(pg, 256), tput('jetstream', 256)),
    'pg/etcd@256': ratio(tput(pg, 256), tput('etcd', 256)),
    'seq-p50-pg/etcd': ratio(get(pg)?.sequential.p50Ms ?? NaN, get('etcd')?.sequential.p50Ms ?? NaN),
  };
  const result = {
    benchmark: 'compare',
    command: `npm run bench:compare${QUICK ? ' -- --quick' : ''}`,
    date: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      node: process.version,
      loadAverageBefore: loadBefore.map((l) => +l.toFixed(2)),
      loadAverageAfter: load.map(Number),
    },
    plan: {
      ...PLAN,
      levels: LEVELS,
      commandBytes: 256,
      electionTimeoutMs: ELECTION_MS,
      etcd: etcd ?? 'not installed',
    },
    ratios,
    systems,
  };
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const base = QUICK ? 'compare-quick' : 'compare';
  writeFileSync(path.join(dir, `${base}.json`), JSON.stringify(result, null, 2) + '\n');
  const chartRows = systems.map((s) => ({
    system: s.system,
    throughput: s.levels.map((l) => l.commandsPerSecond),
    sequentialP50Ms: s.sequential.p50Ms,
  }));
  const title = `bench:compare${QUICK ? ' --quick' : ''}, ${new Date().toISOString().slice(0, 16)}Z, load ${load.join(' ')}`;
  writeFileSync(path.join(dir, `${base}.svg`), compareSvg(chartRows, LEVELS, title));
  console.log(`wrote bench/results/${base}.json and ${base}.svg`);
  console.log(
    `ratios: ${Object.entries(ratios)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} load=${load.join('/')}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
