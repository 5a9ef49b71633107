/**
 * Memory of replica processes under a long load (issue #15, "Memory"): does
 * the resident set of every replica stay bounded, in every store mode?
 *
 * Two 3-replica clusters run side by side, each replica its own process
 * (test/fixtures/replica.ts, started with bench/nats-cluster.ts's
 * startCluster): one with in-memory stores (`mem`), one with PostgreSQL
 * stores (`pg`: the machine's server, a schema of this run, dropped at the
 * end). Both use the node's default snapshot settings (a snapshot every
 * 10 000 entries, 1 000 kept behind it) and RAFT_APPLIED_KEEP=1000 (the
 * fixture's record of applied keys, a test instrument, keeps its last 1 000).
 * Each cluster gets a closed-loop load of WRITERS concurrent writers, each
 * command about 256 bytes (`inc k<i % 1000>` plus padding), bounded by
 * time (--minutes) and by count (MAX_COMMANDS per mode). Every 10 s the
 * bench reads VmRSS from /proc/<pid>/status of every replica.
 *
 * It reports per mode and replica: RSS at 10 %, 50 % and 100 % of the run,
 * the peak, and the least-squares slope of RSS over the second half of the
 * run in MB per 10 minutes; and the commands each mode completed. A replica
 * is bounded when that slope is below BOUNDED_MB_PER_10MIN (5 MB/10 min:
 * 30 MB over an hour, against the ~1 000 MB per 10 minutes an uncompacted
 * in-memory log takes at this rate; V8's heap and malloc's arenas settle in
 * the first half, and a second-half slope under that line is their noise).
 * On the loaded 2-core machine GC swings of ±25 MB alone gave second-half
 * slopes of -9.6 to +10.6 MB/10 min in the first one-hour run (two of six
 * replicas over the line, their lowest RSS per 10 minutes flat within 5 MB):
 * read a verdict together with the samples in rss.json, and from a run of
 * an hour at least (a 3-minute run only shows gross growth).
 *
 * Run: npm run bench:rss [-- --minutes N]   (default 60; --minutes 3 for a quick run;
 *      --modes mem|pg|mem,pg, default both)
 * NATS_URL overrides the shared server 127.0.0.1:4222; RAFT_PG_URL the PostgreSQL server.
 * Writes bench/results/rss.json; the last line reads
 *   rss: mem max-slope=X MB/10min pg max-slope=Y MB/10min commands=N load=...
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { connectNats, NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import { awaitLeader, IDS, startCluster, type Cluster } from './nats-cluster';
import { COMMAND_BYTES } from './compare-peers';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const PG_URL = process.env.RAFT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROOT = path.resolve(__dirname, '..');
const WRITERS = 16;
const CONNECTIONS = 4;
const KEYS = 1000;
const SAMPLE_MS = 10_000;
const MAX_COMMANDS = 50_000_000;
const BOUNDED_MB_PER_10MIN = 5;
const MODES = ['mem', 'pg'] as const;
type Mode = (typeof MODES)[number];

/** A bad command line: the message says which argument and why. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseArgs(argv: readonly string[]): { minutes: number; modes: Mode[] } {
  let minutes = 60;
  let modes: Mode[] = [...MODES];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[++i];
    if (arg === '--minutes') {
      minutes = Number(value);
      if (!(minutes > 0 && minutes <= 24 * 60))
        throw new UsageError(`--minutes (${value}) must be a number of minutes in (0, 1440]`);
    } else if (arg === '--modes') {
      const list = (value ?? '').split(',');
      if (!list.every((m): m is Mode => (MODES as readonly string[]).includes(m)))
        throw new UsageError(`--modes (${value}) must be mem, pg or mem,pg`);
      modes = list;
    } else throw new UsageError(`unknown argument ${arg} (use --minutes N, --modes mem,pg)`);
  }
  return { minutes, modes };
}

/** VmRSS of process pid in MB, or undefined when it has exited. */
function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Sample {
  readonly t: number;
  readonly mb: number;
}

