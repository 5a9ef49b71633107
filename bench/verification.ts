/**
 * The cost of consistency verification, and the typed client's latency, on a
 * 3-replica group over NATS, each replica its own process
 * (test/fixtures/inventory-replica.ts: a core Replica of the Inventory
 * machine behind a MachineHost, over NatsTransport, in-memory stores, no
 * snapshot store, serveClients and serveAdmin; periodic verification off):
 *   (a) client latency, sequential, interleaved in blocks of 25 calls: the
 *       typed client (`client.commands.stock()`, with its session, and with
 *       session: false) vs NatsRaftClient.propose (no session) vs a raw
 *       `nc.request` echo answered by the leader's process (the NATS
 *       request/reply floor);
 *   (b) one verification of a machine holding 100 000 keys, with no load:
 *       the marker→report round (the admin `verify` operation on the leader,
 *       over its JSON wire: marker proposed, committed, applied and digested,
 *       report proposed, committed, applied), the whole AdminClient.verify()
 *       (that round plus every replica's digest at the marker), and each
 *       replica's digest computation (timed inside the replica, around
 *       MachineHost.digest()); for reference, the same digest of the same
 *       state in this process before the replicas start (no contention from them);
 *   (c) command throughput of 16 concurrent clients with no verification vs
 *       with AdminClient.verify() running back to back vs with one every 2 s,
 *       in interleaved rounds, each of a fixed count of commands (a `stock` of
 *       one of the 100 000 keys) or 15 s, whichever ends first.
 *
 * Run: npm run bench:verify   (= node -r ./scripts/ts-register.js bench/verification.ts)
 * NATS_URL overrides the shared server 127.0.0.1:4222.
 * Writes bench/results/verification.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MachineHost, pack, unpack } from '@raftline/core';
import {
  AdminClient,
  connectClient,
  connectNats,
  groupSubjects,
  NatsRaftClient,
  type MachineClient,
  type NatsConnection,
} from '@raftline/transport-nats';
import { Inventory } from '../test/fixtures/inventory';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const ROOT = path.resolve(__dirname, '..');
const REGISTER = path.join(ROOT, 'scripts/ts-register.js');
const REPLICA = path.join(ROOT, 'test/fixtures/inventory-replica.ts');
const IDS = ['v1', 'v2', 'v3'];
const GROUP = 'inv';
const ELECTION_MS = 1000;
const LATENCY = { warmup: 200, perBlock: 25, blocks: 60, keys: 16 };
const KEYS = 100_000;
const FILL_PER_COMMAND = 1000;
const QUIET_VERIFICATIONS = 10;
const THROUGHPUT = {
  clients: 16,
  connections: 4,
  commandsPerRound: 6000,
  roundCapMs: 15_000,
  sets: 3,
  pacedVerifyEveryMs: 2000,
};

/** A throughput round's verification: none, AdminClient.verify() back to back, or one every pacedVerifyEveryMs. */
type VerifyMode = 'none' | 'back-to-back' | 'paced';
const MODES: readonly VerifyMode[] = ['none', 'back-to-back', 'paced'];

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const loadavg = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

interface Cluster {
  readonly cluster: string;
  stop(): Promise<void>;
}

/** Spawns one replica process per id and waits for each to say it is ready (30 s at most). */
async function startCluster(cluster: string): Promise<Cluster> {
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const kill = setTimeout(() => p.kill('SIGKILL'), 3000);
            p.once('exit', () => (clearTimeout(kill), resolve()));
            p.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await Promise.all(
      IDS.map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            const env = {
              ...process.env,
              NATS_URL,
              RAFT_CLUSTER: cluster,
              RAFT_GROUP: GROUP,
              RAFT_ID: id,
              RAFT_VOTERS: IDS.join(','),
              ELECTION_MS: String(ELECTION_MS),
            };
            const proc = spawn(process.execPath, ['-r', REGISTER, REPLICA], {
              env,
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            procs.push(proc);
            let err = '';
            proc.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-5000)));
            const timer = setTimeout(
              () => reject(new Error(`replica ${id} not ready in 30 s: ${err}`)),
              30_000,
            );
            proc.stdout?.on('data', (b: Buffer) => {
              if (b.toString().includes('"ready"')) {
                clearTimeout(timer);
                resolve();
              }
            });
            proc.once('exit', (code) => reject(new Error(`replica ${id} exited (${code}): ${err}`)));
          }),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, stop };
}

