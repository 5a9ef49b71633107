/**
 * Proposals per second through RaftNode: a 3-node in-memory cluster in one
 * process (MemoryNetwork, in-memory stores, real timers), with 1, 16 and 256
 * concurrent proposers. Also reports entries per store append, which shows
 * the batching. Run: npm run bench:node
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  systemClock,
  type Applier,
  type Entry,
} from '@raftline/core';

class CountingLog extends MemoryLogStore {
  appends = 0;
  appended = 0;
  override async append(entries: readonly Entry[]): Promise<void> {
    this.appends++;
    this.appended += entries.length;
    return super.append(entries);
  }
}

const counter = (): Applier => {
  let n = 0;
  return {
    validate: () => {},
    apply: () => ({ ok: true, value: ++n }),
    query: () => n,
    snapshot: () => new Uint8Array(),
    restore: () => {},
  };
};

async function run(concurrency: number, total: number) {
  const ids = ['n1', 'n2', 'n3'];
  const net = new MemoryNetwork();
  const rng = seededRandom(concurrency);
  const logs = new Map(ids.map((id) => [id, new CountingLog()]));
  const nodes = ids.map(
    (id) =>
      new RaftNode({
        id,
        voters: ids,
        logStore: logs.get(id)!,
        stableStore: new MemoryStableStore(),
        transport: net.transport(id),
        clock: systemClock,
        random: rng.fork(),
        applier: counter(),
        config: { electionTimeoutMs: 300, heartbeatMs: 50, tickMs: 10, proposalTimeoutMs: 30_000 },
      }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  let leader: RaftNode | undefined;
  for (let i = 0; i < 500 && !leader; i++) {
    await new Promise((r) => setTimeout(r, 10));
    leader = nodes.find((n) => n.isLeader());
  }
  if (!leader) throw new Error('no leader elected');
  const payload = ['k', 'x'.repeat(100)];
  let issued = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        issued++;
        await leader!.propose({ name: 'inc', args: payload });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const leaderLog = logs.get(leader.id)!;
  await Promise.all(nodes.map((n) => n.stop()));
  return {
    concurrency,
    proposals: issued,
    seconds: +seconds.toFixed(3),
    proposalsPerSecond: Math.round(issued / seconds),
    entriesPerLeaderAppend: +(leaderLog.appended / leaderLog.appends).toFixed(1),
  };
}

async function main() {
  const results = [];
  for (const [concurrency, total] of [
    [1, 3000],
    [16, 20000],
    [256, 60000],
  ] as const) {
    const r = await run(concurrency, total);
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const out = path.join(__dirname, 'results', 'node-throughput.json');
  writeFileSync(out, JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
