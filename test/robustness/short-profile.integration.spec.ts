// The robustness suite's short profile (part of npm test): three seeds of 30 s
// each on a 3-node cluster of kv replicas, two with one nats-server and one
// with three (partial partitions), every fault kind in play, every check at
// the end. The long profile is `npm run test:robustness`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RobustCluster } from './support/cluster';
import { Environment } from './support/environment';
import { runSeed } from './support/run-seed';

/** Seeds on one nats-server, and on a cluster of three (ROBUST_SHORT_SEEDS=4,5 ROBUST_SHORT_CLUSTER_SEEDS=6 picks others). */
const SEEDS = seeds(process.env.ROBUST_SHORT_SEEDS ?? '1,2');
const CLUSTER_SEEDS = seeds(process.env.ROBUST_SHORT_CLUSTER_SEEDS ?? '3');
const RUNS = [
  ...SEEDS.map((seed) => ({ seed, natsServers: 1 })),
  ...CLUSTER_SEEDS.map((seed) => ({ seed, natsServers: 3 })),
];
const DURATION_MS = 30_000;

// A run takes its 30 s plus replica starts and the checks; starts are slow on a loaded machine.
jest.setTimeout(240_000);

function seeds(list: string): number[] {
  return list.split(',').filter(Boolean).map(Number);
}

describe('robustness - short profile: linearizable, applied once, replicas equal under overlapping faults', () => {
  /** One environment at a time: the one of the run now (the servers of one topology). */
  let env: Environment | undefined;

  const environment = async (natsServers: number): Promise<Environment> => {
    if (env?.nats.count === natsServers) return env;
    await env?.close();
    env = undefined;
    env = await Environment.start({ natsServers });
    return env;
  };

  afterAll(async () => {
    // A run cut short by its timeout leaves its cluster: kill its replicas before the servers go.
    await Promise.all([...RobustCluster.live].map((c) => c.dispose()));
    await env?.close();
  }, 60_000);

  it.each(RUNS)(
    'seed $seed on $natsServers nats-server(s): every check passes',
    async ({ seed, natsServers }) => {
      const env = await environment(natsServers);
      const r = await runSeed(env, {
        seed,
        nodes: 3,
        durationMs: DURATION_MS,
        electionMs: 1000,
        clients: 6,
        outDir: join(tmpdir(), 'raftline-robustness'),
      });
      process.stdout.write(`${r.summary}\n`);
      await env.heal();
      expect(r.problems).toEqual([]);
      expect(r.checks.linearizable).toBe('ok');
      expect(r.checks.writesChecked).toBeGreaterThan(0);
    },
  );
});