/** Least-squares slope of samples in MB per 10 minutes (NaN with fewer than two). */
export function slopePer10Min(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mm = samples.reduce((a, s) => a + s.mb, 0) / n;
  const cov = samples.reduce((a, s) => a + (s.t - mt) * (s.mb - mm), 0);
  const varT = samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return (cov / varT) * 600;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The sample nearest to time t. */
function at(samples: readonly Sample[], t: number): number {
  let best = samples[0]!;
  for (const s of samples) if (Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
  return round(best.mb);
}

interface Run {
  readonly mode: Mode;
  readonly cluster: Cluster;
  readonly conns: NatsConnection[];
  readonly clients: NatsRaftClient[];
  readonly schema: string;
  done: number;
  failed: number;
  readonly rss: Map<string, Sample[]>;
  exited?: string;
}

async function start(mode: Mode, tag: string): Promise<Run> {
  const name = `rss${tag}${mode}`;
  const schema = `bench_rss_${tag}`;
  const cluster = await startCluster(name, false, {
    NATS_URL,
    RAFT_STORE: mode === 'pg' ? 'postgres' : 'memory',
    RAFT_PG_URL: PG_URL,
    RAFT_PG_SCHEMA: schema,
    RAFT_APPLIED_KEEP: '1000',
  });
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) =>
      connectNats({ servers: NATS_URL, name: `rss ${mode} ${i}` }),
    ),
  );
  await awaitLeader(conns[0]!, name);
  const clients = Array.from(
    { length: WRITERS },
    (_, i) =>
      new NatsRaftClient({
        connection: conns[i % CONNECTIONS]!,
        cluster: name,
        group: 'bench',
        timeoutMs: 10_000,
      }),
  );
  const run: Run = { mode, cluster, conns, clients, schema, done: 0, failed: 0, rss: new Map() };
  cluster.procs.forEach((p, i) =>
    p.once('exit', (code, signal) => (run.exited ??= `${IDS[i]} exited (${code ?? signal})`)),
  );
  return run;
}

/** The closed loop: each writer sends its next command when its last one is answered, until `until` or MAX_COMMANDS. */
async function load(run: Run, until: number): Promise<void> {
  const pad = 'x'.repeat(COMMAND_BYTES - 40);
  let issued = 0;
  await Promise.all(
    run.clients.map(async (client) => {
      while (Date.now() < until && issued < MAX_COMMANDS && !run.exited) {
        const i = issued++;
        try {
          await client.propose({ name: 'inc', args: [`k${i % KEYS}`, pad] });
          run.done++;
        } catch {
          run.failed++;
        }
      }
    }),
  );
}

