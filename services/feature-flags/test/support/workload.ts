// One simulated run of the flag store: a SimCluster of FeatureFlags replicas
// under a seeded fault schedule (partitions that may cut the leader off,
// crashes and restarts, lossy/slow/duplicating/reordering links, snapshots),
// with writers doing read-then-compare-and-set loops on a few flags, some of
// them racing in pairs with the same expected version, and deleting and
// re-creating flags. Afterwards the faults heal and the checker judges what
// the writers saw against the histories; the replicas must hold the same
// state and evaluate as an SDK evaluates the environment snapshot.
import { CommandFailedError, seededRandom, type RandomSource } from '@raftline/core';
import { healAll, randomFault, runFaultPhase, SimCluster } from '@raftline/testing';
import {
  FeatureFlags,
  FlagEvaluator,
  flagErrorName,
  type EnvironmentSnapshot,
  type EvaluationDetails,
  type FlagDefinition,
  type FlagRecord,
  type HistoryEntry,
} from '../../src/index';
import { checkWrites, reasonFor, type WriteSeen } from './checker';

export const ENV = 'prod';
export const KEYS = ['checkout', 'search', 'banner'] as const;

/** Settings of one run; every field has a default. */
export interface RunOptions {
  readonly nodes?: number;
  /** Virtual time of the faulty phase (default 2000 ms). */
  readonly durationMs?: number;
  readonly writers?: number;
}

export interface RunResult {
  readonly seed: number;
  readonly problems: readonly string[];
  readonly events: readonly string[];
  readonly stats: RunStats;
}

export interface RunStats {
  acked: number;
  conflicts: number;
  unknown: number;
  /** Pairs of writes sent at once with the same expected version. */
  races: number;
  /** Races in which one write won and the other was refused with a conflict. */
  racesDecided: number;
  deletes: number;
  snapshotEvery: number;
}

/** The run keeps every history entry, so the checker sees every write. */
export const SWEEP_OPTIONS = { historyPerKey: 100_000, deletedHistories: 100 };

function isUnknown(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return name === 'ProposalTimeoutError' || name === 'LeadershipLostError' || name === 'NodeStoppedError';
}

function isReadFailure(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return name === 'ReadNotConfirmedError' || name === 'NodeStoppedError';
}

/** A rollout at percent % whose description is the write's marker. */
function definition(percent: number, marker: string): FlagDefinition {
  return {
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    enabled: true,
    description: marker,
    rules: [
      { when: { attribute: 'plan', op: 'equals', value: 'beta' }, serve: { variant: 'on' } },
      {
        serve: {
          rollout: {
            split: [
              { variant: 'on', weight: percent },
              { variant: 'off', weight: 100 - percent },
            ],
          },
        },
      },
    ],
  };
}

class Run {
  readonly writes: WriteSeen[] = [];
  readonly events: string[] = [];
  readonly stats: RunStats = {
    acked: 0,
    conflicts: 0,
    unknown: 0,
    races: 0,
    racesDecided: 0,
    deletes: 0,
    snapshotEvery: 0,
  };
  writing = true;
  failure: unknown;
  private seq = 0;

  constructor(
    readonly c: SimCluster,
    readonly rng: RandomSource,
  ) {}

  /** The current version of key as a linearizable read sees it (0: absent), or undefined when no read was confirmed. */
  async version(who: string, key: string): Promise<number | undefined> {
    try {
      const f = (await this.c
        .client(who)
        .query('getFlag', [ENV, key], { timeoutMs: 500 })) as FlagRecord | null;
      return f?.version ?? 0;
    } catch (err) {
      if (isReadFailure(err)) return undefined;
      throw err;
    }
  }

  /** Sends one compare-and-set write (set, or delete when base > 0 and asked) and records what it heard. */
  async write(who: string, key: string, base: number, remove: boolean): Promise<WriteSeen['outcome']> {
    const marker = `${who}#${++this.seq}`;
    const options = { author: who, reason: reasonFor(marker, base), expectedVersion: base };
    const command = remove
      ? { name: 'deleteFlag', args: [ENV, key, options] }
      : { name: 'setFlag', args: [ENV, key, definition(this.rng.nextInt(101), marker), options] };
    try {
      const r = (await this.c.client(who).propose(command, { timeoutMs: 250 + this.rng.nextInt(1250) })) as {
        version: number;
      };
      this.writes.push({ key, marker, base, outcome: 'acked', version: r.version });
      this.stats.acked++;
      if (remove) this.stats.deletes++;
      return 'acked';
    } catch (err) {
      if (isUnknown(err)) {
        this.writes.push({ key, marker, base, outcome: 'unknown' });
        this.stats.unknown++;
        return 'unknown';
      }
      const name = flagErrorName(err);
      // A delete of a flag that is gone is refused too: a definite outcome, like a conflict.
      if (
        err instanceof CommandFailedError &&
        (name === 'VersionConflictError' || name === 'FlagNotFoundError')
      ) {
        this.writes.push({ key, marker, base, outcome: 'conflict' });
        this.stats.conflicts++;
        return 'conflict';
      }
      throw err;
    }
  }

