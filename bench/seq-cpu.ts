/**
 * What one sequential command costs (issue #15): three replica processes of
 * bench/compare-raftline.ts over a private nats-server, with in-memory or
 * PostgreSQL stores; after 200 unmeasured commands, `--commands` commands
 * one at a time. Prints the idle CPU of each replica (10 s with no load),
 * then the mean latency and the CPU time of the replica processes per
 * command (from /proc, so Linux only), the leader's first. No tracing: the
 * figures are the processes' own. Compare runs of two builds side by side
 * on a quiet machine; the load average is printed with them.
 *
 * Run: node -r ./scripts/ts-register.js bench/seq-cpu.ts [--stores memory,postgres] [--commands 2000]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { startNatsServer } from '../packages/transport-nats/test/support/nats-server';
import { startRaftline } from './compare-raftline';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const COMMANDS = Math.min(20_000, Number(arg('commands', '2000')));
const STORES = arg('stores', 'memory,postgres').split(',') as ('postgres' | 'memory')[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU ms (user + system) a process used so far. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
}

async function measure(stores: 'memory' | 'postgres', natsUrl: string): Promise<void> {
  const peer = await startRaftline(stores, natsUrl, 1, 1000);
  try {
    await sleep(3000);
    const pids = peer.pids();
    const idleFrom = pids.map(cpuMs);
    const t0 = performance.now();
    await sleep(10_000);
    const idleS = (performance.now() - t0) / 1000;
    const idle = pids.map((p, i) => ((cpuMs(p) - idleFrom[i]!) / idleS).toFixed(1));
    const write = peer.writer(0);
    for (let i = 0; i < 200; i++) await write(i);
    const from = pids.map(cpuMs);
    const t1 = performance.now();
    for (let i = 0; i < COMMANDS; i++) await write(i);
    const ms = performance.now() - t1;
    const per = pids.map((p, i) => (cpuMs(p) - from[i]!) / COMMANDS).sort((a, b) => b - a);
    const total = per.reduce((a, b) => a + b, 0);
    process.stdout.write(
      `${stores}: ${COMMANDS} sequential commands, ${(ms / COMMANDS).toFixed(3)} ms each; ` +
        `CPU ms per command ${total.toFixed(3)} (replicas, busiest first: ${per.map((c) => c.toFixed(3)).join(' ')}); ` +
        `idle CPU ms/s per replica ${idle.join(' ')}; load ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}\n`,
    );
  } finally {
    await peer.stop();
  }
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  try {
    for (const stores of STORES) await measure(stores, nats.url);
  } finally {
    await nats.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`seq-cpu failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
