import { createHash } from 'node:crypto';
import { seededRandom, type NodeId } from '@raftline/core';
import { checkLinearizability } from '../linearizability/checker';
import { HistoryRecorder } from '../linearizability/history';
import { kvModel, type KvInput, type KvOutput } from '../linearizability/kv-model';
import { SimCluster } from './cluster';
import type { SimClusterOptions } from './options';
import { SafetyViolationError, type SafetyProperty } from './safety';
import { kvClientLoop, kvCommand, type KvWorkloadOptions, type WorkloadStats } from './workload';

/** Settings of one simulated run; every field has a default. */
export interface RunSeedOptions extends Partial<KvWorkloadOptions> {
  /** Cluster size (default 3). */
  readonly nodes?: number;
  /** Virtual time of the faulty phase (default 4000 ms). */
  readonly durationMs?: number;
  /** Concurrent clients (default 3). */
  readonly clients?: number;
  /** Time between fault actions: uniform in [min, max] virtual ms (default [20, 300]). */
  readonly stepMs?: readonly [number, number];
  /** After healing, a read must complete within this much virtual time (default 5000 ms). */
  readonly livenessTimeoutMs?: number;
  /** Time budget of the linearizability check, in real ms (default 10 000). An exhausted budget is not a violation. */
  readonly linearizabilityTimeoutMs?: number;
  /** Further cluster options (timeouts, latency, node settings); nodes and seed come from runSeed. */
  readonly cluster?: Partial<Omit<SimClusterOptions, 'nodes' | 'seed'>>;
}

/** Why a run failed. */
export interface Violation {
  /** safety: check() failed; linearizability: the client history has no linearization; liveness: no progress once healed; error: something threw. */
  readonly kind: 'safety' | 'linearizability' | 'liveness' | 'error';
  /** For kind 'safety': the property violated. */
  readonly property?: SafetyProperty;
  readonly message: string;
}

/** The outcome of runSeed. */
export interface SeedResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly nodes: number;
  readonly violation?: Violation;
  /** What happened, one line per fault action, with virtual times. */
  readonly events: readonly string[];
  /** SHA-256 of every node's applied commands, the traffic counters and the leader history: equal runs, equal digests. */
  readonly digest: string;
  readonly stats: WorkloadStats & {
    readonly virtualMs: number;
    readonly requests: number;
    readonly leaders: number;
    /** 'unknown' when its time budget ran out (not a violation). */
    readonly linearizability: 'ok' | 'failed' | 'unknown' | 'skipped';
  };
}

type Rng = ReturnType<typeof seededRandom>;

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
  ['disconnect', 2],
  ['connect', 1],
  ['heal', 2],
  ['crash', 1.5],
  ['crash-leader', 1],
  ['restart', 2],
  ['crash-all', 0.3],
  ['unreliable', 1],
  ['reliable', 1],
  ['nothing', 3],
] as const;
type Action = (typeof ACTIONS)[number][0];
const TOTAL_WEIGHT = ACTIONS.reduce((n, [, w]) => n + w, 0);

function randomAction(rng: Rng): Action {
  let x = rng.nextFloat() * TOTAL_WEIGHT;
  for (const [action, weight] of ACTIONS) {
    x -= weight;
    if (x < 0) return action;
  }
  return 'nothing';
}

/**
 * Applies one fault action to the cluster. At most a minority is crashed at
 * a time, except for crash-all (every node crashes and restarts at once).
 * @returns a description of what was done
 */
async function applyFault(c: SimCluster, rng: Rng, action: Action): Promise<string> {
  const running = c.runningIds();
  const down = c.ids.filter((id) => !c.isRunning(id));
  const minority = Math.floor((c.ids.length - 1) / 2);
  switch (action) {
    case 'partition': {
      if (c.ids.length < 2) return 'nothing';
      const [a, b] = randomSplit(rng, c.ids);
      c.partition(a, b);
      return `partition ${a.join(',')} | ${b.join(',')}`;
    }
    case 'disconnect':
    case 'connect': {
      const id = pickOne(rng, c.ids)!;
      if (action === 'disconnect') c.disconnect(id);
      else c.connect(id);
      return `${action} ${id}`;
    }
    case 'heal':
      c.heal();
      return 'heal';
    case 'crash':
    case 'crash-leader': {
      const id = action === 'crash-leader' ? c.leader() : pickOne(rng, running);
      if (id === undefined || down.length >= minority) return `${action}: skipped`;
      c.crash(id);
      return `crash ${id}`;
    }
    case 'restart': {
      const id = pickOne(rng, down);
      if (id === undefined) return 'restart: none down';
      await c.restart(id);
      return `restart ${id}`;
    }
    case 'crash-all':
      for (const id of running) c.crash(id);
      for (const id of c.ids) await c.restart(id);
      return 'crash-all and restart';
    case 'unreliable': {
      const settings = {
        dropRate: rng.nextInt(21) / 100,
        delayMs: [0, rng.nextInt(40)] as const,
        duplicateRate: rng.nextInt(11) / 100,
        reorder: rng.nextInt(2) === 1,
      };
      c.setUnreliable(settings);
      return `unreliable ${JSON.stringify(settings)}`;
    }
    case 'reliable':
      c.setUnreliable(false);
      return 'reliable';
    case 'nothing':
      return 'nothing';
  }
}

