// npm run test:robustness [-- options]: the long profile of the robustness
// suite, or any seed of it. See test/robustness/README.md.
//   --seed N          run this one seed (replays a failed run's faults)
//   --seeds N         how many seeds, from --first (default 1): long profile 20
//   --nodes 3,5       cluster sizes, each seed on each (default 3,5)
//   --nats-servers 1,3  one nats-server, or 3 in a cluster with proxied routes
//                     (partial partitions); each seed on each (default 1,3)
//   --duration S      seconds of faults and workload per run (default 120)
//   --clients N       concurrent clients (default 6)
//   --election-ms MS  the replicas' election timeout (default 1000)
//   --machine M       a module exporting a RobustnessTarget (your machine and model)
//   --out DIR         where history files go (default $TMPDIR/raftline-robustness)
// One summary line per run; exit 1 when any run failed a check, 2 on bad usage.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RobustCluster } from './support/cluster';
import { Environment } from './support/environment';
import { runSeed, type RunOptions } from './support/run-seed';
import { loadTarget } from './support/target';

/** Raised for a bad command line. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function int(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} (${value}) must be an integer >= ${min}`);
  return n;
}

/** What every run of one invocation shares. */
interface Runs {
  readonly seeds: readonly number[];
  readonly nodes: readonly number[];
  readonly options: Omit<RunOptions, 'seed' | 'nodes'>;
}

/**
 * Every seed on every cluster size on env's servers, one summary line each.
 * @returns how many runs failed
 */
async function runAll(env: Environment, runs: Runs): Promise<number> {
  let failed = 0;
  for (const n of runs.nodes) {
    for (const seed of runs.seeds) {
      try {
        const r = await runSeed(env, { ...runs.options, seed, nodes: n });
        process.stdout.write(`${r.summary}\n`);
        if (!r.ok) {
          failed++;
          for (const p of r.problems) process.stdout.write(`  problem: ${p}\n`);
        }
      } catch (err) {
        failed++;
        process.stdout.write(
          `robustness ERROR nodes=${n} nats=${env.nats.count} seed=${seed}: ${err instanceof Error ? err.stack : String(err)}\n`,
        );
      }
      await env.heal();
    }
  }
  return failed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      first: { type: 'string' },
      nodes: { type: 'string' },
      'nats-servers': { type: 'string' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      'election-ms': { type: 'string' },
      machine: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const first = int(values.first, 'first', 1, 0);
  const seeds =
    values.seed !== undefined
      ? [int(values.seed, 'seed', 1, 0)]
      : Array.from({ length: int(values.seeds, 'seeds', 20) }, (_, i) => first + i);
  const nodes = (values.nodes ?? '3,5').split(',').map((n) => int(n, 'nodes', 3, 3));
  const topologies = (values['nats-servers'] ?? '1,3').split(',').map((n) => int(n, 'nats-servers', 1));
  const badTopology = topologies.find((n) => n !== 1 && n !== 3);
  if (badTopology !== undefined) throw new UsageError(`--nats-servers (${badTopology}) must be 1 or 3`);
  const durationMs = int(values.duration, 'duration', 120) * 1000;
  const electionMs = int(values['election-ms'], 'election-ms', 1000, 100);
  const clients = int(values.clients, 'clients', 6);
  const outDir = values.out ?? join(tmpdir(), 'raftline-robustness');
  const target = values.machine ? loadTarget(values.machine) : undefined;

  let env: Environment | undefined;
  // Interrupted: kill the replicas and remove the servers before exiting, so nothing is left running.
  const interrupt = (signal: string) => {
    process.stdout.write(`robustness: ${signal}, cleaning up\n`);
    const cleanup = Promise.all([...RobustCluster.live].map((c) => c.dispose().catch(() => undefined)))
      .then(() => env?.close())
      .catch(() => undefined);
    const timer = setTimeout(() => process.exit(130), 20_000);
    void cleanup.then(() => {
      clearTimeout(timer);
      process.exit(130);
    });
  };
  process.once('SIGINT', () => interrupt('SIGINT'));
  process.once('SIGTERM', () => interrupt('SIGTERM'));
  let failed = 0;
  for (const servers of topologies) {
    env = await Environment.start({ natsServers: servers });
    try {
      failed += await runAll(env, {
        seeds,
        nodes,
        options: {
          durationMs,
          electionMs,
          clients,
          outDir,
          ...(target ? { target, targetModule: values.machine } : {}),
        },
      });
    } finally {
      await env.close();
    }
  }
  const runs = topologies.length * nodes.length * seeds.length;
  process.stdout.write(`robustness: ${runs - failed} of ${runs} runs passed\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `robustness: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`,
    );
    process.exit(err instanceof UsageError || (err as Error)?.name === 'TargetLoadError' ? 2 : 1);
  },
);
