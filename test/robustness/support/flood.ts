// The load of the overload run: closed-loop writers (each sends its next put
// when the last one is answered) to measure what the cluster serves, and an
// open-loop flood (puts sent at a fixed rate, answered or not) to offer more
// than it can. Every outcome is counted by kind, and the latency of each
// acknowledged put kept.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';

/** What a load saw. */
export interface LoadTally {
  /** Acknowledged puts. */
  ok: number;
  /** Refused at once with OverloadedError. */
  overloaded: number;
  /** Other errors, by name (remote name for a replica's). */
  failed: Record<string, number>;
  /** Latency of each acknowledged put, ms. */
  readonly latencies: number[];
  /** Puts sent. */
  sent: number;
  /** Puts the flood did not send because it already had maxOutstanding unanswered. */
  notSent: number;
}

export const emptyTally = (): LoadTally => ({
  ok: 0,
  overloaded: 0,
  failed: {},
  latencies: [],
  sent: 0,
  notSent: 0,
});

/** The name an error counts under: OverloadedError wherever it sits (the error, its remote name or cause). */
export function errorName(err: unknown): string {
  const e = err as { name?: string; remoteName?: string; cause?: { name?: string } } | undefined;
  if (e?.remoteName === 'OverloadedError' || e?.cause?.name === 'OverloadedError') return 'OverloadedError';
  return e?.remoteName ?? e?.name ?? 'unknown';
}

/** Where a load sends: a cluster's group, from its own connections. */
export interface LoadTarget {
  readonly connections: readonly NatsConnection[];
  readonly cluster: string;
  readonly group: string;
  /** Keys' prefix: every value written is unique. */
  readonly prefix: string;
}

function clients(t: LoadTarget): NatsRaftClient[] {
  return t.connections.map(
    (connection) =>
      new NatsRaftClient({
        connection,
        cluster: t.cluster,
        group: t.group,
        timeoutMs: 5000,
        requestTimeoutMs: 2500,
      }),
  );
}

/** Sends one put and counts its outcome in tally. */
async function put(client: NatsRaftClient, key: string, value: string, tally: LoadTally): Promise<void> {
  const started = performance.now();
  tally.sent++;
  try {
    await client.propose({ name: 'put', args: [key, value] });
    tally.ok++;
    tally.latencies.push(performance.now() - started);
  } catch (err) {
    const name = errorName(err);
    if (name === 'OverloadedError') tally.overloaded++;
    else tally.failed[name] = (tally.failed[name] ?? 0) + 1;
  }
}

const REGISTER = join(__dirname, '../../../scripts/ts-register.js');
const WORKER = join(__dirname, 'flood-worker.ts');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `workers` closed-loop writers spread over the target's connections, for
 * durationMs; a worker refused for overload pauses 20 ms.
 */
export async function closedLoop(t: LoadTarget, workers: number, durationMs: number): Promise<LoadTally> {
  const tally = emptyTally();
  const cs = clients(t);
  const end = performance.now() + durationMs;
  let n = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const client = cs[w % cs.length]!;
      while (performance.now() < end) {
        const before = tally.overloaded;
        await put(client, `${t.prefix}-${w % 8}`, `${t.prefix}-${w}-${n++}`, tally);
        if (tally.overloaded > before) await sleep(20);
      }
    }),
  );
  return tally;
}

/** A flood running: its tally so far, and its end (every put sent is answered or timed out). */
export interface Flood {
  readonly tally: LoadTally;
  readonly done: Promise<LoadTally>;
}

/**
 * Sends ratePerSecond puts a second, round-robin over the target's
 * connections, for durationMs, without waiting for answers; past
 * maxOutstanding unanswered it counts the put as not sent instead.
 */
export function openLoop(
  t: LoadTarget,
  ratePerSecond: number,
  durationMs: number,
  maxOutstanding: number,
): Flood {
  const tally = emptyTally();
  const cs = clients(t);
  const tickMs = 10;
  const inFlight = new Set<Promise<void>>();
  const run = async (): Promise<LoadTally> => {
    const start = performance.now();
    let due = 0;
    let n = 0;
    while (performance.now() - start < durationMs) {
      const target = Math.floor(((performance.now() - start) / 1000) * ratePerSecond);
      for (; due < target; due++) {
        if (inFlight.size >= maxOutstanding) {
          tally.notSent++;
          continue;
        }
        const i = n++;
        const p = put(cs[i % cs.length]!, `${t.prefix}-${i % 64}`, `${t.prefix}-${i}`, tally).finally(() =>
          inFlight.delete(p),
        );
        inFlight.add(p);
      }
      await sleep(tickMs);
    }
    await Promise.all(inFlight);
    return tally;
  };
  return { tally, done: run() };
}

/**
 * Runs `processes` flood workers (support/flood-worker.ts), each sending
 * its share of ratePerSecond from its own connections, at CPU priority
 * `nice` (19: the lowest, so that on a shared machine the flood takes only
 * the CPU the replicas leave, as clients elsewhere would), and adds up
 * their tallies.
 * @throws Error when a worker exits without a tally (nice(1) missing included)
 */
export async function floodProcesses(
  o: Omit<LoadTarget, 'connections'> & {
    readonly natsUrl: string;
    readonly ratePerSecond: number;
    readonly durationMs: number;
    readonly processes: number;
    /** The workers' nice value, 0 to 19. */
    readonly nice: number;
  },
): Promise<LoadTally> {
  const tallies = await Promise.all(
    Array.from({ length: o.processes }, (_, i) => {
      const spec = {
        natsUrl: o.natsUrl,
        cluster: o.cluster,
        group: o.group,
        prefix: `${o.prefix}${i}`,
        rate: o.ratePerSecond / o.processes,
        durationMs: o.durationMs,
        connections: 4,
        maxOutstanding: 10_000,
      };
      // Through nice(1): every thread of the worker (V8's, libuv's) starts at that priority.
      const child = spawn('nice', ['-n', String(o.nice), process.execPath, '-r', REGISTER, WORKER], {
        env: { ...process.env, FLOOD: JSON.stringify(spec) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      return new Promise<LoadTally>((resolve, reject) =>
        child.on('close', (code) => {
          try {
            resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadTally);
          } catch {
            reject(new Error(`flood worker ${i} exited (${String(code)}) without a tally`));
          }
        }),
      );
    }),
  );
  const sum = emptyTally();
  for (const t of tallies) {
    sum.ok += t.ok;
    sum.overloaded += t.overloaded;
    sum.sent += t.sent;
    sum.notSent += t.notSent;
    for (const [k, v] of Object.entries(t.failed)) sum.failed[k] = (sum.failed[k] ?? 0) + v;
    for (const l of t.latencies) sum.latencies.push(l);
  }
  return sum;
}

/** The q-quantile (0..1) of values, ms rounded to 0.1; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return Math.round(v * 10) / 10;
}