async function stop(run: Run): Promise<void> {
  for (const c of run.clients) c.close();
  await run.cluster.stop();
  await Promise.all(run.conns.map((nc) => nc.close()));
  if (run.mode === 'pg') {
    const pool = new Pool({ connectionString: PG_URL, max: 1 });
    await pool.query(`DROP SCHEMA IF EXISTS "${run.schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

function report(run: Run, seconds: number) {
  const replicas = IDS.map((id) => {
    const samples = run.rss.get(id) ?? [];
    const slope = slopePer10Min(samples.filter((s) => s.t >= seconds / 2));
    return {
      id,
      mbAt10pct: at(samples, seconds * 0.1),
      mbAt50pct: at(samples, seconds * 0.5),
      mbAt100pct: at(samples, seconds),
      peakMb: round(Math.max(...samples.map((s) => s.mb))),
      secondHalfSlopeMbPer10Min: round(slope, 2),
      bounded: slope < BOUNDED_MB_PER_10MIN,
      samples: samples.map((s) => [round(s.t, 0), round(s.mb)]),
    };
  });
  return {
    mode: run.mode,
    commands: run.done,
    failed: run.failed,
    commandsPerSecond: Math.round(run.done / seconds),
    maxSlopeMbPer10Min: round(Math.max(...replicas.map((r) => r.secondHalfSlopeMbPer10Min)), 2),
    ...(run.exited ? { exited: run.exited } : {}),
    replicas,
  };
}

async function main(): Promise<void> {
  const { minutes, modes } = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  const tag = `${process.pid}${Date.now().toString(36)}`;
  const runs: Run[] = [];
  try {
    for (const mode of modes) runs.push(await start(mode, tag));
    const t0 = Date.now();
    const until = t0 + minutes * 60_000;
    const sample = () => {
      const t = (Date.now() - t0) / 1000;
      for (const run of runs)
        run.cluster.procs.forEach((p, i) => {
          const mb = p.pid === undefined ? undefined : rssMb(p.pid);
          if (mb === undefined) return;
          const list = run.rss.get(IDS[i]!) ?? [];
          list.push({ t, mb });
          run.rss.set(IDS[i]!, list);
        });
      const line = runs
        .map(
          (r) =>
            `${r.mode} ${r.done} cmds rss ${IDS.map((id) => round(r.rss.get(id)?.at(-1)?.mb ?? NaN, 0)).join('/')} MB`,
        )
        .join('; ');
      console.log(`t=${Math.round(t)}s ${line} load=${round(os.loadavg()[0]!, 2)}`);
    };
    sample();
    const timer = setInterval(sample, SAMPLE_MS);
    await Promise.all(runs.map((r) => load(r, until)));
    clearInterval(timer);
    sample();
    const seconds = (Date.now() - t0) / 1000;
    const loadAfter = os.loadavg();
    const results = runs.map((r) => report(r, seconds));
    const loadText = `${round(loadBefore[0]!, 2)}->${round(loadAfter[0]!, 2)}`;
    const out = {
      benchmark: 'rss',
      command: `npm run bench:rss -- --minutes ${minutes}`,
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        node: process.version,
        loadAverage1mBeforeAfter: [loadBefore[0], loadAfter[0]].map((l) => round(l ?? 0, 2)),
      },
      config: {
        seconds: round(seconds, 0),
        replicasPerMode: IDS.length,
        writersPerMode: WRITERS,
        commandBytes: COMMAND_BYTES,
        keys: KEYS,
        sampleEverySeconds: SAMPLE_MS / 1000,
        snapshot:
          "the node's defaults (snapshotEntries 10 000, snapshotLogRatio 1, snapshotTrailingEntries 1 000)",
        boundedWhenSecondHalfSlopeBelowMbPer10Min: BOUNDED_MB_PER_10MIN,
      },
      modes: results,
    };
    for (const r of results) {
      console.log(
        `${r.mode}: ${r.commands} commands (${r.commandsPerSecond}/s, ${r.failed} failed)${r.exited ? `, ${r.exited}` : ''}`,
      );
      for (const x of r.replicas)
        console.log(
          `  ${x.id}: RSS ${x.mbAt10pct} / ${x.mbAt50pct} / ${x.mbAt100pct} MB at 10/50/100 %, peak ${x.peakMb} MB, ` +
            `second-half slope ${x.secondHalfSlopeMbPer10Min} MB/10min${x.bounded ? '' : ' (NOT bounded)'}`,
        );
    }
    const dir = path.join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'rss.json'), JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${path.join(dir, 'rss.json')}`);
    const slope = (m: Mode) => results.find((r) => r.mode === m)?.maxSlopeMbPer10Min ?? 'n/a';
    const commands = results.reduce((n, r) => n + r.commands, 0);
    console.log(
      `rss: mem max-slope=${slope('mem')} MB/10min pg max-slope=${slope('pg')} MB/10min commands=${commands} load=${loadText}`,
    );
  } finally {
    await Promise.all(
      runs.map((r) => stop(r).catch((err: unknown) => console.error(`stop ${r.mode}:`, err))),
    );
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof UsageError ? err.message : err);
    process.exit(1);
  });
}
