import { createHash } from 'node:crypto';
import { DivergedError, seededRandom, type NodeId } from '@raftline/core';
import { checkLinearizability } from '../linearizability/checker';
import { HistoryRecorder } from '../linearizability/history';
import { kvModel, type KvInput, type KvOutput } from '../linearizability/kv-model';
import { SimCluster } from './cluster';
import type { SimClusterOptions } from './options';
import type { ClusterVerification } from './verify';
import { SafetyViolationError, type SafetyProperty } from './safety';
import {
  ALL_FEATURES,
  FaultScheduler,
  drawSetup,
  randomAction,
  type SeedSetup,
  type SweepFeatures,
} from './schedule';
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
  /**
   * After healing, a read must complete within this much virtual time, and
   * then every member must apply what the leader committed within as much
   * again (default 5000 ms).
   */
  readonly livenessTimeoutMs?: number;
  /** Time budget of the linearizability check, in real ms (default 10 000). An exhausted budget is not a violation. */
  readonly linearizabilityTimeoutMs?: number;
  /**
   * Further cluster options (timeouts, latency, node settings); nodes and
   * seed come from runSeed. snapshotEvery, snapshotTrailing,
   * storageLatencyMs and node.leaseReads given here replace the seed's draw.
   */
  readonly cluster?: Partial<Omit<SimClusterOptions, 'nodes' | 'seed'>>;
  /** Turns parts of the random schedule off (all on by default); see SweepFeatures. */
  readonly features?: Partial<SweepFeatures>;
  /** Membership changes add voters only while fewer than this many (default nodes + 2). */
  readonly maxVoters?: number;
}

/**
 * Every run verifies consistency periodically: the leader proposes a
 * verification marker every this many commands (cluster.node.verifyEveryEntries
 * replaces it; 0 turns it off), and any divergence fails the seed.
 */
export const SWEEP_VERIFY_EVERY = 8;

/** Why a run failed. */
export interface Violation {
  /**
   * safety: check() failed; linearizability: the client history has no
   * linearization; liveness: no progress once healed; divergence: replicas'
   * state digests differ at a verification marker; error: something threw.
   * (A divergence found during the run is a safety violation, 'node health':
   * the replica logs it as an error.)
   */
  readonly kind: 'safety' | 'linearizability' | 'liveness' | 'divergence' | 'error';
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
  /** What the seed drew: snapshot interval, read paths, lease reads, storage latency. */
  readonly setup: SeedSetup;
  /** SHA-256 of every node's applied commands, the traffic counters and the leader history: equal runs, equal digests. */
  readonly digest: string;
  readonly stats: WorkloadStats & {
    readonly virtualMs: number;
    readonly requests: number;
    readonly leaders: number;
    /** Followers a snapshot-lag action left behind the leader's compacted log (each had to install a snapshot). */
    readonly forcedInstalls: number;
    /** Snapshot chunks sent. */
    readonly snapshotChunks: number;
    /**
     * Verification reports the members compared with their own digest
     * (counted on the incarnations running at the end, the final check's included).
     */
    readonly verifications: number;
    /** 'unknown' when its time budget ran out (not a violation). */
    readonly linearizability: 'ok' | 'failed' | 'unknown' | 'skipped';
  };
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
 * crashes and restarts, lossy/slow/duplicating/reordering periods, heals,
 * nodes added and removed — the leader too —, leadership transfers,
 * followers left behind a compacted log to return over lossy links), with
 * a per-seed setup (snapshots every few entries, slow storage, reads through
 * the log, ReadIndex or the lease) while clients run a key-value load.
 * Verification markers every SWEEP_VERIFY_EVERY commands compare the
 * replicas' state digests all along (a divergence is logged as an error,
 * which check() reports).
 * check() runs after every step; at the end the faults are healed, a read
 * must complete (liveness), every member must catch up with the leader and
 * then hold the leader's state (a final verification), and the client
 * history, reads included, must be linearizable (kvModel).
 * @returns the verdict; never throws for a failure of the system under test
 */
