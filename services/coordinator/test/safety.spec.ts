// The coordinator's safety on SimCluster, across a seed sweep: see
// support/workload.ts for what each seed does and support/checker.ts for
// what is checked. COORDINATOR_SEEDS (default 40) and COORDINATOR_FIRST_SEED
// (default 1) choose the seeds; `npm run test:sweep` runs 300.
import { runCoordinatorSeed, type RunReport } from './support/workload';

const COUNT = Number(process.env.COORDINATOR_SEEDS ?? 40);
const FIRST = Number(process.env.COORDINATOR_FIRST_SEED ?? 1);
const seeds = Array.from({ length: COUNT }, (_, k) => FIRST + k);
const reports: RunReport[] = [];

function explain(r: RunReport): string {
  return [
    `seed ${r.seed} failed (replay: COORDINATOR_SEEDS=1 COORDINATOR_FIRST_SEED=${r.seed} npx jest test/safety.spec.ts):`,
    ...r.violations.slice(0, 10).map((v) => `  ${v}`),
    'faults:',
    ...r.faults.map((f) => `  ${f}`),
  ].join('\n');
}

describe('coordinator - safety on SimCluster under partitions, crashes, lossy links and pauses', () => {
  it.each(seeds)(
    'seed %i: one unexpired lease per task at a time, no stale write applied, epochs increase, handoffs carry the last checkpoint',
    async (seed) => {
      const r = await runCoordinatorSeed(seed);
      reports.push(r);
      if (r.violations.length > 0) throw new Error(explain(r));
    },
    120_000,
  );

  it('the sweep exercised what it checks: handoffs, stale writes, overrides, approvals, unknown outcomes', () => {
    const total = (k: string): number => reports.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
    expect(reports).toHaveLength(COUNT);
    for (const k of ['grants', 'acts', 'checkpoints', 'stalls', 'staleRefused', 'overrides'])
      expect(total(k)).toBeGreaterThan(COUNT);
    expect(total('approvals')).toBeGreaterThan(0);
    if (COUNT >= 20) expect(total('unknown')).toBeGreaterThan(0);
  });

  it('a seed replays exactly', async () => {
    const [a, b] = [await runCoordinatorSeed(FIRST + 1), await runCoordinatorSeed(FIRST + 1)];
    expect(b.faults).toEqual(a.faults);
    expect(b.stats).toEqual(a.stats);
  }, 120_000);
});
