/**
 * Feature flags: local evaluation in the client SDK, and propagation of a
 * change to every connected SDK.
 *
 * 1. Evaluations/s of FlagClient.evaluate() on one thread (one core): a
 *    simple flag (no rules: STATIC), and a flag of 10 targeting rules and a
 *    10 % rollout where the contexts match none of the rules (all ten are
 *    tried, then the context is hashed: the slow path), over 1 024 distinct
 *    contexts; also the same two through OpenFeature's client on the
 *    provider (@raftline/feature-flags/openfeature), which is async, and
 *    OpenFeature's own InMemoryProvider for what its API costs alone. Each
 *    figure is the median of ROUNDS one-second rounds (the best in brackets).
 * 2. Propagation: three `raftline serve` replica processes of the service
 *    (in-memory stores: storage does not enter the path measured) over the
 *    machine's NATS, with the JetStream mirror; N FlagClients in this
 *    process (N = 10 and 100, spread over 4 NATS connections). A writer makes
 *    CHANGES changes one after another (setFlag, CHANGE_GAP_MS apart); for
 *    each, the time from the write's acknowledgement (its promise resolving)
 *    to each client's 'change' event for that index. Reported: p50/p99 over
 *    every (change, client) pair, and p50/p99 of the last client per change
 *    (the time until every SDK has it). A client can see a change before the
 *    writer's acknowledgement arrives (the mirror publishes at apply, the
 *    reply travels separately): such times count as 0.
 *
 * No flagd comparison: no flagd in-process evaluator is installed here
 * (the flagd JS providers need a flagd process or its native sync).
 *
 * Run: npm run bench:flags   (= node -r ./scripts/ts-register.js bench/feature-flags.ts)
 * NATS_URL overrides the machine's NATS; BENCH_ROUNDS (5), BENCH_SDKS
 * (10,100) and BENCH_CHANGES (200) narrow a run. Writes bench/results/feature-flags.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import {
  InMemoryProvider,
  OpenFeature,
  type EvaluationContext as OpenFeatureContext,
} from '@openfeature/server-sdk';
import {
  FlagClient,
  type EnvironmentSnapshot,
  type FeatureFlags,
  type FlagDefinition,
  type FlagRecord,
} from '@raftline/feature-flags';
import { RaftlineProvider } from '@raftline/feature-flags/openfeature';
import {
  AdminClient,
  committedStreamName,
  connectClient,
  connectNats,
  type NatsConnection,
} from '@raftline/transport-nats';
import { jetstreamManager } from '@nats-io/jetstream';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'packages/cli/bin/raftline.js');
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SDKS = process.env.BENCH_SDKS?.split(',').map(Number) ?? [10, 100];
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const CHANGE_GAP_MS = 20;
const CONNECTIONS = 4;
const IDS = ['f1', 'f2', 'f3'];

const load = (): number => Math.round(os.loadavg()[0]! * 100) / 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const round2 = (x: number): number => Math.round(x * 100) / 100;

// ------------------------------------------------------------ the flags

const bool = (rules: FlagDefinition['rules']): FlagDefinition => ({
  type: 'boolean',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  enabled: true,
  rules,
});

const SIMPLE = bool([]);

/** Ten rules the contexts below never match, then a 10 % rollout by targetingKey. */
const TEN_RULES = bool([
  { when: { attribute: 'plan', op: 'equals', value: 'enterprise' }, serve: { variant: 'on' } },
  {
    when: { attribute: 'country', op: 'in', values: ['NO', 'SE', 'FI', 'DK', 'IS'] },
    serve: { variant: 'on' },
  },
  { when: { attribute: 'email', op: 'endsWith', value: '@acme.io' }, serve: { variant: 'on' } },
  { when: { attribute: 'email', op: 'startsWith', value: 'admin' }, serve: { variant: 'on' } },
  { when: { attribute: 'age', op: 'gt', value: 120 }, serve: { variant: 'on' } },
  {
    when: { attribute: 'app.version', op: 'semver', compare: '>=', value: '99.0.0' },
    serve: { variant: 'on' },
  },
  { when: { attribute: 'name', op: 'matches', pattern: '^zz[0-9]+$' }, serve: { variant: 'on' } },
  { when: { attribute: 'tags', op: 'contains', value: 'internal' }, serve: { variant: 'on' } },
  { when: { segment: 'beta' }, serve: { variant: 'on' } },
  {
    when: {
      all: [
        { attribute: 'vip', op: 'exists' },
        { attribute: 'age', op: 'lt', value: 1 },
      ],
    },
    serve: { variant: 'on' },
  },
  {
    serve: {
      rollout: {
        split: [
          { variant: 'on', weight: 10 },
          { variant: 'off', weight: 90 },
        ],
      },
    },
  },
]);

