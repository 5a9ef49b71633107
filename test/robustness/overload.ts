// npm run test:overload [-- options]: overload pushes back, nothing grows.
// Three replica processes of the kv machine on the suite's own PostgreSQL
// and NATS, default bounds (raft.maxPendingProposals, clients.*). It
// measures what the cluster serves (closed-loop writers), the latency of a
// light probe load alone and beside those writers (the cluster at capacity,
// nothing in excess), then offers `factor` times that capacity for
// `duration` seconds (an open-loop flood over several connections) with the
// same probe running, sampling every replica's RSS each second.
//   --duration S     seconds of flood (default 60)
//   --factor N       offered load as a multiple of the measured capacity (default 10)
//   --measure S      seconds of each measuring phase (default 10)
//   --flood-nice N   the flood processes' nice value, 0 to 19 (default 19)
//   --raft-connection shared|separate
//                    the replicas' nats.separateRaftConnection (default: serve's
//                    default, separate); shared puts Raft and client traffic on one
//                    connection, to compare
// The flood processes run at the lowest CPU priority (nice 19): on this
// machine they share the cores with the replicas, which the clients of a real
// deployment would not (they run elsewhere); a replica must not lose CPU to
// the load it refuses. The probe and this process run at normal priority.
// Passes (exit 0) when no replica exited, the excess was refused with
// OverloadedError, admitted puts were acknowledged, and no replica's RSS kept
// growing (the last third's peak within 1.5 × the first third's, + 64 MiB).
// One summary line, with latencies as ratios to the probe alone and at
// capacity (the machine is shared: read the ratios; what the excess itself
// costs the admitted load is the ratio to the probe at capacity), and the leader changes and term rise seen by
// a status poll once a second during the flood, and each replica's longest
// event-loop delay under flood (a heartbeat cannot leave a blocked loop,
// whichever connection it would take).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVE_DEFAULTS } from '@raftline/cli';
import { AdminClient, connectNats, type NatsConnection } from '@raftline/transport-nats';
import { RobustCluster } from './support/cluster';
import { Environment } from './support/environment';
import { closedLoop, floodProcesses, quantile, type LoadTally } from './support/flood';
import { sleep } from '../cluster/support/nats';

const MIB = 1024 * 1024;
/** Processes the flood comes from, each on 4 connections of its own. */
const FLOOD_PROCESSES = 2;
const ELECTION_MS = 1000;

/** Leadership as seen once a second during the flood. */
interface Leadership {
  readonly firstTerm: number;
  readonly lastTerm: number;
  /** Times the leader named differed from the last one named. */
  readonly leaderChanges: number;
  /** Each rise of the term: seconds into the flood, new term and its leader ('?' for none yet). */
  readonly termRises: readonly string[];
  readonly polls: number;
}

/**
 * Asks the group's status (AdminClient, on the probe's connection) once a
 * second until stopped; counts a leader change each time the leader named
 * differs from the last one named (no leader in between counts nothing),
 * and notes when the term rose (an election, won or not, since the last poll).
 */
function watchLeader(admin: AdminClient): { stop(): Promise<Leadership> } {
  const start = Date.now();
  let firstTerm = 0;
  let lastTerm = 0;
  let leader = '';
  let leaderChanges = 0;
  let polls = 0;
  const termRises: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        const s = await admin.status();
        polls++;
        if (firstTerm === 0) firstTerm = lastTerm = s.term;
        if (s.term > lastTerm) {
          termRises.push(`${Math.round((started - start) / 1000)}s:t${s.term}=${s.leaderId || '?'}`);
          lastTerm = s.term;
        }
        if (s.leaderId !== '') {
          if (leader !== '' && s.leaderId !== leader) leaderChanges++;
          leader = s.leaderId;
        }
      } catch {
        // unanswered: the next poll tells
      }
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { firstTerm, lastTerm, leaderChanges, termRises, polls };
    },
  };
}

/**
 * A replica's event-loop delay during [from, to] (ms since the epoch), from
 * the per-second maxima serve-replica.ts appends to <dir>/<id>.loop: the
 * largest, and the seconds whose maximum reached half the election timeout.
 */
