import fc from 'fast-check';
import { Net } from '../support/net';
import { Cluster, runUntilCommitted } from '../support/schedule-cluster';
import { configArb, scheduleArb } from '../support/schedules';

/*
 * Raft's safety properties (§5.2 election safety, §5.3 log matching, §5.4
 * leader completeness, §5.4.3 state-machine safety) checked after every step
 * of random schedules over pure RaftProtocol nodes: ticks, deliveries in and
 * out of order, drops, duplicates, proposals, leadership transfers, Ready
 * cycles that may stop part-way (slow disks whose writes linger), crashes
 * (also between ready() and advance()), restarts from the durable state the
 * Ready cycles wrote, partitions and heals. Then liveness: once faults end, a
 * leader emerges and commits.
 *
 * A failure prints fast-check's seed and path; replay with
 * RAFT_PROPERTY_SEED=<seed> (and RAFT_PROPERTY_RUNS to run more or fewer).
 */

// ------------------------------------------------------------------ runner

const SEED =
  process.env.RAFT_PROPERTY_SEED === undefined ? undefined : Number(process.env.RAFT_PROPERTY_SEED);
const RUNS =
  process.env.RAFT_PROPERTY_RUNS === undefined ? undefined : Number(process.env.RAFT_PROPERTY_RUNS);
/**
 * Shrinking a schedule of a thousand steps can take many minutes: past this
 * budget fast-check stops and reports the smallest failing schedule so far.
 */
const TIME_LIMIT_MS = 90_000;
const JEST_TIMEOUT_MS = TIME_LIMIT_MS + 30_000;
const fcParams = { numRuns: RUNS, seed: SEED, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] };

/** Coverage of one configuration: without it a green run might have checked nothing. */
interface Coverage {
  runs: number;
  withCommits: number;
  withLeaderChange: number;
  withRestart: number;
  maxCommitted: number;
  maxTerm: number;
}

function safetyProperty(
  n: number,
  steps: { min: number; max: number },
  coverage: Coverage,
): fc.IPropertyWithHooks<unknown[]> {
  return fc.property(configArb, fc.integer(), scheduleArb(n, steps), (config, seed, schedule) => {
    const cluster = new Cluster(n, config, seed, schedule.slowDisks);
    cluster.run(schedule.steps);
    const leaders = cluster.checker.leaderHistory();
    coverage.runs++;
    if (cluster.checker.maxCommitted() > 0) coverage.withCommits++;
    if (leaders.size > 1) coverage.withLeaderChange++;
    if (cluster.restarts > 0) coverage.withRestart++;
    coverage.maxCommitted = Math.max(coverage.maxCommitted, cluster.checker.maxCommitted());
    coverage.maxTerm = Math.max(coverage.maxTerm, ...leaders.keys());
  });
}

function newCoverage(): Coverage {
  return { runs: 0, withCommits: 0, withLeaderChange: 0, withRestart: 0, maxCommitted: 0, maxTerm: 0 };
}

describe('protocol - safety over random schedules (§5.2, §5.3, §5.4)', () => {
  it.each([
    { n: 3, numRuns: 300, steps: { min: 1000, max: 2000 } },
    { n: 5, numRuns: 200, steps: { min: 1000, max: 2000 } },
  ])(
    '$n nodes: election safety, log matching, leader completeness, state-machine safety',
    ({ n, numRuns, steps }) => {
      const coverage = newCoverage();
      fc.assert(safetyProperty(n, steps, coverage), { ...fcParams, numRuns: RUNS ?? numRuns });
      if (process.env.RAFT_PROPERTY_STATS) console.log(n, coverage);
      // The schedules must reach the states the properties are about, or the check is empty.
      if (coverage.runs < 100) return; // a replay or a short run: too few runs to judge
      expect(coverage.withCommits).toBeGreaterThan(coverage.runs / 2);
      expect(coverage.withLeaderChange).toBeGreaterThan(coverage.runs / 4);
      expect(coverage.withRestart).toBeGreaterThan(coverage.runs / 4);
    },
    JEST_TIMEOUT_MS,
  );
});

describe('protocol - liveness after faults end', () => {
  it.each([
    { n: 3, numRuns: 200 },
    { n: 5, numRuns: 150 },
  ])(
    '$n nodes: a leader emerges and a proposal commits everywhere',
    ({ n, numRuns }) => {
      fc.assert(
        fc.property(configArb, fc.integer(), scheduleArb(n, { min: 0, max: 600 }), (config, seed, prefix) => {
          const cluster = new Cluster(n, config, seed, prefix.slowDisks);
          cluster.run(prefix.steps);
          cluster.healAll();
          runUntilCommitted(cluster, 40 * (config.electionTicks ?? 10));
        }),
        { ...fcParams, numRuns: RUNS ?? numRuns },
      );
    },
    JEST_TIMEOUT_MS,
  );
});

// ------------------------------------------------------ regression tests

describe('protocol - regressions found by the schedules above', () => {
  it('a follower whose whole replicate window was lost catches up once heartbeats get through', () => {
    // Shrunk from the liveness property (maxInflightMessages 1): the one append
    // in b's window was lost, so the window stayed full and the leader never
    // sent b anything but heartbeats again. A heartbeat answer now frees a slot.
    const net = new Net(['a', 'b', 'c'], { maxInflightMessages: 1 });
    net.elect('a');
    net.propose('a', 'x');
    expect(net.node('a').status().progress?.b).toMatchObject({ state: 'replicate', match: 2 });
    net.partition(['b'], ['a', 'c']);
    net.propose('a', 'y'); // the append carrying y to b is lost
    expect(net.node('a').status().progress?.b).toMatchObject({ state: 'replicate', match: 2, inflight: 1 });
    net.heal();
    for (let t = 0; t < 3; t++) {
      net.node('a').tick();
      net.settle();
    }
    expect(net.logOf('b')).toEqual(['·', 'x', 'y']);
    expect(net.node('b').status().commitIndex).toBe(3);
  });
});
