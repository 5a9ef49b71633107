/**
 * The raftline demo: the real system on an embedded default. Three replicas
 * (n1, n2, n3) of the three sample services (a task queue, feature flags, a
 * coordinator), each replica with its own embedded PostgreSQL (PGlite) data
 * directory, over NATS when nats-server is on the PATH or NATS_URL is set
 * (three `raftline serve` processes), otherwise in this process over the
 * in-process transport. A worker processes jobs, a flag change is seen live
 * on the committed stream, a coordinator hands a task over under fencing,
 * the task queue's leader is killed and the services carry on, the node
 * comes back and catches up, and verification shows every replica agreeing.
 *
 * Run: npm run demo  (--in-process, or RAFTLINE_DEMO_IN_PROCESS=1: skip NATS;
 * --keep: keep the working directory with the replicas' logs and data)
 * Exit code 0 when every replica agrees, 1 otherwise or on any failure.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Coordinator } from '@raftline/coordinator';
import type { FeatureFlags } from '@raftline/feature-flags';
import type { TaskQueue } from '@raftline/task-queue';
import {
  agreedLeader,
  GROUPS,
  NODES,
  sleep,
  statusTable,
  until,
  type DemoCluster,
  type GroupName,
} from './demo/cluster';
import { startMemoryCluster } from './demo/memory-cluster';
import { natsServerOnPath, startNatsCluster } from './demo/nats-cluster';

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (text = ''): void => console.log(text);
const step = (n: number, title: string): void => say(`\n${n}. ${title}  [${elapsed()}]`);
const groups = Object.keys(GROUPS) as GroupName[];

async function showStatus(cluster: DemoCluster): Promise<void> {
  const rows = await Promise.all(groups.map(async (group) => ({ group, rows: await cluster.status(group) })));
  say(statusTable(rows));
}

async function leaders(cluster: DemoCluster, except?: string): Promise<Record<GroupName, string>> {
  const out = {} as Record<GroupName, string>;
  for (const group of groups) {
    out[group] = await until(`a leader of ${group}`, async () => {
      const leader = agreedLeader(await cluster.status(group));
      return leader !== except ? leader : undefined;
    });
  }
  return out;
}

async function taskQueue(cluster: DemoCluster): Promise<void> {
  step(2, 'Task queue: a worker processes jobs');
  const jobs = cluster.commands<TaskQueue>('jobs');
  const worker = cluster.worker('emails', async (payload) => {
    await sleep(5); // the job's work
    return { sent: (payload as { to: string }).to };
  });
  for (let i = 1; i <= 20; i++)
    await jobs.enqueue('emails', { to: `user${i}@example.com` }, { maxAttempts: 3 });
  say('   enqueued 20 jobs on queue "emails"; the worker claims each under a lease with a fencing token');
  await until('20 jobs done', async () => (worker.completed() >= 20 ? true : undefined), 60_000);
  const stats = await cluster.queries<TaskQueue>('jobs').stats('emails');
  say(
    `   worker completed ${worker.completed()} jobs; queue stats: ready ${stats.ready}, leased ${stats.leased}, done ${stats.done}`,
  );
  workerHandle = worker;
}
let workerHandle: { completed: () => number; close(): Promise<void> } | undefined;

async function featureFlags(cluster: DemoCluster): Promise<void> {
  step(3, 'Feature flags: a change seen live on the committed stream');
  const flags = cluster.commands<FeatureFlags>('flags');
  const read = cluster.queries<FeatureFlags>('flags');
  const definition = {
    type: 'boolean' as const,
    variants: { on: true, off: false },
    defaultVariant: 'off',
    enabled: true,
  };
  const v1 = await flags.setFlag('production', 'new-checkout', definition, {
    author: 'demo',
    expectedVersion: 0,
  });
  const before = await read.evaluate('production', 'new-checkout', { targetingKey: 'user-42' });
  say(`   flag "new-checkout" v${v1.version}: user-42 gets ${String(before.value)} (${before.reason})`);
  let sentAt = 0;
  const seen = new Promise<string>((resolve) => {
    void cluster.watch('flags', (c) => {
      if (c.name === 'setFlag' && c.args[1] === 'new-checkout') {
        const def = c.args[2] as { defaultVariant: string };
        resolve(
          `index ${c.index}: setFlag new-checkout default → ${def.defaultVariant}, ${Date.now() - sentAt} ms after it was sent`,
        );
      }
    });
  });
  await sleep(200); // the watcher is in place
  sentAt = Date.now();
  const v2 = await flags.setFlag(
    'production',
    'new-checkout',
    { ...definition, defaultVariant: 'on' },
    { author: 'demo', reason: 'roll out', expectedVersion: v1.version }, // compare-and-set on the version
  );
  say(`   the watcher saw ${await Promise.race([seen, sleep(15_000).then(() => 'nothing within 15 s')])}`);
  const after = await read.evaluate('production', 'new-checkout', { targetingKey: 'user-42' });
  say(`   flag "new-checkout" v${v2.version}: user-42 now gets ${String(after.value)} (${after.reason})`);
}

async function coordinator(cluster: DemoCluster): Promise<void> {
  step(4, 'Coordinator: a task handed over, the old epoch fenced off');
  const coord = cluster.commands<Coordinator>('coord');
  const read = cluster.queries<Coordinator>('coord');
  for (const agent of ['ada', 'bob']) await coord.register(agent);
  await coord.createTask('nightly-report', { policy: 'first', leaseMs: 60_000 });
  const first = await coord.campaign('nightly-report', 'ada');
  if (!first.ok || first.status !== 'elected')
    throw new Error(`ada was not elected: ${JSON.stringify(first)}`);
  const epoch = first.lease.epoch;
  await coord.campaign('nightly-report', 'bob'); // bob waits in line
  await coord.checkpoint('nightly-report', epoch, { state: '{"rows":1200}', summary: 'step 1 of 3 done' });
  say(`   ada coordinates "nightly-report" in epoch ${epoch} and checkpoints "step 1 of 3 done"; bob waits`);
  await coord.resign('nightly-report', epoch, { state: '{"rows":2400}', summary: 'step 2 of 3 done' });
  const task = await read.task('nightly-report');
  const checkpoint = await read.lastCheckpoint('nightly-report');
  say(
    `   ada resigns: ${task?.holder ?? 'nobody'} now holds it in epoch ${task?.epoch}, resuming from "${checkpoint?.summary}"`,
  );
  const late = await coord.act('nightly-report', epoch, 'report', { op: 'set', value: 'stale' });
  say(
    `   ada's late write under epoch ${epoch}: ${late.ok ? 'ACCEPTED (fencing failed)' : `refused (${late.error})`}`,
  );
  if (late.ok) throw new Error('a stale epoch wrote');
}

async function killLeader(cluster: DemoCluster): Promise<string> {
  const before = await leaders(cluster);
  const victim = before.jobs;
  step(5, `Killing the task queue's leader ${victim} (${cluster.killDescription})`);
  const killedAt = Date.now();
  await cluster.kill(victim);
  const jobs = cluster.commands<TaskQueue>('jobs');
  const done = workerHandle!.completed();
  for (let i = 21; i <= 40; i++) await jobs.enqueue('emails', { to: `user${i}@example.com` });
  await until(
    '40 jobs done',
    async () => (workerHandle!.completed() >= done + 20 ? true : undefined),
    60_000,
  );
  const after = await leaders(cluster, victim);
  say(
    `   the others elected ${after.jobs}; 20 more jobs were enqueued and done, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
  );
  await showStatus(cluster);
  return victim;
}

async function restart(cluster: DemoCluster, node: string): Promise<void> {
  step(6, `Restarting ${node} from its data directory: it catches up`);
  await cluster.restart(node);
  for (const group of groups) {
    await until(
      `${node} caught up in ${group}`,
      async () => {
        const rows = await cluster.status(group);
        const me = rows.find((r) => r.node === node);
        const top = Math.max(...rows.map((r) => r.commit ?? 0));
        return me?.role === 'follower' && (me.applied ?? 0) >= top ? true : undefined;
      },
      60_000,
    );
  }
  await showStatus(cluster);
}

async function verify(cluster: DemoCluster): Promise<boolean> {
  step(7, 'Verify: every replica hashes its state at one marker, side by side');
  let all = true;
  for (const group of groups) {
    const v = await cluster.verify(group);
    const cells = v.digests.map((d) => `${d.node} ${d.digest ? d.digest.slice(0, 15) : `(${d.reason})`}`);
    say(
      `   ${GROUPS[group].padEnd(13)} at index ${String(v.index).padStart(4)}: ${cells.join('  ')}  ${v.agree ? 'agree' : 'DIFFER'}`,
    );
    all &&= v.agree;
  }
  return all;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const inProcess = args.includes('--in-process') || process.env.RAFTLINE_DEMO_IN_PROCESS === '1';
  const natsUrl = process.env.NATS_URL || undefined;
  const natsServer = natsServerOnPath();
  const dir = mkdtempSync(join(tmpdir(), 'raftline-demo-'));
  const useNats = !inProcess && (natsUrl !== undefined || natsServer !== undefined);

  say('raftline demo: three replicas (n1, n2, n3) of a task queue, feature flags and a coordinator,');
  say('each replica with its own embedded PostgreSQL (PGlite) data directory.');
  step(1, 'Starting the replicas');
  const keep = args.includes('--keep');
  const cleanUp = (): void => {
    if (keep) say(`\n(kept ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  };
  let cluster: DemoCluster;
  try {
    cluster = useNats
      ? await startNatsCluster({
          dir,
          cluster: `demo${process.pid}`,
          ...(natsUrl ? { natsUrl } : { natsServer: natsServer! }),
        })
      : await startMemoryCluster(dir, inProcess ? 'asked for' : 'no nats-server on the PATH and no NATS_URL');
  } catch (err) {
    cleanUp(); // what was started is stopped already
    throw err;
  }
  let agree = false;
  try {
    say(`   ${NODES.length} replicas per group, ${cluster.description}`);
    const elected = await leaders(cluster);
    say(`   leaders elected: ${groups.map((g) => `${GROUPS[g]} ${elected[g]}`).join(', ')}`);
    await showStatus(cluster);
    await taskQueue(cluster);
    await featureFlags(cluster);
    await coordinator(cluster);
    const victim = await killLeader(cluster);
    await restart(cluster, victim);
    agree = await verify(cluster);
    await workerHandle?.close();
  } finally {
    await cluster.close();
    cleanUp();
  }
  say(`\n${agree ? 'Every replica agrees.' : 'The replicas DIFFER.'} Done in ${elapsed()}.`);
  say(
    'Next: npm run demo:sim (the simulator), docker compose up (see README: Deployment), npx raftline --help',
  );
  process.exitCode = agree ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  process.exit(1);
});
