/**
 * Where the time of one sequential command goes (issue #15): the replicas of
 * bench/compare-raftline.ts (three processes over a private nats-server, with
 * PostgreSQL or in-memory stores) run with bench/seq-trace.js preloaded, which
 * timestamps each phase; this script sends `--commands` commands one at a time
 * (after 50 unmeasured ones) and prints the median of each phase per store.
 *
 * Run: node -r ./scripts/ts-register.js bench/seq-latency.ts [--stores postgres,memory] [--commands 300]
 * The phases are on the critical path of a command on a 3-node group: the
 * commit needs the leader's own write and the first follower's ack.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Pool } from 'pg';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNatsServer } from '../packages/transport-nats/test/support/nats-server';
import { startRaftline } from './compare-raftline';
import { IDS } from './nats-cluster';

type Event = [number, string, ...(string | number)[]];
type Trace = Record<string, Event[]>;

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const COMMANDS = Math.min(5000, Number(arg('commands', '300')));
const STORES = arg('stores', 'postgres,memory').split(',') as ('postgres' | 'memory')[];
const now = (): number => performance.timeOrigin + performance.now();

async function measure(stores: 'postgres' | 'memory', natsUrl: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftline-seqtrace-'));
  process.env.RAFT_TRACE_DIR = dir;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} -r ${path.join(__dirname, 'seq-trace.js')}`;
  const peer = await startRaftline(stores, natsUrl, 1, 1000);
  const sent: [number, number][] = [];
  const deadline = Date.now() + 120_000;
  let cpu = { replicas: 0, backends: 0 };
  try {
    const write = peer.writer(0);
    for (let i = -50; i < 0; i++) await write(i + 50);
    const pids = { replicas: peer.pids(), backends: stores === 'postgres' ? await backends() : [] };
    const before = { replicas: cpuMs(pids.replicas), backends: cpuMs(pids.backends) };
    for (let i = 0; i < COMMANDS && Date.now() < deadline; i++) {
      const t0 = now();
      await write(i);
      sent.push([t0, now()]);
    }
    cpu = {
      replicas: (cpuMs(pids.replicas) - before.replicas) / sent.length,
      backends: (cpuMs(pids.backends) - before.backends) / sent.length,
    };
  } finally {
    await peer.stop();
  }
  const trace: Trace = {};
  for (const id of IDS) trace[id] = JSON.parse(readFileSync(path.join(dir, `${id}.json`), 'utf8')) as Event[];
  if (process.env.RAFT_TRACE_PROFILE === '1') console.log(`CPU profiles in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  const phases = analyse(trace, sent);
  phases.set('15 cpu ms per command: replica processes', [cpu.replicas]);
  if (stores === 'postgres') phases.set('16 cpu ms per command: their pg backends', [cpu.backends]);
  report(stores, phases);
}

/** User + system CPU of the processes so far, in ms (from /proc; Linux only). */
function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** The PostgreSQL backends of the replicas (their application_name, see test/fixtures/replica.ts). */
async function backends(): Promise<number[]> {
  const pool = new Pool({
    connectionString: process.env.RAFT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    max: 1,
  });
  try {
    const res = await pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'raftline-replica-%'",
    );
    return res.rows.map((r) => r.pid);
  } finally {
    await pool.end();
  }
}

/** The first event of `kind` at or after `from` that matches `pred`. */
function first(events: Event[], kind: string, from: number, pred: (e: Event) => boolean = () => true) {
  for (const e of events) if (e[0] >= from && e[1] === kind && pred(e)) return e;
  return undefined;
}