/** What inventory-replica.ts's inspect subject reports (the fields used here). */
interface Inspection {
  readonly id: string;
  readonly role: string;
  readonly leaderId: string;
  /** ms of each of the replica's last 64 digests. */
  readonly digestMs: number[];
}

async function inspect(nc: NatsConnection, cluster: string, id: string): Promise<Inspection | undefined> {
  try {
    const msg = await nc.request(`raftline-test.${cluster}.${id}.inspect`, undefined, { timeout: 2000 });
    return unpack(msg.data) as Inspection;
  } catch {
    return undefined;
  }
}

/** Polls the replicas until one leads and all three name it (20 s at most). */
async function awaitLeader(nc: NatsConnection, cluster: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const seen = await Promise.all(IDS.map((id) => inspect(nc, cluster, id)));
    const leaders = seen.filter((s) => s?.role === 'leader');
    if (leaders.length === 1 && seen.every((s) => s?.leaderId === leaders[0]!.id)) return leaders[0]!.id;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no single leader within 20 s');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(samples: readonly number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    samples: s.length,
    p50Ms: round3(percentile(s, 50)),
    p90Ms: round3(percentile(s, 90)),
    p99Ms: round3(percentile(s, 99)),
    maxMs: round3(s[s.length - 1] ?? NaN),
    meanMs: round3(mean),
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

// ------------------------------------------------------------ (a) latency

type Call = (i: number) => Promise<unknown>;

/** `count` sequential calls; returns each one's ms. */
async function timeCalls(call: Call, count: number, offset: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await call(offset + i);
    out.push(performance.now() - t);
  }
  return out;
}

async function latency(nc: NatsConnection, cluster: string, leader: string) {
  const typed: MachineClient<Inventory> = await connectClient<Inventory>({
    connection: nc,
    cluster,
    group: GROUP,
  });
  const typedNoSession = await connectClient<Inventory>({
    connection: nc,
    cluster,
    group: GROUP,
    session: false,
  });
  const raw = new NatsRaftClient({ connection: nc, cluster, group: GROUP, followLeader: true });
  const echoSubject = `raftline-test.${cluster}.${leader}.echo`;
  const key = (i: number) => `lat${i % LATENCY.keys}`;
  const calls: Record<string, Call> = {
    typedClient: (i) => typed.commands.stock(key(i), 1),
    typedClientNoSession: (i) => typedNoSession.commands.stock(key(i), 1),
    natsRaftClientPropose: (i) => raw.propose({ name: 'stock', args: [key(i), 1] }),
    rawRequestEcho: (i) => nc.request(echoSubject, pack(['stock', [key(i), 1]]), { timeout: 5000 }),
  };
  const names = Object.keys(calls);
  for (const name of names) await timeCalls(calls[name]!, LATENCY.warmup, 0);
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  const blockP50 = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let b = 0; b < LATENCY.blocks; b++) {
    // Interleaved in small blocks, the order rotated each block, so that the
    // machine's drift (other work on it) falls on every kind of call alike.
    const order = names.map((_, i) => names[(i + b) % names.length]!);
    for (const name of order) {
      const ms = await timeCalls(calls[name]!, LATENCY.perBlock, b * LATENCY.perBlock);
      samples.get(name)!.push(...ms);
      blockP50.get(name)!.push(summary(ms).p50Ms);
    }
  }
  typed.close();
  typedNoSession.close();
  raw.close();
  const results = Object.fromEntries(names.map((n) => [n, summary(samples.get(n)!)]));
  // p50 and p99 over all samples; `blockwise`: the median, over blocks, of a's block p50 over b's in the same block.
  const ratio = (a: string, b: string) => ({
    p50: round3(results[a]!.p50Ms / results[b]!.p50Ms),
    p99: round3(results[a]!.p99Ms / results[b]!.p99Ms),
    blockwiseP50: round3(median(blockP50.get(a)!.map((x, i) => x / blockP50.get(b)![i]!))),
  });
  return {
    results,
    ratios: {
      typedClientVsPropose: ratio('typedClient', 'natsRaftClientPropose'),
      typedClientNoSessionVsPropose: ratio('typedClientNoSession', 'natsRaftClientPropose'),
      typedClientVsRawEcho: ratio('typedClient', 'rawRequestEcho'),
      proposeVsRawEcho: ratio('natsRaftClientPropose', 'rawRequestEcho'),
    },
    addedP50Ms: {
      typedClientOverPropose: round3(results.typedClient!.p50Ms - results.natsRaftClientPropose!.p50Ms),
      typedClientOverRawEcho: round3(results.typedClient!.p50Ms - results.rawRequestEcho!.p50Ms),
    },
  };
}

