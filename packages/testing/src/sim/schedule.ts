/**
 * The random schedule of a seed sweep: the per-seed setup (snapshots, read
 * paths, slow storage) and the actions taken during the faulty phase —
 * network faults, crashes, membership changes and leadership transfers.
 */
import {
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  ProposalTimeoutError,
  RaftlineError,
  type NodeId,
} from '@raftline/core';
import type { SimCluster } from './cluster';
import type { UnreliableSettings } from './network';
import type { SimClusterOptions } from './options';
import type { ReadPath } from './workload';

/** Seeded randomness (core's seededRandom satisfies it). */
export interface Rng {
  nextInt(maxExclusive: number): number;
  nextFloat(): number;
}

/** Which kinds of randomness a sweep adds on top of network faults and crashes; all on by default. */
export interface SweepFeatures {
  /**
   * Some seeds snapshot every few entries (5 … 60) and compact their logs;
   * in those, now and then a follower is cut off or crashed until the leader
   * has compacted past it, then returns over unreliable links, so that it
   * must install a snapshot while messages are lost (snapshot-lag).
   */
  readonly snapshots: boolean;
  /** Nodes are added and removed (the leader too) while the faults run. */
  readonly membership: boolean;
  /** Leadership is transferred now and then. */
  readonly transfers: boolean;
  /** Clients' gets go through linearizable and lease reads as well as through the log. */
  readonly reads: boolean;
  /** Some seeds write slowly (storageLatencyMs), so crashes interrupt writes. */
  readonly slowStorage: boolean;
}

export const ALL_FEATURES: SweepFeatures = {
  snapshots: true,
  membership: true,
  transfers: true,
  reads: true,
  slowStorage: true,
};

/** What one seed runs with, drawn from the seed. */
export interface SeedSetup {
  readonly snapshotEvery: number;
  readonly snapshotTrailing: number;
  readonly reads: readonly ReadPath[];
  readonly leaseReads: boolean;
  readonly storageLatencyMs: readonly [number, number];
}

const READ_MIXES: readonly (readonly ReadPath[])[] = [
  ['log'],
  ['log', 'linearizable'],
  ['log', 'lease'],
  ['linearizable', 'lease'],
  ['log', 'linearizable', 'lease'],
];

/** Draws the setup of one seed; `fixed` (the caller's cluster options) wins over the draw. */
export function drawSetup(rng: Rng, features: SweepFeatures, fixed: Partial<SimClusterOptions>): SeedSetup {
  const snap = features.snapshots && rng.nextInt(10) < 6;
  const snapshotEvery = fixed.snapshotEvery ?? (snap ? 5 + rng.nextInt(56) : 0);
  const snapshotTrailing = fixed.snapshotTrailing ?? (snap ? rng.nextInt(snapshotEvery + 1) : 0);
  const reads = features.reads ? READ_MIXES[rng.nextInt(READ_MIXES.length)]! : READ_MIXES[0]!;
  const leaseReads = fixed.node?.leaseReads ?? (reads.includes('lease') && rng.nextInt(4) > 0);
  const slow = features.slowStorage && rng.nextInt(5) === 0;
  const storageLatencyMs =
    fixed.storageLatencyMs ?? (slow ? ([0, 1 + rng.nextInt(15)] as const) : ([0, 0] as const));
  return { snapshotEvery, snapshotTrailing, reads, leaseReads, storageLatencyMs };
}

function pickOne<T>(rng: Rng, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[rng.nextInt(items.length)];
}

/** A random split of ids into two non-empty groups (ids.length ≥ 2). */
function randomSplit(rng: Rng, ids: readonly NodeId[]): [NodeId[], NodeId[]] {
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const cut = 1 + rng.nextInt(ids.length - 1);
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}

const ACTIONS = [
  ['partition', 2],
  ['isolate-leader', 3],
  ['disconnect', 2],
  ['connect', 1],
  ['heal', 2],
  ['crash', 1.5],
  ['crash-leader', 1],
  ['restart', 2],
  ['crash-all', 0.3],
  ['unreliable', 1],
  ['reliable', 1],
  ['add-node', 0.8],
  ['remove-node', 0.5],
  ['remove-leader', 0.3],
  ['retire', 0.3],
  ['transfer', 0.6],
  ['snapshot-lag', 1],
  ['nothing', 3],
] as const;
export type Action = (typeof ACTIONS)[number][0];

const MEMBERSHIP_ACTIONS: ReadonlySet<Action> = new Set([
  'add-node',
  'remove-node',
  'remove-leader',
  'retire',
]);

