// The nemesis's plan: a seeded schedule of faults, some overlapping. Pure:
// the same seed and options give the same plan (the nodes a fault hits are
// chosen when it runs, from `pick`, among the nodes as they are then).
import { seededRandom } from '@raftline/core';

/** Every fault the nemesis knows. */
export const FAULT_KINDS = [
  'kill-leader', // kill -9 of the leader, restarted after durationMs
  'kill-random', // kill -9 of a node, restarted after durationMs
  'kill-majority', // kill -9 of a majority at once, restarted after durationMs
  'pause', // SIGSTOP of a node (the leader half the time) for longer than an election timeout, then SIGCONT
  'isolate', // the node's link to NATS dropped or cut (its proxy), then healed
  'one-way', // the node's link to NATS loses one direction (it hears nothing, or is not heard), then healed
  'bridge', // 3 nats-servers: the route between two is cut, dropped or one-way dropped; both still reach the third
  'latency', // every link delayed by delayMs, then not
  'nats-restart', // the nats-server (one of three: its nodes cut off) stopped, started again after durationMs
  'pg-restart', // the PostgreSQL server stopped (fast or immediate shutdown), started after durationMs
  'transfer', // a leadership transfer (admin API) to a node chosen by pick
  'membership', // the spare joins as a voter (admin API), stays durationMs, is removed
  'snapshot', // a snapshot on a node (admin API)
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** Every variant a fault can have (see PlannedFault.variant). */
export const FAULT_VARIANTS = [
  'leader',
  'random',
  'drop',
  'cut',
  'deaf',
  'mute',
  'one-way',
  'fast',
  'immediate',
] as const;

export type FaultVariant = (typeof FAULT_VARIANTS)[number];

/** One planned fault. */
export interface PlannedFault {
  /** ms after the run's start. */
  readonly at: number;
  readonly kind: FaultKind;
  /** How long it lasts (0 for the instant ones: transfer, snapshot). */
  readonly durationMs: number;
  /** In [0, 1): which node it hits, among the candidates when it runs. */
  readonly pick: number;
  /**
   * pause: whether it pauses the leader; isolate: 'drop' or 'cut'; one-way:
   * 'deaf' (the node hears nothing) or 'mute' (nothing it sends arrives);
   * bridge: 'cut', 'drop' or 'one-way'; pg-restart: 'fast' or 'immediate'.
   */
  readonly variant?: FaultVariant;
  /** latency: the delay of each link, ms. */
  readonly delayMs?: number;
}

/** Relative weights of the kinds (0 leaves one out). */
export type FaultWeights = Readonly<Record<FaultKind, number>>;

/** The weights with one nats-server (no route to break: no bridge). */
export const DEFAULT_WEIGHTS: FaultWeights = {
  'kill-leader': 3,
  'kill-random': 2,
  'kill-majority': 1,
  pause: 3,
  isolate: 3,
  'one-way': 2,
  bridge: 0,
  latency: 1,
  'nats-restart': 1,
  'pg-restart': 2,
  transfer: 2,
  membership: 1,
  snapshot: 2,
};

/** The weights with a cluster of nats-servers: partial partitions too. */
export const CLUSTER_WEIGHTS: FaultWeights = { ...DEFAULT_WEIGHTS, bridge: 3 };

/** How a plan is drawn. */
export interface PlanOptions {
  readonly seed: number;
  /** The run's length; faults start after warmupMs and end before durationMs − quietMs. */
  readonly durationMs: number;
  readonly electionMs: number;
  readonly warmupMs?: number;
  readonly quietMs?: number;
  /** The chance that the next fault starts while this one lasts (default 0.35). */
  readonly overlap?: number;
  /** Default: DEFAULT_WEIGHTS with one nats-server, CLUSTER_WEIGHTS with more. */
  readonly weights?: FaultWeights;
  /** How many nats-servers the run has (default 1). */
  readonly natsServers?: number;
}

/** Raised for plan options that make no plan (no positive weight, a run shorter than its warm-up and quiet tail). */
export class PlanError extends Error {
  override readonly name = 'PlanError';
}

/**
 * Draws the faults of a run.
 * @returns the faults in start order; each ends before durationMs − quietMs
 * @throws PlanError when every weight is 0, a weight is negative, or the run leaves no time for faults
 */
export function planFaults(o: PlanOptions): PlannedFault[] {
  const weights = o.weights ?? ((o.natsServers ?? 1) > 1 ? CLUSTER_WEIGHTS : DEFAULT_WEIGHTS);
  const kinds = FAULT_KINDS.filter((k) => (weights[k] ?? 0) > 0);
  const bad = FAULT_KINDS.filter((k) => (weights[k] ?? 0) < 0);
  if (bad.length > 0) throw new PlanError(`weights of ${bad.join(', ')} must be >= 0`);
  if (kinds.length === 0) throw new PlanError('at least one fault weight must be positive');
  const warmup = o.warmupMs ?? 3000;
  const quiet = o.quietMs ?? 4000;
  const end = o.durationMs - quiet;
  if (end <= warmup) {
    throw new PlanError(`durationMs (${o.durationMs}) must exceed warmupMs (${warmup}) + quietMs (${quiet})`);
  }
  const rng = seededRandom(o.seed);
  const uniform = (lo: number, hi: number) => lo + (rng.nextInt(1_000_000) / 1_000_000) * (hi - lo);
  const total = kinds.reduce((s, k) => s + weights[k], 0);
  const draw = (): FaultKind => {
    let x = uniform(0, total);
    for (const k of kinds) {
      if (x < weights[k]) return k;
      x -= weights[k];
    }
    return kinds[kinds.length - 1]!;
  };
  const et = o.electionMs;
  const overlap = o.overlap ?? 0.35;
  const plan: PlannedFault[] = [];
  for (let at = warmup; at < end;) {
    const kind = draw();
    const pick = uniform(0, 1);
    /** A fault of one of two variants, even odds, lasting 1.5–4 election timeouts. */
    const outlasting = (k: FaultKind, a: FaultVariant, b: FaultVariant): PlannedFault => ({
      at,
      kind: k,
      pick,
      variant: uniform(0, 1) < 0.5 ? a : b,
      durationMs: Math.round(uniform(1.5, 4) * et),
    });
    let fault: PlannedFault;
    switch (kind) {
      case 'kill-leader':
      case 'kill-random':
        fault = { at, kind, pick, durationMs: Math.round(uniform(0.5, 3) * et) };
        break;
      case 'kill-majority':
        fault = { at, kind, pick, durationMs: Math.round(uniform(1, 3) * et) };
        break;
      case 'pause':
        fault = outlasting(kind, 'leader', 'random');
        break;
      case 'isolate':
        fault = outlasting(kind, 'drop', 'cut');
        break;
      case 'one-way':
        fault = outlasting(kind, 'deaf', 'mute');
        break;
      case 'bridge': {
        const v = uniform(0, 3);
        fault = {
          at,
          kind,
          pick,
          variant: v < 1 ? 'cut' : v < 2 ? 'drop' : 'one-way',
          durationMs: Math.round(uniform(1.5, 4) * et),
        };
        break;
      }
      case 'latency':
        fault = {
          at,
          kind,
          pick,
          delayMs: Math.round(uniform(0.02, 0.15) * et),
          durationMs: Math.round(uniform(2, 5) * et),
        };
        break;
      case 'nats-restart':
        fault = { at, kind, pick, durationMs: Math.round(uniform(0.3, 2) * et) };
        break;
      case 'pg-restart':
        fault = {
          at,
          kind,
          pick,
          variant: uniform(0, 1) < 0.5 ? 'fast' : 'immediate',
          durationMs: Math.round(uniform(0.3, 2) * et),
        };
        break;
      case 'membership':
        fault = { at, kind, pick, durationMs: Math.round(uniform(3, 6) * et) };
        break;
      case 'transfer':
      case 'snapshot':
        fault = { at, kind, pick, durationMs: 0 };
        break;
    }
    if (at + fault.durationMs > end) break;
    plan.push(fault);
    const overlaps = fault.durationMs > 0 && uniform(0, 1) < overlap;
    at = overlaps
      ? at + Math.round(uniform(0.2, 0.8) * fault.durationMs)
      : at + fault.durationMs + Math.round(uniform(0.5, 2.5) * et);
  }
  return plan;
}

/** A one-line description of a planned fault, for logs and the history file. */
export function describeFault(f: PlannedFault): string {
  const extra = [f.variant, f.delayMs !== undefined ? `${f.delayMs}ms` : undefined].filter(Boolean).join(' ');
  return `${(f.at / 1000).toFixed(1)}s ${f.kind}${extra ? ` (${extra})` : ''} for ${f.durationMs} ms`;
}
