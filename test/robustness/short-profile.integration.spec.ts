// The robustness suite's short profile (part of npm test): three seeds of 30 s
// each on a 3-node cluster of kv replicas, every fault kind in play, every
// check at the end. The long profile is `npm run test:robustness`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RobustCluster } from './support/cluster';
import { Environment } from './support/environment';
import { runSeed } from './support/run-seed';

const SEEDS = (process.env.ROBUST_SHORT_SEEDS ?? '1,2,3').split(',').map(Number);
const DURATION_MS = 30_000;

// A run takes its 30 s plus replica starts and the checks; starts are slow on a loaded machine.
jest.setTimeout(240_000);

describe('robustness - short profile: linearizable, applied once, replicas equal under overlapping faults', () => {
  let env: Environment | undefined;

  beforeAll(async () => {
    env = await Environment.start();
  }, 60_000);

  afterAll(async () => {
    // A run cut short by its timeout leaves its cluster: kill its replicas before the servers go.
    await Promise.all([...RobustCluster.live].map((c) => c.dispose()));
    await env?.close();
  }, 60_000);

  it.each(SEEDS)('seed %i: every check passes', async (seed) => {
    const r = await runSeed(env!, {
      seed,
      nodes: 3,
      durationMs: DURATION_MS,
      electionMs: 1000,
      clients: 6,
      outDir: join(tmpdir(), 'raftline-robustness'),
    });
    process.stdout.write(`${r.summary}\n`);
    await env!.heal();
    expect(r.problems).toEqual([]);
    expect(r.checks.linearizable).toBe('ok');
    expect(r.checks.writesChecked).toBeGreaterThan(0);
  });
});