function violationOf(err: unknown): Violation {
  if (err instanceof SafetyViolationError)
    return { kind: 'safety', property: err.property, message: err.message };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'error', message };
}

/**
 * One simulated run, a pure function of (seed, options): a cluster under a
 * random fault schedule derived from the seed (partitions, disconnections,
 * crashes and restarts, lossy/slow/duplicating/reordering periods, heals)
 * while clients run a key-value load. check() runs after every step; at the
 * end the faults are healed, a read must complete (liveness), and the client
 * history must be linearizable (kvModel).
 * @returns the verdict; never throws for a failure of the system under test
 */
export async function runSeed(seed: number, options: RunSeedOptions = {}): Promise<SeedResult> {
  const nodes = options.nodes ?? 3;
  const workload: KvWorkloadOptions = {
    keys: options.keys ?? 3,
    opTimeoutMs: options.opTimeoutMs ?? 2000,
    thinkMs: options.thinkMs ?? 20,
  };
  const [stepMin, stepMax] = options.stepMs ?? [20, 300];
  const rng = seededRandom(seed ^ 0x51ed_2701);
  const events: string[] = [];
  const history = new HistoryRecorder<KvInput, KvOutput>();
  const stats: WorkloadStats = { invoked: 0, completed: 0, unknown: 0 };
  let violation: Violation | undefined;
  let linearizability: SeedResult['stats']['linearizability'] = 'skipped';
  const c = await SimCluster.create({ ...options.cluster, nodes, seed });
  let stopping = false;
  const loops = Array.from({ length: options.clients ?? 3 }, (_, k) =>
    kvClientLoop(c, `c${k + 1}`, rng.fork(), history, workload, stats, () => stopping).catch(
      (err: unknown) => {
        violation ??= violationOf(err);
      },
    ),
  );
  try {
    while (c.now() < (options.durationMs ?? 4000) && !violation) {
      const action = randomAction(rng);
      events.push(`${c.now()} ms: ${await applyFault(c, rng, action)}`);
      await c.advance(stepMin + rng.nextInt(stepMax - stepMin + 1));
      c.check();
    }
    events.push(`${c.now()} ms: heal, reliable, restart all`);
    c.heal();
    c.setUnreliable(false);
    for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
    stopping = true;
    await Promise.all(loops);
    c.check();
    if (!violation) violation = await checkLiveness(c, history, options.livenessTimeoutMs ?? 5000);
    c.check();
    if (!violation) {
      const result = checkLinearizability(history.history(), kvModel, {
        timeoutMs: options.linearizabilityTimeoutMs ?? 10_000,
      });
      linearizability = result.ok === true ? 'ok' : result.ok === false ? 'failed' : 'unknown';
      if (result.ok === false) violation = { kind: 'linearizability', message: result.explanation };
    }
  } catch (err) {
    violation ??= violationOf(err);
  } finally {
    stopping = true;
    await c.stop();
  }
  const digest = digestOf(c);
  return {
    ok: violation === undefined,
    seed,
    nodes,
    ...(violation ? { violation } : {}),
    events,
    digest,
    stats: {
      ...stats,
      virtualMs: c.now(),
      requests: c.rpcCount(),
      leaders: c.leaderHistory().size,
      linearizability,
    },
  };
}

/** Once healed, a read must complete; it is recorded in the history like any op. */
async function checkLiveness(
  c: SimCluster,
  history: HistoryRecorder<KvInput, KvOutput>,
  timeoutMs: number,
): Promise<Violation | undefined> {
  const input: KvInput = { op: 'get', key: 'k0' };
  const handle = history.invoke('final', input, c.now());
  try {
    const out = (await c.client('final').propose(kvCommand(input), { timeoutMs })) as KvOutput;
    history.complete(handle, out, c.now());
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      kind: 'liveness',
      message: `no read completed within ${timeoutMs} ms after healing every fault: ${why}`,
    };
  }
}

/** A fingerprint of a run: what each node applied, what the network carried, who led which term. */
export function digestOf(c: SimCluster): string {
  const applied = c.ids.map((id) => [id, [...c.applied(id)].sort(([a], [b]) => a - b)]);
  const state = { now: c.now(), applied, network: c.networkStats(), leaders: [...c.leaderHistory()] };
  return createHash('sha256').update(JSON.stringify(state)).digest('hex');
}
