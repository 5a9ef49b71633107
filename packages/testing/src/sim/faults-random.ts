/**
 * A seeded random fault driver for any SimCluster: each call draws one fault
 * action (cut a node off, crash one while a majority stays up, restart one,
 * make the links unreliable, lose a node's replication traffic, make the links
 * reliable again, heal the partitions) and applies it. Workloads call it in
 * their faulty phase, between advances of virtual time; it works whatever
 * state machine the cluster runs (the sweep's FaultScheduler is tied to its
 * key-value workload).
 */
import { ConfigError, type NodeId, type RandomSource } from '@raftline/core';
import type { SimCluster } from './cluster';

/** The fault actions randomFault draws from, in the order their weights are laid out. */
export const RANDOM_FAULT_KINDS = [
  'partition',
  'crash',
  'restart',
  'unreliable',
  'dropAppends',
  'reliable',
  'heal',
] as const;

export type RandomFaultKind = (typeof RANDOM_FAULT_KINDS)[number];

/** Relative weight of each action (a non-negative integer; 0 never draws it). */
export type RandomFaultWeights = Readonly<Record<RandomFaultKind, number>>;

/** Weights summing to 100: partitions 20, crashes 15, restarts 15, unreliable 15, dropped appends 10, reliable 10, heal 15. */
export const DEFAULT_FAULT_WEIGHTS: RandomFaultWeights = {
  partition: 20,
  crash: 15,
  restart: 15,
  unreliable: 15,
  dropAppends: 10,
  reliable: 10,
  heal: 15,
};

export interface RandomFaultOptions {
  /** Weights overriding DEFAULT_FAULT_WEIGHTS kind by kind; at least one must be above 0. */
  readonly weights?: Partial<RandomFaultWeights>;
  /** How many append / append-resp messages a dropAppends action loses (default 10). */
  readonly appendDrops?: number;
}

/**
 * Draws one fault action from rng and applies it to c. The draws are, in
 * order: one roll in [0, total weight); then for a partition, whether to cut
 * the leader (when there is one) and, if not, which node; for a crash or a
 * restart, which node; for unreliable links, the drop rate (0 to 19 %), the
 * extra delay (0 to 29 ms) and whether to reorder; for dropped appends, which
 * node. So the same rng state gives the same action, and two callers with the
 * same weights draw the same schedule.
 *
 * A partition cuts one node (the leader half the time) off from the others.
 * A crash is skipped when it would leave fewer than a majority of c.ids up; a
 * restart when none is down. Unreliable links also duplicate 5 % of messages.
 * dropAppends loses the next `appendDrops` append and append-resp messages to
 * or from one node.
 * @returns a one-line description of what it did (or skipped)
 * @throws ConfigError when a weight is not a non-negative integer, or all are 0, or appendDrops is not a positive integer
 */
export async function randomFault(
  c: SimCluster,
  rng: RandomSource,
  options: RandomFaultOptions = {},
): Promise<string> {
  const weights = faultWeights(options.weights);
  const appendDrops = options.appendDrops ?? 10;
  if (!Number.isInteger(appendDrops) || appendDrops < 1)
    throw new ConfigError([`appendDrops must be a positive integer, got ${appendDrops}`]);
  const ids = c.ids;
  const pickId = (among: readonly NodeId[]): NodeId => among[rng.nextInt(among.length)]!;
  switch (drawKind(weights, rng)) {
    case 'partition': {
      const leader = c.leader(ids);
      const cut = leader !== undefined && rng.nextInt(2) === 0 ? leader : pickId(ids);
      c.partition(
        [cut],
        ids.filter((id) => id !== cut),
      );
      return `partition ${cut} away`;
    }
    case 'crash': {
      const down = ids.filter((id) => !c.isRunning(id));
      if (down.length >= Math.floor((ids.length - 1) / 2)) return 'crash skipped (a majority must stay up)';
      const id = pickId(ids.filter((x) => c.isRunning(x)));
      c.crash(id);
      return `crash ${id}`;
    }
    case 'restart': {
      const down = ids.filter((id) => !c.isRunning(id));
      if (down.length === 0) return 'restart: none down';
      const id = pickId(down);
      await c.restart(id);
      return `restart ${id}`;
    }
    case 'unreliable': {
      const dropRate = rng.nextInt(20) / 100;
      c.setUnreliable({
        dropRate,
        delayMs: [0, rng.nextInt(30)],
        duplicateRate: 0.05,
        reorder: rng.nextInt(2) === 0,
      });
      return `unreliable drop ${dropRate}`;
    }
    case 'dropAppends': {
      const to = pickId(ids);
      c.dropWhere(
        (m) => (m.type === 'append' || m.type === 'append-resp') && (m.to === to || m.from === to),
        { count: appendDrops },
      );
      return `drop ${appendDrops} append messages of ${to}`;
    }
    case 'reliable':
      c.setUnreliable(false);
      return 'reliable';
    case 'heal':
      c.heal();
      return 'heal';
  }
}

