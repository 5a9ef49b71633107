/**
 * The coordinator against etcd's election API, side by side in one run:
 *
 * - handoff time after kill -9 of the coordinator (p50/p99 over TRIALS
 *   trials, leases of 1 s and 5 s): from the kill to the waiting agent's
 *   "I am elected" in its own process. raftline: agent processes
 *   (services/coordinator/scripts/agent-process.ts: a CoordinatorAgent
 *   renewing every lease/4); etcd: agent processes (this file with
 *   --etcd-agent) that grant a lease of that TTL, keep it alive every TTL/3
 *   (as clientv3's session) and block in /v3/election/campaign.
 * - renewals/s sustained with TASKS tasks, each held (raftline: renew(task,
 *   epoch); etcd: /v3/lease/keepalive of each task's own lease), OUTSTANDING
 *   in flight, PER_RUN calls per run over the tasks in turn.
 * - guarded writes/s on those tasks (raftline: act(task, epoch, …); etcd: a
 *   /v3/kv/txn that puts only if the election key's create_revision is the
 *   holder's: the fencing check done by hand).
 *
 * raftline: three `raftline serve` replicas of the coordinator service on
 * PostgreSQL (synchronous_commit on), electionTimeoutMs 1000, over NATS;
 * every renewal and write is a Raft-committed, durably logged command.
 * etcd (/usr/bin/etcd, or ETCD_BIN): a 3-member cluster of its own on free
 * loopback ports, temporary data dirs (fsync on), heartbeat 50 ms, election
 * 500 ms (so that a 1 s TTL is allowed: etcd's shortest TTL is 1.5 election
 * timeouts), through its HTTP/JSON gateway; removed afterwards. etcd 3.4
 * renews leases on its leader only, not through Raft.
 * Handoff trials alternate between the systems; the throughput rounds too
 * (the order rotating), ROUNDS rounds, the median reported, with the ratios
 * and the load average.
 *
 * Run: npm run bench:coordinator   (= node -r ./scripts/ts-register.js bench/coordinator.ts)
 * NATS_URL, RAFTLINE_PG_URL, ETCD_BIN; BENCH_TRIALS (20), BENCH_ROUNDS (3),
 * BENCH_TASKS (10000), BENCH_PER_RUN (4000 calls per measured run, over the
 * tasks in turn), BENCH_LEASES (1000,5000) narrow a run.
 * Writes bench/results/coordinator.json.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectClient, connectNats, type NatsConnection } from '@raftline/transport-nats';
import { unwrap, type Coordinator } from '@raftline/coordinator';
import {
  Child,
  deleteGroupRows,
  release,
  Replicas,
  spawnAgent,
} from '../services/coordinator/scripts/processes';

const ROOT = path.resolve(__dirname, '..');
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_SCHEMA = 'raftline_bench';
const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const TRIALS = Number(process.env.BENCH_TRIALS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const LEASES = process.env.BENCH_LEASES?.split(',').map(Number) ?? [1000, 5000];
/** handoff, throughput: the parts to run; a part not run keeps its figures from the last file. */
const PARTS = new Set(process.env.BENCH_PARTS?.split(',') ?? ['handoff', 'throughput']);
const OUTSTANDING = 256;
/** The longest lease of the throughput tasks: nothing expires while they are measured. */
const HELD_MS = 600_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

// ------------------------------------------------------------ etcd, over its gateway