// ------------------------------------------------------------ (b) one verification

/** MachineHost.digest() of an Inventory holding what preload() stocks, here, 5 times. @returns each one's ms */
function referenceDigest(): number[] {
  const host = new MachineHost(new Inventory());
  for (let from = 0; from < KEYS; from += FILL_PER_COMMAND) {
    host.apply(
      { name: 'fill', args: ['k', from, FILL_PER_COMMAND, 1], time: 0 },
      { index: 1 + from, term: 1, time: 0 },
    );
  }
  return Array.from({ length: 5 }, () => {
    const t = performance.now();
    host.digest();
    return performance.now() - t;
  });
}

/** Stocks KEYS keys, FILL_PER_COMMAND per command, from 4 concurrent callers. */
async function preload(client: NatsRaftClient): Promise<number> {
  const t = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (next < KEYS) {
        const from = next;
        next += FILL_PER_COMMAND;
        await client.propose({ name: 'fill', args: ['k', from, FILL_PER_COMMAND, 1] });
      }
    }),
  );
  return Math.round(performance.now() - t);
}

/** The leader's admin `verify` operation over its JSON wire: the marker→report round. @returns ms */
async function verifyRound(nc: NatsConnection, cluster: string, leader: string): Promise<number> {
  const subject = groupSubjects(cluster, GROUP).admin(leader, 'verify');
  const t = performance.now();
  const msg = await nc.request(subject, new TextEncoder().encode('{}'), { timeout: 30_000 });
  const ms = performance.now() - t;
  const reply = JSON.parse(new TextDecoder().decode(msg.data)) as { ok: boolean; error?: { name: string } };
  if (!reply.ok) throw new Error(`verify failed on ${leader}: ${reply.error?.name}`);
  return ms;
}

/** Each replica's last `n` digest times. */
async function lastDigests(
  nc: NatsConnection,
  cluster: string,
  n: number,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const id of IDS) out[id] = (await inspect(nc, cluster, id))?.digestMs.slice(-n) ?? [];
  return out;
}

async function quietVerification(nc: NatsConnection, cluster: string, leader: string, admin: AdminClient) {
  const rounds: number[] = [];
  const whole: number[] = [];
  let agreed = 0;
  for (let i = 0; i < QUIET_VERIFICATIONS; i++) {
    rounds.push(await verifyRound(nc, cluster, leader));
    const t = performance.now();
    const report = await admin.verify({ timeoutMs: 30_000 });
    whole.push(performance.now() - t);
    if (report.agree) agreed++;
  }
  const digests = await lastDigests(nc, cluster, 2 * QUIET_VERIFICATIONS);
  return {
    verifications: 2 * QUIET_VERIFICATIONS,
    agreed: `${agreed} of ${QUIET_VERIFICATIONS} AdminClient.verify() reports`,
    markerToReportRound: summary(rounds),
    adminClientVerify: summary(whole),
    digestPerReplica: Object.fromEntries(Object.entries(digests).map(([id, ms]) => [id, summary(ms)])),
  };
}