/** Draws the next action among those the features allow. */
export function randomAction(rng: Rng, features: SweepFeatures): Action {
  const allowed = ACTIONS.filter(
    ([a]) =>
      (features.membership || !MEMBERSHIP_ACTIONS.has(a)) &&
      (features.transfers || a !== 'transfer') &&
      (features.snapshots || a !== 'snapshot-lag'),
  );
  const total = allowed.reduce((n, [, w]) => n + w, 0);
  let x = rng.nextFloat() * total;
  for (const [action, weight] of allowed) {
    x -= weight;
    if (x < 0) return action;
  }
  return 'nothing';
}

/** Loss, delay, duplication and reordering drawn for one unreliable period. */
function randomUnreliable(rng: Rng): UnreliableSettings {
  return {
    dropRate: rng.nextInt(21) / 100,
    delayMs: [0, rng.nextInt(40)] as const,
    duplicateRate: rng.nextInt(11) / 100,
    reorder: rng.nextInt(2) === 1,
  };
}

/** Entries a snapshot-lag action proposes so that the leader's log moves well past the lagging follower. */
const LAG_FILLER_KEY = 'snapshot-lag-filler';
/** How long (virtual ms) a snapshot-lag action waits for the leader to compact past the follower. */
const LAG_WAIT_MS = 1000;

/** Failures a membership change or transfer may end in under faults: none of them is a bug. */
function expectedAdminFailure(err: unknown): boolean {
  return (
    err instanceof ProposalTimeoutError ||
    err instanceof LeadershipTransferError ||
    err instanceof NodeStoppedError ||
    err instanceof MembershipChangeError ||
    // transferLeadership with no other voter to take over
    (err instanceof RaftlineError && /not another voter/.test(err.message))
  );
}

/**
 * Drives a seed's fault actions against a cluster. Membership changes and
 * transfers run in the background, one at a time, while faults go on.
 */
export class FaultScheduler {
  private admin: Promise<void> | undefined;
  private nextId: number;
  /** A background operation failed unexpectedly. */
  failure: unknown;

  constructor(
    private readonly c: SimCluster,
    private readonly rng: Rng,
    private readonly events: string[],
    /** Voters are added only while fewer than this many. */
    private readonly maxVoters: number,
    /** The seed's snapshot settings (snapshot-lag does nothing without snapshots). */
    private readonly snapshots: Pick<SeedSetup, 'snapshotEvery' | 'snapshotTrailing'> = {
      snapshotEvery: 0,
      snapshotTrailing: 0,
    },
  ) {
    this.nextId = c.allIds.length + 1;
  }

  /** snapshot-lag actions whose follower the leader compacted past before it returned. */
  forcedInstalls = 0;

  /** Waits for the background operation, if any. */
  async settle(): Promise<void> {
    await this.admin;
  }

  /**
   * Applies one action. At most a minority of the voters is crashed at a
   * time, except for crash-all (every member crashes and restarts at once);
   * voters are removed only while more than three remain, but for one in
   * ten removals, which may leave two.
   * @returns a description of what was done
   */
  async apply(action: Action): Promise<string> {
    const { c, rng } = this;
    const ids = c.ids;
    const voters = c.members().voters;
    const running = c.runningIds();
    const votersDown = voters.filter((id) => !c.isRunning(id));
    const minority = Math.floor((voters.length - 1) / 2);
    switch (action) {
      case 'partition': {
        if (ids.length < 2) return 'nothing';
        const [a, b] = randomSplit(rng, ids);
        c.partition(a, b);
        return `partition ${a.join(',')} | ${b.join(',')}`;
      }
      case 'isolate-leader': {
        // The moment stale reads and lost writes need: a leader that does not yet know it was deposed.
        const leader = c.leader(ids);
        if (leader === undefined || ids.length < 3) return 'isolate-leader: no leader';
        const minority = [
          leader,
          ...(rng.nextInt(2) === 0 && ids.length >= 5
            ? [
                pickOne(
                  rng,
                  ids.filter((x) => x !== leader),
                )!,
              ]
            : []),
        ];
        c.partition(
          minority,
          ids.filter((x) => !minority.includes(x)),
        );
        return `partition ${minority.join(',')} | the rest (leader cut off)`;
      }
      case 'disconnect':
      case 'connect': {
        const id = pickOne(rng, ids)!;
        if (action === 'disconnect') c.disconnect(id);
        else c.connect(id);
        return `${action} ${id}`;
      }
      case 'heal':
        c.heal();
        return 'heal';
      case 'crash':
      case 'crash-leader': {
        const id = action === 'crash-leader' ? c.leader(ids) : pickOne(rng, running);
        if (id === undefined || (voters.includes(id) && votersDown.length >= minority))
          return `${action}: skipped`;
        c.crash(id);
        return `crash ${id}`;
      }
      case 'restart': {
        const id = pickOne(
          rng,
          ids.filter((x) => !c.isRunning(x)),
        );
        if (id === undefined) return 'restart: none down';
        await c.restart(id);
        return `restart ${id}`;
      }
      case 'crash-all':
        for (const id of running) c.crash(id);
        for (const id of ids) await c.restart(id);
        return 'crash-all and restart';
      case 'unreliable': {
        const settings = randomUnreliable(rng);
        c.setUnreliable(settings);
        return `unreliable ${JSON.stringify(settings)}`;
      }
      case 'reliable':
        c.setUnreliable(false);
        return 'reliable';
      case 'add-node': {
        if (voters.length >= this.maxVoters) return 'add-node: enough voters';
        const id = `n${this.nextId++}`;
        return this.background(`add-node ${id}`, () => c.addNode(id, { timeoutMs: 3000 }));
      }
      case 'remove-node':
      case 'remove-leader': {
        const leader = c.leader(ids);
        const id =
          action === 'remove-leader'
            ? leader
            : pickOne(
                rng,
                ids.filter((x) => x !== leader),
              );
        if (id === undefined) return `${action}: none`;
        const isVoter = voters.includes(id);
        if (isVoter && (voters.length < 3 || (voters.length === 3 && rng.nextInt(10) > 0)))
          return `${action}: keeping ${voters.length} voters`;
        return this.background(`remove ${id}`, () => c.removeNode(id, { timeoutMs: 3000 }));
      }
      case 'retire': {
        const id = pickOne(
          rng,
          c.allIds.filter((x) => !ids.includes(x) && c.isRunning(x)),
        );
        if (id === undefined) return 'retire: none';
        c.crash(id);
        return `retire ${id} (crash a non-member)`;
      }
      case 'transfer': {
        const to = rng.nextInt(2) === 0 ? pickOne(rng, voters) : undefined;
        return this.background(`transfer to ${to ?? 'any'}`, () =>
          c.transferLeadership(to, { timeoutMs: 3000 }),
        );
      }
      case 'snapshot-lag':
        return this.snapshotLag(votersDown.length < minority);
      case 'nothing':
        return 'nothing';
    }
  }

