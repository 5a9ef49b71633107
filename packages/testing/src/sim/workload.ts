import { NodeStoppedError, ReadNotConfirmedError } from '@raftline/core';
import type { HistoryRecorder } from '../linearizability/history';
import type { KvInput, KvOutput } from '../linearizability/kv-model';
import { isUnknownOutcome, type SimCommand } from './client';
import type { SimCluster } from './cluster';

/** A seeded source of integers (core's seededRandom satisfies it). */
export interface WorkloadRandom {
  nextInt(maxExclusive: number): number;
}

/**
 * How a client's get is served: 'log' runs the get command through the log;
 * 'linearizable' and 'lease' run the read query with that consistency
 * (ReadIndex, or the leader lease when the nodes have leaseReads on).
 */
export type ReadPath = 'log' | 'linearizable' | 'lease';

/** How the key-value clients of a sweep behave. */
export interface KvWorkloadOptions {
  /** Each get picks one of these paths at random (default ['log']). */
  readonly reads: readonly ReadPath[];
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
  /** Ops whose outcome stayed unknown, and reads never confirmed; they stay pending in the history. */
  unknown: number;
}

/** Whether err means a query read nothing (it may be retried, and is left pending in a history). */
function isUnconfirmedRead(err: unknown): boolean {
  return err instanceof ReadNotConfirmedError || err instanceof NodeStoppedError;
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
 * One client's loop: random put/get/append/cas ops on a few keys (gets by
 * the paths in options.reads) until
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
    if (cluster.stopped) return; // the cluster stopped under the client, as at the end of a failed test
    await cluster.sleep(rng.nextInt(options.thinkMs));
    if (stopping() || cluster.stopped) return;
    const input = randomInput(rng, options.keys, `${name}.${n}`, seen);
    const handle = history.invoke(name, input, cluster.now());
    stats.invoked++;
    const path = input.op === 'get' ? (options.reads[rng.nextInt(options.reads.length)] ?? 'log') : 'log';
    try {
      const timeoutMs = options.opTimeoutMs;
      const output = (
        path === 'log'
          ? await client.propose(kvCommand(input), { timeoutMs })
          : await client.query('read', [input.key], { consistency: path, timeoutMs })
      ) as KvOutput;
      history.complete(handle, output, cluster.now());
      stats.completed++;
      if (input.op === 'put' || (input.op === 'cas' && output === true)) seen.set(input.key, input.value);
      else if (input.op !== 'cas' && typeof output !== 'boolean') seen.set(input.key, output);
    } catch (err) {
      if (!isUnknownOutcome(err) && !(path !== 'log' && isUnconfirmedRead(err))) throw err;
      stats.unknown++;
    }
  }
}