function analyse(trace: Trace, sent: [number, number][]): Map<string, number[]> {
  const proposals = (id: string) => trace[id]!.filter((e) => e[1] === 'P').length;
  const leader = IDS.reduce((a, b) => (proposals(b) > proposals(a) ? b : a));
  const L = trace[leader]!;
  const followers = IDS.filter((id) => id !== leader);
  const phases = new Map<string, number[]>();
  const put = (name: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    let list = phases.get(name);
    if (!list) phases.set(name, (list = []));
    list.push(v);
  };
  for (const [t0, t1] of sent) {
    const P = first(L, 'P', t0);
    if (!P || P[0] > t1) continue;
    const lp0 = first(L, 'p0', P[0], (e) => Number(e[3]) > 0);
    if (!lp0) continue;
    const idx = Number(lp0[3]);
    const lp1 = first(L, 'p1', lp0[0], (e) => e[3] === idx);
    const C = first(L, 'p0', P[0], (e) => Number(e[4]) >= idx);
    const R = first(L, 'R', P[0]);
    if (!lp1 || !C || !R) continue;
    // The follower whose ack arrives first is the one the commit waited for.
    const acks = followers.map((f) => ({
      f,
      k: first(L, 'rr', P[0], (e) => e[2] === f && Number(e[3]) >= idx),
    }));
    const ack = acks.filter((a) => a.k).sort((a, b) => a.k![0] - b.k![0])[0];
    if (!ack) continue;
    const F = trace[ack.f]!;
    const sa = first(L, 'sa', P[0], (e) => e[2] === ack.f && Number(e[3]) >= idx);
    const ra = first(F, 'ra', t0, (e) => Number(e[3]) >= idx);
    const fp0 = ra && first(F, 'p0', ra[0], (e) => Number(e[3]) >= idx);
    const fp1 = fp0 && first(F, 'p1', fp0[0], (e) => e[3] === fp0[3]);
    const sr = fp1 && first(F, 'sr', fp1[0], (e) => Number(e[3]) >= idx);
    const pgParts = (events: Event[], w0: Event, w1: Event, name: string) => {
      put(
        `${name}a   queries per write`,
        events.filter((e) => e[1] === 'q1' && e[0] >= w0[0] && e[0] <= w1[0]).length,
      );
      const c0 = first(events, 'c0', w0[0]);
      const c1 = c0 && c0[0] <= w1[0] ? first(events, 'c1', c0[0]) : undefined;
      if (c0 && c1) put(`${name}b   pool checkout`, c1[0] - c0[0]);
      const q0 = first(events, 'q0', w0[0]);
      const q1 = q0 && q0[0] <= w1[0] ? first(events, 'q1', q0[0], (e) => e[2] === q0[2]) : undefined;
      if (q0 && q1) put(`${name}c   pg query (${String(q0[2]).slice(0, 10)})`, q1[0] - q0[0]);
      if (q1) put(`${name}d   query end -> write ends`, w1[0] - q1[0]);
      if (q0) put(`${name}e   write starts -> query sent`, q0[0] - w0[0]);
    };
    pgParts(L, lp0, lp1, '03');
    if (fp0 && fp1) {
      // How many of the other two replicas' writes of this entry overlapped the acking follower's.
      const other = followers.find((f) => f !== ack.f)!;
      const op0 = first(trace[other]!, 'p0', t0, (e) => Number(e[3]) >= idx);
      const op1 = op0 && first(trace[other]!, 'p1', op0[0], (e) => e[3] === op0[3]);
      const overlaps = (a0: number, a1: number) => a0 < fp1[0] && a1 > fp0[0];
      const n = (overlaps(lp0[0], lp1[0]) ? 1 : 0) + (op0 && op1 && overlaps(op0[0], op1[0]) ? 1 : 0);
      put(`07f   follower write, ${n} other writes overlapping`, fp1[0] - fp0[0]);
    }
    if (fp0 && fp1) pgParts(F, fp0, fp1, '07');
    put('01 client -> leader propose', P[0] - t0);
    put('02 propose -> leader write starts', lp0[0] - P[0]);
    put('03 leader write', lp1[0] - lp0[0]);
    put('04 propose -> append sent', sa ? sa[0] - P[0] : undefined);
    put('05 append transit', sa && ra ? ra[0] - sa[0] : undefined);
    put('06 follower receive -> write starts', ra && fp0 ? fp0[0] - ra[0] : undefined);
    put('07 follower write', fp0 && fp1 ? fp1[0] - fp0[0] : undefined);
    put('08 follower write -> ack sent', fp1 && sr ? sr[0] - fp1[0] : undefined);
    put('09 ack transit', sr ? ack.k![0] - sr[0] : undefined);
    put('10 leader write ends after ack (ms)', lp1[0] - ack.k![0]);
    put('11 last of (write, ack) -> commit Ready', C[0] - Math.max(lp1[0], ack.k![0]));
    put('12 commit Ready -> resolved', R[0] - C[0]);
    put('13 resolved -> client', t1 - R[0]);
    put('14 total', t1 - t0);
  }
  return phases;
}

function report(stores: string, phases: Map<string, number[]>): void {
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
  console.log(
    `${stores}: ${phases.get('14 total')?.length ?? 0} commands, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const name of [...phases.keys()].sort()) {
    const xs = phases.get(name)!;
    console.log(
      `  ${name.padEnd(42)} p50 ${q(xs, 0.5).toFixed(3)}  p90 ${q(xs, 0.9).toFixed(3)}  (n ${xs.length})`,
    );
  }
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  try {
    for (const stores of STORES) await measure(stores, nats.url);
  } finally {
    await nats.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