  /**
   * Cuts off or crashes a follower, has the leader write and compact past it
   * (bounded wait), and brings it back over unreliable links: it must
   * install a snapshot while messages are lost. The writes go to a key the
   * clients never touch (they are not part of the checked history).
   */
  private async snapshotLag(mayCrashVoter: boolean): Promise<string> {
    const { c, rng } = this;
    const { snapshotEvery, snapshotTrailing } = this.snapshots;
    const leader = c.leader(c.ids);
    const voters = c.members().voters;
    const id = pickOne(
      rng,
      c.runningIds().filter((x) => x !== leader),
    );
    if (snapshotEvery === 0 || leader === undefined || id === undefined) return 'snapshot-lag: skipped';
    const crash = rng.nextInt(2) === 0 && (mayCrashVoter || !voters.includes(id));
    const behind = c.status(id).lastIndex;
    if (crash) c.crash(id);
    else c.disconnect(id);
    const settings = randomUnreliable(rng);
    c.setUnreliable(settings);
    for (let k = 0; k < snapshotEvery + snapshotTrailing + 5; k++) {
      c.submit(leader, { name: 'put', args: [LAG_FILLER_KEY, String(k)] });
    }
    const compactedPast = (): boolean => {
      const now = c.leader(c.ids);
      return now !== undefined && c.status(now).snapshotIndex - snapshotTrailing > behind;
    };
    for (let waited = 0; waited < LAG_WAIT_MS && !compactedPast(); waited += 20) await c.advance(20);
    const past = compactedPast();
    if (past) this.forcedInstalls++;
    if (crash) await c.restart(id);
    else c.connect(id);
    const how = crash ? 'crashed' : 'cut off';
    const outcome = past ? 'the leader compacted past it' : 'the leader did not compact past it in time';
    return `snapshot-lag ${id} (${how} at index ${behind}; ${outcome}) back under unreliable ${JSON.stringify(settings)}`;
  }

  /** Starts op in the background unless one already runs; its outcome joins the event log. */
  private background(what: string, op: () => Promise<unknown>): string {
    if (this.admin) return `${what}: skipped, another change runs`;
    this.admin = op()
      .then(
        (out) => void this.events.push(`${this.c.now()} ms: ${what} done: ${describe(out)}`),
        (err: unknown) => {
          if (!expectedAdminFailure(err)) this.failure ??= err;
          this.events.push(
            `${this.c.now()} ms: ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        },
      )
      .finally(() => {
        this.admin = undefined;
      });
    return `${what}: started`;
  }
}

function describe(out: unknown): string {
  if (typeof out === 'string') return out;
  const m = out as { voters?: readonly string[]; learners?: readonly string[] };
  return `voters ${m.voters?.join(',') ?? '?'}${m.learners?.length ? ` learners ${m.learners.join(',')}` : ''}`;
}