/** DEFAULT_FAULT_WEIGHTS with `overrides` applied, checked. @throws ConfigError */
function faultWeights(overrides: Partial<RandomFaultWeights> = {}): RandomFaultWeights {
  const weights = { ...DEFAULT_FAULT_WEIGHTS, ...overrides };
  const problems: string[] = [];
  for (const kind of RANDOM_FAULT_KINDS) {
    const w = weights[kind];
    if (!Number.isInteger(w) || w < 0)
      problems.push(`weights.${kind} must be a non-negative integer, got ${w}`);
  }
  if (problems.length === 0 && RANDOM_FAULT_KINDS.every((kind) => weights[kind] === 0))
    problems.push('at least one fault weight must be above 0');
  if (problems.length > 0) throw new ConfigError(problems);
  return weights;
}

/** One roll in [0, total weight), mapped onto the kinds in RANDOM_FAULT_KINDS order. */
function drawKind(weights: RandomFaultWeights, rng: RandomSource): RandomFaultKind {
  const total = RANDOM_FAULT_KINDS.reduce((sum, kind) => sum + weights[kind], 0);
  let roll = rng.nextInt(total);
  return RANDOM_FAULT_KINDS.find((kind) => (roll -= weights[kind]) < 0)!;
}

/** How runFaultPhase drives a cluster. */
export interface FaultPhaseOptions {
  /** The virtual time (c.now(), ms) at which the phase ends. */
  readonly untilMs: number;
  /** One fault action, e.g. `() => randomFault(c, faultRng)`. @returns what it did */
  readonly fault: () => Promise<string>;
  /** Draws each pause after a fault: 50 to 299 ms of virtual time. */
  readonly rng: RandomSource;
  /** Where each fault is recorded, as `<c.now()> ms: <what it did>`, as soon as it ran. */
  readonly events: string[];
  /** Ends the phase early once it returns true (asked before each fault). */
  readonly stop?: () => boolean;
}

/**
 * A workload's faulty phase: until c.now() reaches untilMs (or stop() holds),
 * runs one fault, records it, advances 50 to 299 ms and checks the safety
 * properties. So one seed's faults and pauses are drawn in the same order on
 * every run.
 * @throws SafetyViolationError from c.check(), with the events so far recorded
 */
export async function runFaultPhase(c: SimCluster, o: FaultPhaseOptions): Promise<void> {
  while (c.now() < o.untilMs && !(o.stop?.() ?? false)) {
    o.events.push(`${c.now()} ms: ${await o.fault()}`);
    await c.advance(50 + o.rng.nextInt(250));
    c.check();
  }
}

/** Ends every fault: heals partitions and disconnections, makes the links reliable, restarts every crashed node (in c.ids order). */
export async function healAll(c: SimCluster): Promise<void> {
  c.heal();
  c.setUnreliable(false);
  for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
}