function loopDelay(dir: string, id: string, from: number, to: number, electionMs: number): string {
  let text = '';
  try {
    text = readFileSync(join(dir, `${id}.loop`), 'utf8');
  } catch {
    return `${id} -`;
  }
  const maxima = text
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .filter(([at, ms]) => at !== undefined && ms !== undefined && at >= from && at <= to)
    .map(([, ms]) => ms!);
  const over = maxima.filter((ms) => ms >= electionMs / 2).length;
  return `${id} ${maxima.length ? Math.max(...maxima) : '-'} ms (${over} s ≥ ${electionMs / 2} ms)`;
}

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} (${value}) must be a positive integer`);
  return n;
}

const perSecond = (t: LoadTally, ms: number) => Math.round((t.ok * 1000) / ms);
const failures = (t: LoadTally) =>
  Object.entries(t.failed)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      factor: { type: 'string' },
      measure: { type: 'string' },
      'flood-nice': { type: 'string' },
      'raft-connection': { type: 'string' },
    },
  });
  const floodMs = int(values.duration, 'duration', 60) * 1000;
  const factor = int(values.factor, 'factor', 10);
  const measureMs = int(values.measure, 'measure', 10) * 1000;
  const floodNice = Number(values['flood-nice'] ?? 19);
  if (!Number.isInteger(floodNice) || floodNice < 0 || floodNice > 19)
    throw new Error(`--flood-nice (${values['flood-nice']}) must be an integer from 0 to 19`);
  const raftConnection =
    values['raft-connection'] ?? (SERVE_DEFAULTS.separateRaftConnection ? 'separate' : 'shared');
  if (raftConnection !== 'shared' && raftConnection !== 'separate')
    throw new Error(`--raft-connection (${raftConnection}) must be shared or separate`);
  // The replicas inherit this process's environment (serve-replica.ts reads it).
  if (values['raft-connection'] !== undefined) process.env.ROBUST_RAFT_CONNECTION = raftConnection;

  // serve-replica.ts records each second's longest event-loop delay here (the replicas inherit the environment).
  const loopDir = mkdtempSync(join(tmpdir(), 'raftline-overload-loop-'));
  process.env.ROBUST_LOOP_DIR = loopDir;
  const env = await Environment.start();
  const connections: NatsConnection[] = [];
  let cluster: RobustCluster | undefined;
  try {
    cluster = await RobustCluster.create(env, {
      nodes: 3,
      electionMs: ELECTION_MS,
      machine: join(__dirname, 'machines/kv.ts'),
    });
    await cluster.startAll();
    for (let i = 0; i < 9; i++)
      connections.push(await connectNats({ servers: env.nats.url(0), name: `load ${i}` }));
    const [probeConn, ...floodConns] = connections;
    const at = { cluster: cluster.cluster, group: cluster.group };
    const probeTarget = { ...at, connections: [probeConn!], prefix: 'probe' };
    await closedLoop(probeTarget, 4, 3000); // warm up: a leader, connections, JIT

    const capacity = await closedLoop({ ...at, connections: floodConns, prefix: 'cap' }, 128, measureMs);
    const capacityPerSecond = perSecond(capacity, measureMs);
    const alone = await closedLoop(probeTarget, 4, measureMs);
    const [, atCapacity] = await Promise.all([
      closedLoop({ ...at, connections: floodConns, prefix: 'full' }, 128, measureMs),
      closedLoop(probeTarget, 4, measureMs),
    ]);

    const rss = new Map<string, number[]>(cluster.ids.map((id) => [id, []]));
    const sampler = setInterval(() => {
      for (const id of cluster!.ids) {
        const bytes = cluster!.rssBytes(id);
        if (bytes !== undefined) rss.get(id)!.push(bytes);
      }
    }, 1000);
    const offered = capacityPerSecond * factor;
    const floodFrom = Date.now();
    const flood = floodProcesses({
      ...at,
      natsUrl: env.nats.url(0),
      prefix: 'flood',
      ratePerSecond: offered,
      durationMs: floodMs,
      processes: FLOOD_PROCESSES,
      nice: floodNice,
    });
    const probe = closedLoop(probeTarget, 4, floodMs);
    const leaders = watchLeader(
      new AdminClient({ connection: probeConn!, ...at, timeoutMs: 2000, requestTimeoutMs: 1000 }),
    );
    const [floodTally, probeTally] = await Promise.all([flood, probe]);
    const floodTo = Date.now();
    clearInterval(sampler);
    const leadership = await leaders.stop();
    await sleep(1000);

    const problems: string[] = [];
    const exits = cluster.unexpectedExits();
    if (exits.length > 0) problems.push(`replicas exited: ${exits.join(' | ')}`);
    if (floodTally.overloaded === 0) problems.push('no OverloadedError for the excess');
    if (floodTally.ok === 0 || probeTally.ok === 0) problems.push('no admitted put was acknowledged');
    const rssReport: string[] = [];
    for (const [id, samples] of rss) {
      const third = Math.max(1, Math.floor(samples.length / 3));
      const first = Math.max(...samples.slice(0, third));
      const last = Math.max(...samples.slice(-third));
      rssReport.push(`${id} ${Math.round(first / MIB)}→${Math.round(last / MIB)} MiB`);
      if (samples.length < 3) problems.push(`${id}: too few RSS samples (${samples.length})`);
      else if (last > first * 1.5 + 64 * MIB)
        problems.push(`${id}: RSS grew from ${Math.round(first / MIB)} to ${Math.round(last / MIB)} MiB`);
    }

    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
    const [p50a, p99a] = [quantile(alone.latencies, 0.5), quantile(alone.latencies, 0.99)];
    const [p50c, p99c] = [quantile(atCapacity.latencies, 0.5), quantile(atCapacity.latencies, 0.99)];
    const [p50p, p99p] = [quantile(probeTally.latencies, 0.5), quantile(probeTally.latencies, 0.99)];
    const [p50f, p99f] = [quantile(floodTally.latencies, 0.5), quantile(floodTally.latencies, 0.99)];
    const ok = problems.length === 0;
    process.stdout.write(
      `overload ${ok ? 'PASS' : 'FAIL'}: Raft connection ${raftConnection}, flood processes at nice ${floodNice}; ` +
        `capacity ${capacityPerSecond}/s (128 writers); ` +
        `offered ${offered}/s × ${floodMs / 1000} s, sent ${Math.round((floodTally.sent * 1000) / floodMs)}/s ` +
        `(${floodTally.notSent} not sent: a flood process at 10000 unanswered); ` +
        `admitted and acknowledged ${perSecond(floodTally, floodMs)}/s, OverloadedError ${floodTally.overloaded}, ` +
        `other failures: ${failures(floodTally)}; ` +
        `probe alone p50 ${p50a} p99 ${p99a} ms; probe at capacity p50 ${p50c} p99 ${p99c} ms; ` +
        `probe under flood p50 ${p50p} p99 ${p99p} ms ` +
        `(× alone ${ratio(p50p, p50a)} / ${ratio(p99p, p99a)}, × at capacity ${ratio(p50p, p50c)} / ${ratio(p99p, p99c)}), ` +
        `ok ${probeTally.ok}, overloaded ${probeTally.overloaded}, ` +
        `other ${failures(probeTally)}; admitted flood puts p50 ${p50f} p99 ${p99f} ms; ` +
        `RSS first→last third peak: ${rssReport.join(', ')}; ` +
        `replica event-loop delay under flood, longest: ${cluster.ids
          .map((id) => loopDelay(loopDir, id, floodFrom, floodTo, ELECTION_MS))
          .join(', ')}; ` +
        `under flood: leader changes ${leadership.leaderChanges}, term ${leadership.firstTerm}→${leadership.lastTerm} ` +
        `(${leadership.termRises.join(' ') || 'no election'}; ${leadership.polls} status polls); ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}` +
        `${ok ? '' : `; problems: ${problems.join(' | ')}`}\n`,
    );
    if (!ok || process.env.OVERLOAD_LOGS)
      for (const id of cluster.ids) process.stdout.write(`--- ${id}\n${cluster.log(id).slice(-3000)}\n`);
    return ok ? 0 : 1;
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    await cluster?.dispose();
    await env.close();
    rmSync(loopDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`overload run failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  },
);