export async function runSeed(seed: number, options: RunSeedOptions = {}): Promise<SeedResult> {
  const nodes = options.nodes ?? 3;
  const features = { ...ALL_FEATURES, ...options.features };
  const [stepMin, stepMax] = options.stepMs ?? [20, 300];
  const rng = seededRandom(seed ^ 0x51ed_2701);
  const fixed = options.cluster ?? {};
  const setup = drawSetup(rng.fork(), features, fixed);
  const workload: KvWorkloadOptions = {
    keys: options.keys ?? 3,
    opTimeoutMs: options.opTimeoutMs ?? 2000,
    thinkMs: options.thinkMs ?? 20,
    reads: options.reads ?? setup.reads,
  };
  const events: string[] = [];
  const history = new HistoryRecorder<KvInput, KvOutput>();
  const stats: WorkloadStats = { invoked: 0, completed: 0, unknown: 0 };
  let violation: Violation | undefined;
  let linearizability: SeedResult['stats']['linearizability'] = 'skipped';
  let verifications = 0;
  const c = await SimCluster.create({
    ...fixed,
    nodes,
    seed,
    snapshotEvery: setup.snapshotEvery,
    snapshotTrailing: setup.snapshotTrailing,
    storageLatencyMs: setup.storageLatencyMs,
    node: { verifyEveryEntries: SWEEP_VERIFY_EVERY, ...fixed.node, leaseReads: setup.leaseReads },
  });
  const faults = new FaultScheduler(c, rng, events, options.maxVoters ?? nodes + 2, setup);
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
      const action = randomAction(rng, features);
      events.push(`${c.now()} ms: ${await faults.apply(action)}`);
      // A cut-off leader stays cut off long enough for the rest to elect a leader and commit.
      const hold = action === 'isolate-leader' ? 300 + rng.nextInt(400) : 0;
      await c.advance(hold + stepMin + rng.nextInt(stepMax - stepMin + 1));
      c.check();
      if (faults.failure !== undefined) violation ??= violationOf(faults.failure);
    }
    events.push(`${c.now()} ms: heal, reliable, restart all`);
    c.heal();
    c.setUnreliable(false);
    await faults.settle();
    for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
    stopping = true;
    await Promise.all(loops);
    if (faults.failure !== undefined) violation ??= violationOf(faults.failure);
    c.check();
    if (!violation) violation = await checkLiveness(c, history, options.livenessTimeoutMs ?? 5000);
    if (!violation) violation = await checkCatchUp(c, options.livenessTimeoutMs ?? 5000);
    if (!violation) violation = await checkSameState(c, options.livenessTimeoutMs ?? 5000);
    verifications = c.runningIds().reduce((n, id) => n + c.status(id).verification.compared, 0);
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
    setup,
    digest,
    stats: {
      ...stats,
      virtualMs: c.now(),
      requests: c.rpcCount(),
      leaders: c.leaderHistory().size,
      forcedInstalls: faults.forcedInstalls,
      snapshotChunks: c.networkStats().byType['snapshot-chunk'].count,
      verifications,
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

/**
 * Once healed, no member may stay behind: every member applies the leader's
 * commit index (as of the check) within timeoutMs. A read needs only a
 * quorum, so this is what catches a follower left behind for good (after a
 * snapshot install whose acknowledgement was lost, say).
 */
async function checkCatchUp(c: SimCluster, timeoutMs: number): Promise<Violation | undefined> {
  const leader = c.leader(c.ids);
  if (leader === undefined) return { kind: 'liveness', message: 'no leader after the liveness read' };
  const target = c.status(leader).commitIndex;
  const behind = (): NodeId[] => c.ids.filter((id) => c.status(id).appliedIndex < target);
  for (let waited = 0; waited < timeoutMs && behind().length > 0; waited += 10) await c.advance(10);
  const late = behind();
  if (late.length === 0) return undefined;
  const where = late.map((id) => `${id} applied ${c.status(id).appliedIndex}`).join(', ');
  return {
    kind: 'liveness',
    message: `members stayed behind the leader's commit index ${target} for ${timeoutMs} ms after healing: ${where}`,
  };
}

/**
 * Once caught up, every member must hold the same state: a final
 * verification, whose marker every member digests and compares with the
 * leader's, must find no member diverged, none behind, and every digest equal.
 */
async function checkSameState(c: SimCluster, timeoutMs: number): Promise<Violation | undefined> {
  let v: ClusterVerification;
  try {
    v = await c.verify({ timeoutMs });
  } catch (err) {
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const kind = err instanceof DivergedError ? 'divergence' : 'liveness';
    return { kind, message: `the final verification failed: ${why}` };
  }
  const differing = Object.entries(v.digests).filter(([, d]) => d !== v.digest);
  if (v.diverged.length === 0 && v.behind.length === 0 && differing.length === 0) return undefined;
  const where = differing.map(([id, d]) => `${id} ${d ?? 'unknown'}`).join(', ');
  return {
    kind: 'divergence',
    message:
      `at verification marker ${v.index} the leader ${v.leader} digested ${v.digest}; ` +
      `diverged: [${v.diverged.join(', ')}], behind: [${v.behind.join(', ')}], others: ${where || 'none'}`,
  };
}

/** A fingerprint of a run: what each node applied, what the network carried, who led which term. */
export function digestOf(c: SimCluster): string {
  const applied = c.ids.map((id) => [id, [...c.applied(id)].sort(([a], [b]) => a - b)]);
  const state = { now: c.now(), applied, network: c.networkStats(), leaders: [...c.leaderHistory()] };
  return createHash('sha256').update(JSON.stringify(state)).digest('hex');
}
