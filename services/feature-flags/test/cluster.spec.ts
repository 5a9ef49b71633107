// The flag store's write guarantees, model-checked on SimCluster across a
// seed sweep: FEATURE_FLAGS_SEEDS seeds (default 30; npm run test:sweep runs
// 300), from FEATURE_FLAGS_FIRST_SEED (default 1), 3 and 5 nodes alternating.
import { SimCluster } from '@raftline/testing';
import {
  FeatureFlags,
  FlagEvaluator,
  type EnvironmentSnapshot,
  type EvaluationDetails,
  type HistoryEntry,
} from '../src/index';
import { checkWrites, reasonFor, type WriteSeen } from './support/checker';
import { runFlagsSeed, type RunResult } from './support/workload';
import { rollout } from './support/harness';

const SEEDS = Number(process.env.FEATURE_FLAGS_SEEDS ?? 30);
const FIRST = Number(process.env.FEATURE_FLAGS_FIRST_SEED ?? 1);

describe('feature flags on SimCluster - guarantees under faults', () => {
  it(`no acknowledged change is lost, versions strictly increase, every CAS conflict is detected: ${SEEDS} seeds`, async () => {
    const failures: RunResult[] = [];
    const total = {
      acked: 0,
      conflicts: 0,
      unknown: 0,
      races: 0,
      racesDecided: 0,
      deletes: 0,
      snapshotSeeds: 0,
    };
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = await runFlagsSeed(seed, { nodes: seed % 2 === 0 ? 5 : 3 });
      if (r.problems.length > 0) failures.push(r);
      for (const k of ['acked', 'conflicts', 'unknown', 'races', 'racesDecided', 'deletes'] as const)
        total[k] += r.stats[k];
      if (r.stats.snapshotEvery > 0) total.snapshotSeeds++;
    }
    const report = failures.map(
      (r) =>
        `seed ${r.seed}: ${r.problems.slice(0, 5).join('\n  ')}\n` +
        `  replay: FEATURE_FLAGS_FIRST_SEED=${r.seed} FEATURE_FLAGS_SEEDS=1 npx jest test/cluster.spec.ts`,
    );
    expect(report).toEqual([]);
    // The workload really does what the claims need: acknowledged writes, refused ones, races decided, unknown outcomes.
    expect(total.acked).toBeGreaterThan(20 * SEEDS);
    expect(total.conflicts).toBeGreaterThan(5 * SEEDS);
    expect(total.racesDecided).toBeGreaterThan(SEEDS);
    expect(total.deletes).toBeGreaterThan(0);
    expect(total.unknown).toBeGreaterThan(0);
    expect(total.snapshotSeeds).toBeGreaterThan(0);
  }, 900_000);

  it('replays a seed exactly', async () => {
    const a = await runFlagsSeed(7);
    const b = await runFlagsSeed(7);
    expect(b.events).toEqual(a.events);
    expect(b.stats).toEqual(a.stats);
    expect((await runFlagsSeed(8)).events).not.toEqual(a.events);
  }, 120_000);
});

describe('feature flags on SimCluster - evaluation everywhere', () => {
  it('a replica restarted from its snapshot evaluates every context as the others and as an SDK', async () => {
    const c = await SimCluster.create({
      nodes: 3,
      seed: 42,
      snapshotEvery: 5,
      stateMachine: () => new FeatureFlags(),
    });
    try {
      for (let p = 0; p <= 30; p += 5)
        await c.propose({ name: 'setFlag', args: ['prod', 'rollout', rollout(p), { author: 'ops' }] });
      await c.propose({
        name: 'setSegment',
        args: [
          'prod',
          'beta',
          { when: { attribute: 'plan', op: 'equals', value: 'beta' } },
          { author: 'ops' },
        ],
      });
      await c.propose({
        name: 'setFlag',
        args: [
          'prod',
          'gated',
          {
            ...rollout(50),
            rules: [{ when: { segment: 'beta' }, serve: { variant: 'on' } }, ...rollout(50).rules!],
          },
          { author: 'ops' },
        ],
      });
      const victim = c.ids.find((id) => id !== c.leader())!;
      c.crash(victim);
      // It restarts from a snapshot it took, then catches up from the log.
      expect((await c.stores(victim).snapshots.latest())?.index).toBeGreaterThan(0);
      await c.propose({ name: 'setFlag', args: ['prod', 'rollout', rollout(40), { author: 'ops' }] });
      await c.restart(victim);
      await c.sleep(500);
      const sdk = FlagEvaluator.fromSnapshot(
        (await c.query('environmentSnapshot', ['prod'])) as EnvironmentSnapshot,
      );
      for (let i = 0; i < 200; i++) {
        const ctx = { targetingKey: `u${i}`, plan: i % 7 === 0 ? 'beta' : 'free' };
        for (const key of ['rollout', 'gated']) {
          const expected = sdk.evaluate(key, ctx);
          for (const id of c.ids) {
            const got = (await c.query('evaluate', ['prod', key, ctx], {
              via: id,
              consistency: 'stale',
              retry: false,
            })) as EvaluationDetails;
            expect(got).toEqual(expected);
          }
        }
      }
    } finally {
      await c.stop();
    }
  }, 60_000);
});

describe('feature flags - the write checker catches each violation', () => {
  const entry = (
    version: number,
    marker: string,
    base: number,
    action: HistoryEntry['action'] = 'updated',
  ): HistoryEntry => ({
    version,
    time: 0,
    author: 'w',
    reason: reasonFor(marker, base),
    action,
    changes: [],
  });
  const acked = (marker: string, base: number, version: number): WriteSeen => ({
    key: 'k',
    marker,
    base,
    outcome: 'acked',
    version,
  });

  it('passes a clean history', () => {
    const h = new Map([
      [
        'k',
        [
          entry(3, 'a', 0, 'created'),
          entry(5, 'b', 3),
          entry(9, 'c', 5, 'deleted'),
          entry(12, 'd', 0, 'created'),
        ],
      ],
    ]);
    expect(checkWrites([acked('a', 0, 3), acked('b', 3, 5), acked('d', 0, 12)], h)).toEqual([]);
  });

  it('a lost acknowledged write', () => {
    const h = new Map([['k', [entry(3, 'a', 0, 'created')]]]);
    expect(checkWrites([acked('a', 0, 3), acked('b', 3, 5)], h)).toEqual([
      'k: b was acknowledged at version 5 but is not in the history',
    ]);
  });

  it('an undetected conflict: two writes on one version, and a write on a version that had moved', () => {
    const h = new Map([['k', [entry(3, 'a', 0, 'created'), entry(5, 'b', 3), entry(6, 'c', 3)]]]);
    expect(checkWrites([], h)).toEqual([
      'k: c applied at 6 expecting 3, but the flag was at 5',
      'k: b and c both applied on version 3',
    ]);
  });

  it('a refused write that applied anyway, a write applied twice, versions going back', () => {
    const h = new Map([['k', [entry(3, 'a', 0, 'created'), entry(2, 'a', 3)]]]);
    expect(checkWrites([{ key: 'k', marker: 'a', base: 0, outcome: 'conflict' }], h)).toEqual([
      'k: version 2 follows 3',
      'k: a applied twice',
      'k: a was refused with a version conflict, yet applied at 2',
    ]);
  });
});