  async writer(name: string, rng: RandomSource): Promise<void> {
    for (let n = 0; this.writing && !this.c.stopped; n++) {
      await this.c.sleep(5 + rng.nextInt(40));
      const key = KEYS[rng.nextInt(KEYS.length)]!;
      const base = await this.version(name, key);
      if (base === undefined || !this.writing) continue;
      const roll = rng.nextInt(100);
      if (roll < 20) {
        // Two writers race with the same expected version: at most one may win.
        this.stats.races++;
        const [a, b] = await Promise.all([
          this.write(`${name}a`, key, base, false),
          this.write(`${name}b`, key, base, false),
        ]);
        if ((a === 'acked' && b === 'conflict') || (a === 'conflict' && b === 'acked'))
          this.stats.racesDecided++;
      } else if (roll < 28) {
        // A stale writer: it expects a version older than the one it read.
        await this.write(name, key, Math.max(0, base - 1 - rng.nextInt(3)), false);
      } else {
        await this.write(name, key, base, base > 0 && roll < 36);
      }
    }
  }

  guard(loop: Promise<void>): Promise<void> {
    return loop.catch((err: unknown) => {
      if (!this.c.stopped) this.failure ??= err;
    });
  }

  /** One random fault action (no targeted drops: this workload never had them). @returns what it did */
  fault(): Promise<string> {
    return randomFault(this.c, this.rng, { weights: { unreliable: 20, dropAppends: 0, reliable: 15 } });
  }
}

/** Contexts the final comparison evaluates: plans, bucketing keys, and a missing key. */
export function sampleContexts(rng: RandomSource, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) =>
    i === 0
      ? { plan: 'free' }
      : { targetingKey: `user-${rng.nextInt(1_000_000)}`, plan: rng.nextInt(5) === 0 ? 'beta' : 'free' },
  );
}

/** What each running replica answers for every key and context, against an SDK's evaluator of the leader's snapshot. */
async function evaluationProblems(
  c: SimCluster,
  contexts: readonly Record<string, unknown>[],
): Promise<string[]> {
  const problems: string[] = [];
  const snapshot = (await c.query('environmentSnapshot', [ENV])) as EnvironmentSnapshot;
  const sdk = FlagEvaluator.fromSnapshot(snapshot);
  for (const id of c.ids) {
    if (!c.isRunning(id)) continue;
    for (const key of KEYS) {
      for (const ctx of contexts) {
        const replica = (await c.query('evaluate', [ENV, key, ctx], {
          via: id,
          consistency: 'stale',
          retry: false,
        })) as EvaluationDetails;
        const local = sdk.evaluate(key, ctx);
        if (JSON.stringify(replica) !== JSON.stringify(local))
          problems.push(
            `${id}: evaluate ${key} ${JSON.stringify(ctx)} gave ${JSON.stringify(replica)}, the SDK ${JSON.stringify(local)}`,
          );
      }
    }
  }
  return problems;
}

/**
 * One run: a pure function of (seed, options).
 * @returns the problems found (empty when the guarantees held), what the faults did, counts
 */
export async function runFlagsSeed(seed: number, options: RunOptions = {}): Promise<RunResult> {
  const rng = seededRandom(seed ^ 0x0f1a_6000);
  const snapshotEvery = rng.nextInt(2) === 0 ? 0 : 10 + rng.nextInt(30);
  const c = await SimCluster.create({
    nodes: options.nodes ?? 3,
    seed,
    snapshotEvery,
    stateMachine: () => new FeatureFlags(SWEEP_OPTIONS),
  });
  const run = new Run(c, rng.fork());
  run.stats.snapshotEvery = snapshotEvery;
  const problems: string[] = [];
  const writers = Array.from({ length: options.writers ?? 3 }, (_, k) =>
    run.guard(run.writer(`w${k + 1}`, rng.fork())),
  );
  try {
    await runFaultPhase(c, {
      untilMs: options.durationMs ?? 2000,
      fault: () => run.fault(),
      rng,
      events: run.events,
      stop: () => run.failure !== undefined,
    });
    run.events.push(`${c.now()} ms: heal, reliable, restart all; writers stop`);
    await healAll(c);
    run.writing = false;
    await Promise.all(writers);
    c.check();
    const histories = new Map<string, HistoryEntry[]>();
    for (const key of KEYS) histories.set(key, (await c.query('history', [ENV, key])) as HistoryEntry[]);
    problems.push(...checkWrites(run.writes, histories));
    for (const key of KEYS) {
      const final = (await c.query('getFlag', [ENV, key])) as FlagRecord | null;
      const last = histories.get(key)!.at(-1);
      const expected = last === undefined || last.action === 'deleted' ? null : last.version;
      if ((final?.version ?? null) !== expected)
        problems.push(
          `${key}: the flag is at ${final?.version ?? 'absent'}, its history ends at ${expected ?? 'absent'}`,
        );
      else if (final && last && !last.reason.startsWith(`${final.definition.description} base `))
        problems.push(
          `${key}: the flag holds ${final.definition.description}, its last write was ${last.reason}`,
        );
    }
    const verification = await c.verify();
    if (verification.diverged.length > 0)
      problems.push(`replicas diverged: ${verification.diverged.join(', ')}`);
    await c.advance(500); // let followers apply the last entries before comparing their answers
    problems.push(...(await evaluationProblems(c, sampleContexts(rng, 40))));
  } catch (err) {
    run.failure ??= err;
  } finally {
    run.writing = false;
    await c.stop();
  }
  if (run.failure !== undefined) {
    const f = run.failure;
    problems.unshift(`error: ${f instanceof Error ? `${f.name}: ${f.message}` : String(f)}`);
  }
  return { seed, problems, events: run.events, stats: run.stats };
}
