import fc from 'fast-check';
import type { ProtocolConfig } from '../../src/index';

/*
 * Random schedules over pure RaftProtocol nodes, for the property tests in
 * test/protocol/properties.spec.ts: what a step can be, how often each comes
 * up, and a Cluster that runs a schedule exactly as the contract on Ready
 * prescribes, checking Raft's safety properties after every step.
 */

// ------------------------------------------------------------------ schedule

/** One step of a schedule. Indexes are taken modulo what exists at that moment. */
export type Step =
  | { readonly kind: 'tick'; readonly node: number }
  | { readonly kind: 'deliver' } // the oldest queued message
  | { readonly kind: 'reorder'; readonly pick: number } // any queued message but the oldest
  | { readonly kind: 'drop'; readonly pick: number }
  | { readonly kind: 'duplicate'; readonly pick: number }
  | { readonly kind: 'propose'; readonly leader: number; readonly count: number }
  /** Thesis §3.10: a leader hands leadership to node `to` (to the most up-to-date voter when that is itself). */
  | { readonly kind: 'transfer'; readonly leader: number; readonly to: number }
  /**
   * Works through the Ready of the node-th node that has work (starting one if none is under way)
   * until `upTo` of its PHASES are done, and at least one more; at 5 it is finished with advance().
   * A node with a slow disk stops before 'persist' until a 'sync' step.
   */
  | { readonly kind: 'ready'; readonly node: number; readonly upTo: number }
  /** A slow disk finishes a write: the 'persist' phase of the node-th node waiting for one. */
  | { readonly kind: 'sync'; readonly node: number }
  /**
   * Loses a node's volatile state, with any Ready it is working through; restarts it at once or later.
   * The victim is the node-th of the `among` set (any node when that set is empty): nodes part-way
   * through a Ready (written nothing yet, or not everything), or leaders.
   */
  | {
      readonly kind: 'crash';
      readonly node: number;
      readonly restartNow: boolean;
      readonly among: 'all' | 'mid-cycle' | 'leaders';
    }
  /** Restarts one of the crashed nodes (the node-th of them). */
  | { readonly kind: 'restart'; readonly node: number }
  /** Cuts every link between the nodes whose bit is set in `mask` and the others. */
  | { readonly kind: 'partition'; readonly mask: number }
  | { readonly kind: 'heal' };

/** The phases of one Ready cycle, in the order the contract on `Ready` prescribes. */
export const PHASES = [
  'ready() + send leaderMessages',
  'persist',
  'send messages',
  'apply',
  'advance',
] as const;

/** How often each kind of step comes up, relative to the others. */
export interface Weights {
  readonly tick: number;
  readonly deliver: number;
  readonly reorder: number;
  readonly drop: number;
  readonly duplicate: number;
  readonly propose: number;
  readonly transfer: number;
  readonly ready: number;
  readonly sync: number;
  /** Ready cycles that stop part-way: messages arrive and crashes strike while a write is pending. */
  readonly partialReady: number;
  readonly crash: number;
  readonly restart: number;
  readonly partition: number;
  readonly heal: number;
}

/** Few faults: elections settle and leaders commit, with a crash or partition now and then. */
export const STEADY: Weights = {
  tick: 50,
  deliver: 40,
  reorder: 20,
  drop: 2,
  duplicate: 4,
  propose: 12,
  transfer: 2,
  ready: 56,
  sync: 8,
  partialReady: 12,
  crash: 1,
  restart: 8,
  partition: 1,
  heal: 4,
};

/** Each run draws one profile, so that some runs make steady progress and others are stormy. */
export const PROFILES: Readonly<Record<string, Weights>> = {
  steady: STEADY,
  /** Crashes, often of a node part-way through a Ready. */
  crashy: { ...STEADY, partialReady: 24, crash: 5, restart: 10 },
  /** Ready cycles that stall part-way: acks, votes and crashes land while writes are pending. */
  slowDisk: { ...STEADY, ready: 28, partialReady: 40, crash: 3 },
  /** Lost, duplicated and reordered messages, partitions. */
  lossy: { ...STEADY, reorder: 40, drop: 16, duplicate: 10, partition: 4, heal: 6 },
};

