import type { HistoryRecorder } from '../linearizability/history';
import type { KvInput, KvOutput } from '../linearizability/kv-model';
import { isUnknownOutcome, type SimCommand } from './client';
import type { SimCluster } from './cluster';

/** A seeded source of integers (core's seededRandom satisfies it). */
export interface WorkloadRandom {
  nextInt(maxExclusive: number): number;
}

/** How the key-value clients of a sweep behave. */
export interface KvWorkloadOptions {
  /** Number of keys, k0 … (default 3): few keys, many conflicts. */
  readonly keys: number;
  /** Give up on one op after this much virtual time, leaving it pending (default 2000). */
  readonly opTimeoutMs: number;
  /** Pause between a client's ops: uniform in [0, thinkMs) virtual ms (default 20). */
  readonly thinkMs: number;
}

/** Counters shared by the clients of one run. */
export interface WorkloadStats {
  invoked: number;
  completed: number;
  /** Ops whose outcome stayed unknown; they stay pending in the history. */
  unknown: number;
}

/** The state-machine command for a kvModel input. */
export function kvCommand(input: KvInput): SimCommand {
  switch (input.op) {
    case 'get':
      return { name: 'get', args: [input.key] };
    case 'put':
    case 'append':
      return { name: input.op, args: [input.key, input.value] };
    case 'cas':
      return { name: 'cas', args: [input.key, input.expected, input.value] };
  }
}

function randomInput(
  rng: WorkloadRandom,
  keys: number,
  tag: string,
  seen: Map<string, string | null>,
): KvInput {
  const key = `k${rng.nextInt(keys)}`;
  const roll = rng.nextInt(100);
  if (roll < 30) return { op: 'get', key };
  if (roll < 55) return { op: 'put', key, value: tag };
  if (roll < 85) return { op: 'append', key, value: `[${tag}]` };
  return { op: 'cas', key, expected: seen.get(key) ?? null, value: tag };
}

/**
 * One client's loop: random put/get/append/cas ops on a few keys until
 * `stopping()` holds, each recorded in `history` with its virtual invoke and
 * return times. An op whose outcome stays unknown is left pending there, and
 * the client goes on (under a new session, see SimClient).
 * @throws what a client call throws other than an unknown outcome (a definite
 *   failure is a bug for this state machine)
 */
export async function kvClientLoop(
  cluster: SimCluster,
  name: string,
  rng: WorkloadRandom,
  history: HistoryRecorder<KvInput, KvOutput>,
  options: KvWorkloadOptions,
  stats: WorkloadStats,
  stopping: () => boolean,
): Promise<void> {
  const client = cluster.client(name);
  const seen = new Map<string, string | null>();
  for (let n = 0; ; n++) {
    await cluster.sleep(rng.nextInt(options.thinkMs));
    if (stopping() || cluster.stopped) return;
    const input = randomInput(rng, options.keys, `${name}.${n}`, seen);
    const handle = history.invoke(name, input, cluster.now());
    stats.invoked++;
    try {
      const output = (await client.propose(kvCommand(input), { timeoutMs: options.opTimeoutMs })) as KvOutput;
      history.complete(handle, output, cluster.now());
      stats.completed++;
      if (input.op === 'put' || (input.op === 'cas' && output === true)) seen.set(input.key, input.value);
      else if (input.op !== 'cas' && typeof output !== 'boolean') seen.set(input.key, output);
    } catch (err) {
      if (!isUnknownOutcome(err)) throw err;
      stats.unknown++;
    }
  }
}