// OpenFeature's context type: our evaluate() takes any object, so these serve both.
const CONTEXTS: OpenFeatureContext[] = Array.from({ length: 1024 }, (_, i) => ({
  targetingKey: `user-${i}-${(i * 2654435761) % 1_000_003}`,
  plan: i % 2 ? 'free' : 'pro',
  country: ['FR', 'DE', 'US', 'JP'][i % 4]!,
  email: `user${i}@example.com`,
  age: 20 + (i % 50),
  app: { version: `2.${i % 10}.${i % 7}` },
  name: `name-${i}`,
  tags: ['a', 'b'],
}));

const record = (key: string, definition: FlagDefinition): FlagRecord => ({
  key,
  version: 1,
  definition,
  createdAt: 0,
  updatedAt: 0,
  updatedBy: 'bench',
});

/** A client on a fixed snapshot (no replicas): what evaluate() costs, nothing else. */
async function localClient(): Promise<FlagClient> {
  const snapshot: EnvironmentSnapshot = {
    environment: 'prod',
    appliedIndex: 1,
    flags: [record('simple', SIMPLE), record('ten-rules', TEN_RULES)],
    segments: [
      {
        name: 'beta',
        version: 1,
        definition: { when: { attribute: 'cohort', op: 'equals', value: 'beta' } },
        createdAt: 0,
        updatedAt: 0,
        updatedBy: 'bench',
      },
    ],
  };
  return FlagClient.open({
    environment: 'prod',
    source: {
      snapshot: () => Promise.resolve(snapshot),
      committed: (_from, signal) => ({
        [Symbol.asyncIterator]: () => ({
          next: () =>
            new Promise((resolve) =>
              signal.addEventListener('abort', () => resolve({ done: true, value: undefined })),
            ),
        }),
      }),
    },
  });
}

function evaluationsPerSecond(client: FlagClient, key: string): { median: number; best: number } {
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      for (let i = 0; i < CONTEXTS.length; i++) if (client.evaluate(key, CONTEXTS[i]).value === true) sink++;
      n += CONTEXTS.length;
    }
    rates.push(n / ((performance.now() - start) / 1000));
  }
  if (sink < 0) console.log(sink);
  return { median: Math.round(median(rates)), best: Math.round(Math.max(...rates)) };
}

async function openFeaturePerSecond(
  key: string,
  domain = 'bench',
): Promise<{ median: number; best: number }> {
  const of = OpenFeature.getClient(domain);
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      for (let i = 0; i < CONTEXTS.length; i++) await of.getBooleanValue(key, false, CONTEXTS[i]!);
      n += CONTEXTS.length;
    }
    rates.push(n / ((performance.now() - start) / 1000));
  }
  return { median: Math.round(median(rates)), best: Math.round(Math.max(...rates)) };
}

// ---------------------------------------------------------- propagation

interface Serve {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<unknown>;
}

function serve(dir: string, node: string, cluster: string, group: string): Serve {
  const config = path.join(dir, `${node}.yaml`);
  writeFileSync(
    config,
    [
      `node: ${node}`,
      `cluster: ${cluster}`,
      `nats: { servers: [${NATS_URL}] }`,
      'store: memory',
      'metrics: { enabled: false }',
      'groups:',
      `  ${group}: { machine: feature-flags, voters: [${IDS.join(', ')}] }`,
      '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [BIN, 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => void (err.length < 10_000 && (err += b.toString())));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on(
      'line',
      (l) => l.includes('"raftline serve ready"') && resolve(),
    );
    void exited.then(() => reject(new Error(`raftline serve ${node} exited: ${err}`)));
  });
  return { proc, ready, exited };
}

interface Propagation {
  readonly sdks: number;
  readonly changes: number;
  readonly perClientMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly lastClientMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly loadAverage1m: number;
}