// ------------------------------------------------------------ (c) throughput with and without verification

async function throughputRound(
  clients: readonly NatsRaftClient[],
  round: number,
  mode: VerifyMode,
  admin: AdminClient,
) {
  let issued = 0;
  let failed = 0;
  let running = true;
  const latencies: number[] = [];
  const deadline = Date.now() + THROUGHPUT.roundCapMs;
  const verifyMs: number[] = [];
  let verifyFailed = 0;
  const verifying = (async () => {
    while (mode !== 'none' && running) {
      const t = performance.now();
      try {
        await admin.verify({ timeoutMs: 30_000 });
        verifyMs.push(performance.now() - t);
      } catch {
        verifyFailed++;
      }
      if (mode === 'paced') {
        const until = t + THROUGHPUT.pacedVerifyEveryMs;
        while (running && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  const start = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (issued < THROUGHPUT.commandsPerRound && Date.now() < deadline) {
        const i = issued++;
        const key = `k${(i * 7919 + round * 104_729) % KEYS}`;
        const t = performance.now();
        try {
          await client.propose({ name: 'stock', args: [key, 1] });
          latencies.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  running = false;
  await verifying;
  return {
    verify: mode,
    commands: issued,
    failed,
    seconds: round3(seconds),
    commandsPerSecond: Math.round(latencies.length / seconds),
    latency: summary(latencies),
    ...(mode !== 'none'
      ? { verifications: verifyMs.length, verifyFailed, adminClientVerify: summary(verifyMs) }
      : {}),
    loadAverage1m: loadavg()[0],
  };
}

async function throughput(nc: NatsConnection, cluster: string, admin: AdminClient) {
  const conns = await Promise.all(
    Array.from({ length: THROUGHPUT.connections }, () => connectNats({ servers: NATS_URL })),
  );
  const clients = Array.from(
    { length: THROUGHPUT.clients },
    (_, i) =>
      new NatsRaftClient({
        connection: conns[i % conns.length]!,
        cluster,
        group: GROUP,
        timeoutMs: 10_000,
        followLeader: true,
      }),
  );
  try {
    await throughputRound(clients, 99, 'none', admin); // warm-up
    type Round = Awaited<ReturnType<typeof throughputRound>> & {
      digestPerReplica?: Record<string, ReturnType<typeof summary>>;
    };
    const rounds: Round[] = [];
    for (let set = 0; set < THROUGHPUT.sets; set++) {
      // Interleaved: the modes in a rotated order each set, so that none always runs first.
      const order = MODES.map((_, i) => MODES[(i + set) % MODES.length]!);
      for (const mode of order) {
        const r = await throughputRound(clients, rounds.length, mode, admin);
        const n = Math.min(64, r.verifications ?? 0);
        const digests = n > 0 ? await lastDigests(nc, cluster, n) : undefined;
        rounds.push({
          ...r,
          ...(digests
            ? {
                digestPerReplica: Object.fromEntries(
                  Object.entries(digests).map(([id, ms]) => [id, summary(ms)]),
                ),
              }
            : {}),
        });
        console.log(
          `  round ${rounds.length} (${mode}): ${r.commandsPerSecond} commands/s, ` +
            `p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms` +
            (r.verifications !== undefined ? `, ${r.verifications} verifications` : ''),
        );
      }
    }
    const rate = (mode: VerifyMode) =>
      median(rounds.filter((r) => r.verify === mode).map((r) => r.commandsPerSecond));
    return {
      medianCommandsPerSecond: {
        withoutVerification: rate('none'),
        withVerifyBackToBack: rate('back-to-back'),
        withVerifyEvery2s: rate('paced'),
      },
      backToBackVsWithout: round3(rate('back-to-back') / rate('none')),
      every2sVsWithout: round3(rate('paced') / rate('none')),
      rounds,
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(conns.map((c) => c.close()));
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const reference = summary(referenceDigest());
  console.log(`reference: digest of ${KEYS} keys in this process, p50 ${reference.p50Ms} ms`);
  const cluster = `benchverify${process.pid}`;
  const nc = await connectNats({ servers: NATS_URL });
  const c = await startCluster(cluster);
  try {
    const leader = await awaitLeader(nc, cluster);
    console.log(`leader ${leader}`);
    const lat = await latency(nc, cluster, leader);
    for (const [name, r] of Object.entries(lat.results)) {
      console.log(`(a) ${name}: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (${r.samples} calls)`);
    }
    console.log('    ratios', JSON.stringify(lat.ratios), 'added p50', JSON.stringify(lat.addedP50Ms));

    const admin = new AdminClient({
      connection: nc,
      cluster,
      group: GROUP,
      timeoutMs: 30_000,
      requestTimeoutMs: 5000,
    });
    const raw = new NatsRaftClient({
      connection: nc,
      cluster,
      group: GROUP,
      timeoutMs: 30_000,
      followLeader: true,
    });
    const preloadMs = await preload(raw);
    raw.close();
    console.log(`preloaded ${KEYS} keys in ${preloadMs} ms`);
    const quiet = await quietVerification(nc, cluster, leader, admin);
    console.log(
      `(b) marker→report round p50 ${quiet.markerToReportRound.p50Ms} ms (max ${quiet.markerToReportRound.maxMs}); ` +
        `AdminClient.verify() p50 ${quiet.adminClientVerify.p50Ms} ms; digest per replica p50 ` +
        Object.entries(quiet.digestPerReplica)
          .map(([id, s]) => `${id} ${s.p50Ms} ms`)
          .join(', '),
    );
    const tput = await throughput(nc, cluster, admin);
    console.log(
      `(c) 16 clients: ${tput.medianCommandsPerSecond.withoutVerification} commands/s without verification, ` +
        `${tput.medianCommandsPerSecond.withVerifyBackToBack} with verify() back to back (× ${tput.backToBackVsWithout}), ` +
        `${tput.medianCommandsPerSecond.withVerifyEvery2s} with one every 2 s (× ${tput.every2sVsWithout})`,
    );
    const leaderAfter = await awaitLeader(nc, cluster);
    const result = {
      benchmark: 'verification',
      command: 'npm run bench:verify  (node -r ./scripts/ts-register.js bench/verification.ts)',
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '?',
        node: process.version,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadavg(),
      },
      nats: { url: NATS_URL },
      config: {
        replicas: IDS.length,
        processes: 'one per replica (test/fixtures/inventory-replica.ts), plus this client process',
        machine:
          'Inventory behind a MachineHost: digest = SHA-256 of the canonical encoding of its state, sessions and time',
        stores: 'in-memory (no snapshot store)',
        electionTimeoutMs: ELECTION_MS,
        latency: LATENCY,
        keys: KEYS,
        fillPerCommand: FILL_PER_COMMAND,
        quietVerifications: QUIET_VERIFICATIONS,
        throughput: THROUGHPUT,
        leaderBefore: leader,
        leaderAfter,
      },
      latency: lat,
      preloadMs,
      verificationWithoutLoad: quiet,
      referenceDigestInThisProcess: reference,
      throughput: tput,
    };
    const out = path.join(ROOT, 'bench/results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'verification.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${path.join(out, 'verification.json')}`);
  } finally {
    await c.stop();
    await nc.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