/** POST a JSON body to an etcd gateway path; the answer's JSON. @throws Error for a non-2xx answer */
async function etcd(endpoint: string, route: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${endpoint}${route}`, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${route}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;
}

/** A lease of ttl seconds. @returns its id (a decimal string) */
async function grantLease(endpoint: string, ttl: number): Promise<string> {
  const r = await etcd(endpoint, '/v3/lease/grant', { TTL: ttl });
  return r.ID as string;
}

/** One keep-alive of a lease (the gateway's stream, one message). @throws Error when the lease is gone */
async function keepAlive(endpoint: string, id: string): Promise<void> {
  const r = await etcd(endpoint, '/v3/lease/keepalive', { ID: id });
  const result = r.result as { TTL?: string } | undefined;
  if (!result?.TTL || Number(result.TTL) <= 0) throw new Error(`lease ${id} expired`);
}

/** Campaigns; resolves once elected. @returns the leader key and its create revision (the fencing token) */
async function campaign(endpoint: string, election: string, lease: string, value: string) {
  const r = await etcd(endpoint, '/v3/election/campaign', { name: b64(election), lease, value: b64(value) });
  return r.leader as { key: string; rev: string };
}

/** The agent process of the etcd side: `--etcd-agent name endpoint election ttlSeconds`. */
async function etcdAgent(name: string, endpoint: string, election: string, ttl: number): Promise<void> {
  const say = (event: string, f: Record<string, unknown> = {}): void =>
    void process.stdout.write(`${JSON.stringify({ event, candidate: name, t: Date.now(), ...f })}\n`);
  const alive = setInterval(() => undefined, 1000);
  const released = new Promise((resolve) => process.once('SIGUSR2', resolve));
  say('loaded');
  await released;
  const lease = await grantLease(endpoint, ttl);
  const keeper = setInterval(
    () => void keepAlive(endpoint, lease).catch(() => say('lost')),
    (ttl * 1000) / 3,
  );
  const elected = campaign(endpoint, election, lease, name);
  say('ready');
  await elected;
  say('elected');
  void keeper;
  void alive;
}

interface EtcdCluster {
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Three etcd members on free loopback ports, in a temporary directory. */
async function startEtcd(): Promise<EtcdCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftline-bench-etcd-'));
  const names = ['e1', 'e2', 'e3'];
  const ports = await Promise.all(names.flatMap(() => [freePort(), freePort()]));
  const peer = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const client = (i: number): string => `http://127.0.0.1:${ports[2 * i]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs: ChildProcess[] = names.map((n, i) =>
    spawn(
      ETCD_BIN,
      [
        ...['--name', n, '--data-dir', path.join(dir, n)],
        ...['--listen-client-urls', client(i), '--advertise-client-urls', client(i)],
        ...['--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i)],
        ...[
          '--initial-cluster',
          initial,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          path.basename(dir),
        ],
        ...['--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'error'],
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(
      procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? undefined
          : new Promise((resolve) => (p.once('exit', resolve), p.kill('SIGKILL'))),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const endpoints = names.map((_, i) => client(i));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await Promise.all(
      endpoints.map((e) =>
        etcd(e, '/v3/maintenance/status', {}).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (ok.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('etcd did not start within 30 s');
    }
    await sleep(200);
  }
  return { endpoints, stop };
}

// ------------------------------------------------------------ handoff after kill -9

type System = 'raftline' | 'etcd';

/** A chain of agent processes on one task: the holder, the one waiting, and the next one loading. */
interface Chain {
  holder: Child;
  waiting: Child;
  spawnNext(): Promise<Child>;
}

/** Every agent process the run started: killed at the end, whatever happened. */
const spawned: Child[] = [];
const track = async (child: Promise<Child>): Promise<Child> => {
  const c = await child;
  spawned.push(c);
  return c;
};

async function raftlineChain(
  nc: NatsConnection,
  cluster: string,
  group: string,
  leaseMs: number,
): Promise<Chain> {
  const task = `handoff-${leaseMs}`;
  const admin = await connectClient<Coordinator>({ connection: nc, cluster, group, timeoutMs: 10_000 });
  unwrap(await admin.commands.createTask(task, { leaseMs }));
  admin.close();
  let n = 0;
  const spawnNext = (): Promise<Child> =>
    track(
      spawnAgent(`r${leaseMs}-${n++}`, {
        natsUrl: NATS_URL,
        cluster,
        group,
        task,
        leaseMs,
        stepMs: 3_600_000,
        hold: true,
      }),
    );
  return startChain(spawnNext);
}

async function etcdChain(endpoints: readonly string[], leaseMs: number): Promise<Chain> {
  let n = 0;
  const spawnNext = async (): Promise<Child> => {
    const name = `e${leaseMs}-${n}`;
    const endpoint = endpoints[n++ % endpoints.length]!;
    const args = [
      '-r',
      path.join(ROOT, 'scripts/ts-register.js'),
      __filename,
      '--etcd-agent',
      name,
      endpoint,
      `handoff-${leaseMs}`,
      String(leaseMs / 1000),
    ];
    const child = new Child(
      `etcd agent ${name}`,
      spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    spawned.push(child);
    await child.waitFor("'loaded'", (l) => l.event === 'loaded', { timeoutMs: 60_000 });
    return child;
  };
  return startChain(spawnNext);
}

async function startChain(spawnNext: () => Promise<Child>): Promise<Chain> {
  const holder = await spawnNext();
  await release(holder);
  await holder.waitFor('election', (l) => l.event === 'elected');
  const waiting = await spawnNext();
  await release(waiting);
  return { holder, waiting, spawnNext };
}

/** Whether an agent holds its task now, by its own last word ('elected' or 'lost'). */
const holds = (c: Child): boolean =>
  c.lines.filter((l) => l.event === 'elected' || l.event === 'lost').at(-1)?.event === 'elected';
const fresh = (c: Child): boolean => !c.lines.some((l) => l.event === 'elected' || l.event === 'lost');
/** Leases that moved without a kill (a renewal lost under load), per chain: counted, not measured. */
const unforced = new Map<Chain, number>();

/**
 * Waits until the chain's holder holds and its waiting agent has never held
 * (under load a lease can move on its own: then the roles swap and a fresh
 * waiting agent replaces the one that held).
 * @throws Error when that does not happen within 60 s
 */
async function settle(chain: Chain): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (holds(chain.waiting) && !holds(chain.holder)) {
      [chain.holder, chain.waiting] = [chain.waiting, chain.holder];
      unforced.set(chain, (unforced.get(chain) ?? 0) + 1);
    }
    if (holds(chain.holder) && fresh(chain.waiting)) return;
    if (!fresh(chain.waiting)) {
      await chain.waiting.kill9();
      chain.waiting = await chain.spawnNext();
      await release(chain.waiting);
    }
    if (Date.now() > deadline)
      throw new Error(`${chain.holder.name} and ${chain.waiting.name}: no clean holder in 60 s`);
    await sleep(200);
  }
}

/** kill -9 of the holder after a random part of a renewal period. @returns ms until the waiting agent says it is elected */
async function handoffTrial(chain: Chain, leaseMs: number): Promise<number> {
  const next = chain.spawnNext(); // loads meanwhile
  await sleep(500 + Math.random() * (leaseMs / 4));
  await settle(chain);
  const from = chain.waiting.lines.length;
  const killedAt = Date.now();
  await chain.holder.kill9();
  const elected = await chain.waiting.waitFor('election', (l) => l.event === 'elected', {
    from,
    timeoutMs: 60_000,
  });
  chain.holder = chain.waiting;
  chain.waiting = await next;
  await release(chain.waiting);
  return (elected.t as number) - killedAt;
}

// ------------------------------------------------------------ renewals and guarded writes

/** Runs `count` calls of op(i), up to OUTSTANDING at once. @returns calls per second */
async function flood(count: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: OUTSTANDING }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** Calls per measured run: a window over the TASKS held tasks, starting where the last one stopped. */
const PER_RUN = Number(process.env.BENCH_PER_RUN ?? Math.min(TASKS, 4000));

interface Throughput {
  /** PER_RUN renewals of tasks from task `from` on (wrapping). @returns renewals/s */
  renewals(from: number): Promise<number>;
  writes(from: number): Promise<number>;
  close(): Promise<void>;
}

async function raftlineThroughput(cluster: string, group: string): Promise<Throughput> {
  const nc = await connectNats({ servers: NATS_URL });
  // 256 commands in flight on a loaded machine: a second per attempt is not enough
  const c = await connectClient<Coordinator>({
    connection: nc,
    cluster,
    group,
    timeoutMs: 120_000,
    requestTimeoutMs: 15_000,
    retries: 6,
  });
  unwrap(await c.commands.register('holder'));
  const epochs: number[] = [];
  await flood(TASKS, async (i) => {
    unwrap(await c.commands.createTask(`t${i}`, { leaseMs: HELD_MS }));
    const r = unwrap(await c.commands.campaign(`t${i}`, 'holder'));
    if (r.status !== 'elected') throw new Error(`t${i} not granted`);
    epochs[i] = r.lease.epoch;
  });
  return {
    renewals: (from) =>
      flood(PER_RUN, async (k) => {
        const i = (from + k) % TASKS;
        unwrap(await c.commands.renew(`t${i}`, epochs[i]!));
      }),
    writes: (from) =>
      flood(PER_RUN, async (k) => {
        const i = (from + k) % TASKS;
        unwrap(await c.commands.act(`t${i}`, epochs[i]!, 'out', { op: 'set', value: k }));
      }),
    close: async () => (c.close(), await nc.close()),
  };
}

async function etcdThroughput(endpoints: readonly string[]): Promise<Throughput> {
  const at = (i: number): string => endpoints[i % endpoints.length]!;
  const leases: string[] = [];
  const keys: { key: string; rev: string }[] = [];
  await flood(TASKS, async (i) => {
    leases[i] = await grantLease(at(i), HELD_MS / 1000);
    keys[i] = await campaign(at(i), `t${i}`, leases[i], 'holder');
  });
  const guarded = async (i: number): Promise<void> => {
    const r = await etcd(at(i), '/v3/kv/txn', {
      compare: [{ key: keys[i]!.key, target: 'CREATE', result: 'EQUAL', create_revision: keys[i]!.rev }],
      success: [{ request_put: { key: b64(`t${i}/out`), value: b64(String(i)) } }],
    });
    if (r.succeeded !== true) throw new Error(`t${i}: guarded put refused`);
  };
  return {
    renewals: (from) => flood(PER_RUN, (k) => keepAlive(at((from + k) % TASKS), leases[(from + k) % TASKS]!)),
    writes: (from) => flood(PER_RUN, (k) => guarded((from + k) % TASKS)),
    close: async () => undefined,
  };
}

// ------------------------------------------------------------ the run

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const median = (xs: readonly number[]): number => pct(xs, 50);
const r1 = (v: number): number => Math.round(v * 10) / 10;
const load = (): number => Math.round(os.loadavg()[0]! * 100) / 100;

async function main(): Promise<void> {
  const cluster = `bco${process.pid}${Date.now().toString(36)}`;
  const group = 'coord';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftline-bench-coordinator-'));
  const nc = await connectNats({ servers: NATS_URL });
  const loadBefore = load();
  let replicas: Replicas | undefined;
  let etcdCluster: EtcdCluster | undefined;
  const chains: Chain[] = [];
  const result: Record<string, unknown> = {};
  try {
    replicas = await Replicas.start(
      { cluster, group, dir, natsUrl: NATS_URL, store: { postgres: PG_URL, schema: PG_SCHEMA } },
      nc,
    );
    etcdCluster = await startEtcd();
    const handoff: Record<string, unknown> = { date: new Date().toISOString(), loadAverage1mBefore: load() };
    for (const leaseMs of PARTS.has('handoff') ? LEASES : []) {
      const chain: Record<System, Chain> = {
        raftline: await raftlineChain(nc, cluster, group, leaseMs),
        etcd: await etcdChain(etcdCluster.endpoints, leaseMs),
      };
      chains.push(chain.raftline, chain.etcd);
      const ms: Record<System, number[]> = { raftline: [], etcd: [] };
      for (let i = 0; i < TRIALS; i++) {
        for (const s of (i % 2 === 0 ? ['raftline', 'etcd'] : ['etcd', 'raftline']) as System[]) {
          ms[s].push(await handoffTrial(chain[s], leaseMs));
        }
        console.log(
          `handoff lease ${leaseMs} ms, trial ${i + 1}: raftline ${ms.raftline.at(-1)} ms, etcd ${ms.etcd.at(-1)} ms (load ${load()})`,
        );
      }
      const stats = (xs: number[]) => ({
        trials: xs.length,
        p50Ms: pct(xs, 50),
        p99Ms: pct(xs, 99),
        minMs: Math.min(...xs),
        maxMs: Math.max(...xs),
      });
      handoff[`lease${leaseMs}ms`] = {
        raftline: stats(ms.raftline),
        etcd: stats(ms.etcd),
        leasesMovedWithoutKill: {
          raftline: unforced.get(chain.raftline) ?? 0,
          etcd: unforced.get(chain.etcd) ?? 0,
        },
        p50RatioRaftlineToEtcd: Math.round((pct(ms.raftline, 50) / pct(ms.etcd, 50)) * 100) / 100,
      };
      console.log(JSON.stringify(handoff[`lease${leaseMs}ms`]));
    }
    if (PARTS.has('handoff')) result.handoffAfterKill9 = { ...handoff, loadAverage1mAfter: load() };

    if (PARTS.has('throughput')) await throughput(cluster, group, etcdCluster, result);
  } finally {
    await Promise.all(chains.flatMap((c) => [c.holder.stop(), c.waiting.stop()]));
    await Promise.all(spawned.map((c) => c.kill9()));
    await replicas?.stop();
    await etcdCluster?.stop();
    await nc.close();
    await deleteGroupRows(PG_URL, PG_SCHEMA, group).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const file = path.join(ROOT, 'bench/results/coordinator.json');
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const out = {
    ...kept,
    benchmark: 'coordinator',
    command: 'npm run bench:coordinator',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    setup: {
      raftline:
        '3 raftline serve replicas (PostgreSQL, synchronous_commit on; electionTimeoutMs 1000, heartbeatMs 150) over NATS; agents renew every lease/4, tick every 500 ms',
      etcd: `3 members (${ETCD_BIN}, fsync on; heartbeat 50 ms, election 500 ms) through the HTTP/JSON gateway; agents keep alive every TTL/3`,
    },
    loadAverage1mBeforeAfter: [loadBefore, load()],
    ...result,
  };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

/** Renewals/s and guarded writes/s, in interleaved rounds; the figures go into `result`. */
async function throughput(
  cluster: string,
  group: string,
  etcdCluster: EtcdCluster,
  result: Record<string, unknown>,
): Promise<void> {
  const loadBefore = load();
  {
    const subjects: Record<System, Throughput> = {
      raftline: await raftlineThroughput(cluster, group),
      etcd: await etcdThroughput(etcdCluster.endpoints),
    };
    const rounds: Record<System, { renewals: number[]; writes: number[] }> = {
      raftline: { renewals: [], writes: [] },
      etcd: { renewals: [], writes: [] },
    };
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of (r % 2 === 0 ? ['raftline', 'etcd'] : ['etcd', 'raftline']) as System[]) {
        rounds[s].renewals.push(await subjects[s].renewals(r * PER_RUN));
        rounds[s].writes.push(await subjects[s].writes(r * PER_RUN));
      }
      console.log(
        `round ${r + 1}: renewals/s raftline ${r1(rounds.raftline.renewals.at(-1)!)} etcd ${r1(rounds.etcd.renewals.at(-1)!)}; ` +
          `guarded writes/s raftline ${r1(rounds.raftline.writes.at(-1)!)} etcd ${r1(rounds.etcd.writes.at(-1)!)} (load ${load()})`,
      );
    }
    await Promise.all(Object.values(subjects).map((s) => s.close()));
    const summary = (k: 'renewals' | 'writes') => ({
      raftline: r1(median(rounds.raftline[k])),
      etcd: r1(median(rounds.etcd[k])),
      ratioRaftlineToEtcd: Math.round((median(rounds.raftline[k]) / median(rounds.etcd[k])) * 100) / 100,
      rounds: { raftline: rounds.raftline[k].map(r1), etcd: rounds.etcd[k].map(r1) },
    });
    const shape = { tasks: TASKS, callsPerRound: PER_RUN, outstanding: OUTSTANDING };
    result.renewalsPerSecond = { ...shape, ...summary('renewals') };
    result.guardedWritesPerSecond = { ...shape, ...summary('writes') };
    result.throughputDate = new Date().toISOString();
    result.throughputLoadAverage1mBeforeAfter = [loadBefore, load()];
  }
}

if (process.argv[2] === '--etcd-agent') {
  const [name, endpoint, election, ttl] = process.argv.slice(3);
  etcdAgent(name!, endpoint!, election!, Number(ttl)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