export function stepArb(n: number, w: Weights): fc.Arbitrary<Step> {
  const node = fc.nat({ max: n - 1 });
  return fc.oneof(
    { weight: w.tick, arbitrary: fc.record({ kind: fc.constant('tick' as const), node }) },
    { weight: w.deliver, arbitrary: fc.constant({ kind: 'deliver' as const }) },
    { weight: w.reorder, arbitrary: fc.record({ kind: fc.constant('reorder' as const), pick: fc.nat() }) },
    { weight: w.drop, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
    {
      weight: w.duplicate,
      arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }),
    },
    {
      weight: w.propose,
      arbitrary: fc.record({
        kind: fc.constant('propose' as const),
        leader: fc.nat(),
        count: fc.integer({ min: 1, max: 3 }),
      }),
    },
    {
      weight: w.transfer,
      arbitrary: fc.record({
        kind: fc.constant('transfer' as const),
        leader: fc.nat(),
        to: fc.nat({ max: n - 1 }),
      }),
    },
    {
      weight: w.ready,
      arbitrary: fc.record({ kind: fc.constant('ready' as const), node, upTo: fc.constant(5) }),
    },
    {
      weight: w.partialReady,
      arbitrary: fc.record({
        kind: fc.constant('ready' as const),
        node,
        upTo: fc.constantFrom(1, 1, 1, 2, 3, 4),
      }),
    },
    { weight: w.sync, arbitrary: fc.record({ kind: fc.constant('sync' as const), node }) },
    {
      weight: w.crash,
      arbitrary: fc.record({
        kind: fc.constant('crash' as const),
        node,
        restartNow: fc.boolean(),
        among: fc.constantFrom('all' as const, 'mid-cycle' as const, 'leaders' as const),
      }),
    },
    { weight: w.restart, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
    {
      weight: w.partition,
      arbitrary: fc.record({
        kind: fc.constant('partition' as const),
        mask: fc.integer({ min: 1, max: 2 ** n - 2 }),
      }),
    },
    { weight: w.heal, arbitrary: fc.constant({ kind: 'heal' as const }) },
  );
}

/**
 * A schedule of length in [min, max] under one of the PROFILES, with the set
 * of nodes (a bitmask, often empty) whose disks are slow: their writes wait
 * for 'sync' steps, so that much happens while a write is pending.
 */
export function scheduleArb(
  n: number,
  length: { min: number; max: number },
): fc.Arbitrary<{ profile: string; slowDisks: number; steps: Step[] }> {
  const slowDisks = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** n - 1 }));
  return fc
    .record({ profile: fc.constantFrom(...Object.keys(PROFILES)), slowDisks })
    .chain(({ profile, slowDisks }) =>
      fc
        .array(stepArb(n, PROFILES[profile]!), {
          minLength: length.min,
          maxLength: length.max,
          size: 'max',
        })
        .map((steps) => ({ profile, slowDisks, steps })),
    );
}

/** Every configuration must be safe; small windows and batches exercise probing, pipelining and backtracking. */
export const configArb: fc.Arbitrary<Partial<ProtocolConfig>> = fc.record({
  electionTicks: fc.integer({ min: 4, max: 8 }),
  heartbeatTicks: fc.constantFrom(1, 2),
  preVote: fc.boolean(),
  checkQuorum: fc.boolean(),
  maxInflightMessages: fc.constantFrom(1, 2, 256),
  maxEntriesPerMessage: fc.constantFrom(1, 2, 4096),
  maxCommittedPerReady: fc.constantFrom(1, 4096),
});

// -------------------------------------------------------------------- driver