async function propagation(
  connections: readonly NatsConnection[],
  cluster: string,
  group: string,
  sdks: number,
): Promise<Propagation> {
  const clients = await Promise.all(
    Array.from({ length: sdks }, (_, i) =>
      FlagClient.connect({
        connection: connections[i % connections.length]!,
        cluster,
        group,
        environment: 'prod',
        replica: IDS[i % IDS.length]!,
      }),
    ),
  );
  const writer = await connectClient<FeatureFlags>({ connection: connections[0]!, cluster, group });
  const seenAt = new Map<number, number[]>();
  for (const c of clients)
    c.on('change', (e) => {
      let at = seenAt.get(e.index);
      if (!at) seenAt.set(e.index, (at = []));
      at.push(performance.now());
    });
  const perClient: number[] = [];
  const lastClient: number[] = [];
  const warmup = 20;
  for (let i = 0; i < CHANGES + warmup; i++) {
    const w = await writer.commands.setFlag('prod', 'propagated', bool(TEN_RULES.rules!.slice(-1)), {
      author: 'bench',
      reason: `change ${i}`,
    });
    const acked = performance.now();
    await Promise.all(clients.map((c) => c.waitFor(w.version, { timeoutMs: 30_000 })));
    const times = (seenAt.get(w.version) ?? []).map((t) => Math.max(0, t - acked));
    seenAt.delete(w.version);
    if (i >= warmup) {
      perClient.push(...times);
      lastClient.push(Math.max(...times));
    }
    await sleep(CHANGE_GAP_MS);
  }
  writer.close();
  await Promise.all(clients.map((c) => c.close()));
  const stats = (xs: number[]) => ({
    p50: round2(percentile(xs, 50)),
    p99: round2(percentile(xs, 99)),
    max: round2(Math.max(...xs)),
  });
  return {
    sdks,
    changes: CHANGES,
    perClientMs: stats(perClient),
    lastClientMs: stats(lastClient),
    loadAverage1m: load(),
  };
}

async function main(): Promise<void> {
  const loadBefore = load();
  const local = await localClient();
  const evaluation = {
    simple: evaluationsPerSecond(local, 'simple'),
    tenRulesAndRollout: evaluationsPerSecond(local, 'ten-rules'),
  };
  console.log('SDK evaluations/s (one thread):', evaluation);
  await OpenFeature.setProviderAndWait('bench', new RaftlineProvider({ client: local }));
  const openFeature = {
    simple: await openFeaturePerSecond('simple'),
    tenRulesAndRollout: await openFeaturePerSecond('ten-rules'),
  };
  console.log('through OpenFeature (async getBooleanValue):', openFeature);
  // What OpenFeature's API costs by itself: its own InMemoryProvider, a static flag.
  await OpenFeature.setProviderAndWait(
    'reference',
    new InMemoryProvider({
      simple: { variants: { on: true, off: false }, defaultVariant: 'off', disabled: false },
    }),
  );
  const openFeatureInMemory = { simple: await openFeaturePerSecond('simple', 'reference') };
  console.log("OpenFeature's InMemoryProvider, for reference:", openFeatureInMemory);
  await OpenFeature.close();
  await local.close();

  const cluster = `ffbench${randomUUID().slice(0, 6)}`;
  const group = 'flags';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftline-ffbench-'));
  const replicas = IDS.map((id) => serve(dir, id, cluster, group));
  const connections: NatsConnection[] = [];
  const results: Propagation[] = [];
  try {
    await Promise.all(replicas.map((r) => r.ready));
    for (let i = 0; i < CONNECTIONS; i++) connections.push(await connectNats({ servers: NATS_URL }));
    const admin = new AdminClient({ connection: connections[0]!, cluster, group });
    for (let i = 0; i < 100 && !(await admin.status().catch(() => undefined))?.leaderId; i++)
      await sleep(200);
    for (const n of SDKS) {
      const r = await propagation(connections, cluster, group, n);
      console.log(`propagation to ${n} SDKs:`, r);
      results.push(r);
    }
  } finally {
    for (const r of replicas) r.proc.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    if (connections[0]) {
      const jsm = await jetstreamManager(connections[0]);
      await jsm.streams.delete(committedStreamName(cluster, group)).catch(() => undefined);
    }
    await Promise.all(connections.map((nc) => nc.close()));
    rmSync(dir, { recursive: true, force: true });
  }

  const out = {
    benchmark: 'feature-flags',
    date: new Date().toISOString(),
    command: 'npm run bench:flags',
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverage1mBeforeAfter: [loadBefore, load()],
    },
    evaluationsPerSecond: evaluation,
    openFeatureEvaluationsPerSecond: openFeature,
    openFeatureInMemoryProviderPerSecond: openFeatureInMemory,
    propagation: results,
    goals: { simpleEvaluationsPerSecondPerCore: 1_000_000, propagationP99Ms: 50 },
  };
  writeFileSync(path.join(ROOT, 'bench/results/feature-flags.json'), `${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
