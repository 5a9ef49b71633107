// The default target: the registers of machines/kv.ts, checked with
// @raftline/testing's kvModel. A few keys, every write a fresh value, CAS
// expecting what the client last saw, reads at every consistency.
import { join } from 'node:path';
import type { RandomSource, ReadConsistency } from '@raftline/core';
import { kvModel, type KvInput, type KvOutput, type KvState, type Operation } from '@raftline/testing';
import type { Invocation, RobustnessTarget } from './target';

/** How the kv workload mixes its operations (fractions of all operations). */
export interface KvMix {
  readonly keys: number;
  readonly put: number;
  readonly cas: number;
  /** The rest are reads, split over these consistencies by weight. */
  readonly reads: Readonly<Record<ReadConsistency, number>>;
}

export const DEFAULT_KV_MIX: KvMix = {
  keys: 4,
  put: 0.3,
  cas: 0.25,
  reads: { linearizable: 2, lease: 1, stale: 1 },
};

/** Draws a consistency by weight. */
function consistencyOf(rng: RandomSource, reads: KvMix['reads']): ReadConsistency {
  const entries = Object.entries(reads) as [ReadConsistency, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = rng.nextInt(1_000_000) / (1_000_000 / total);
  for (const [c, w] of entries) {
    if (x < w) return c;
    x -= w;
  }
  return 'linearizable';
}

/** The kv target (a new one per run: it keeps what each client saw). */
export function kvTarget(mix: KvMix = DEFAULT_KV_MIX): RobustnessTarget<KvState, KvInput, KvOutput> {
  const seen = new Map<string, string | null>(); // `${client}/${key}` → the value the client last saw
  return {
    name: 'kv',
    machine: join(__dirname, '../machines/kv.ts'),
    model: kvModel,
    runsQuery: 'runs',
    next(rng, client, n): Invocation<KvInput> {
      const key = `k${rng.nextInt(mix.keys)}`;
      const value = `c${client}.${n}`;
      const r = rng.nextInt(1000) / 1000;
      if (r < mix.put) {
        return {
          input: { op: 'put', key, value },
          kind: 'command',
          name: 'put',
          args: [key, value],
          writeId: value,
        };
      }
      if (r < mix.put + mix.cas) {
        const expected = seen.get(`${client}/${key}`) ?? null;
        return {
          input: { op: 'cas', key, expected, value },
          kind: 'command',
          name: 'cas',
          args: [key, expected, value],
          writeId: value,
        };
      }
      const consistency = consistencyOf(rng, mix.reads);
      return { input: { op: 'get', key }, kind: 'query', name: 'get', args: [key], consistency };
    },
    output(inv, value): KvOutput {
      if (inv.input.op === 'cas') return value === true;
      if (inv.input.op === 'put') return null;
      return typeof value === 'string' ? value : null;
    },
    observe(client, inv, output) {
      const at = `${client}/${inv.input.key}`;
      if (inv.input.op === 'get') seen.set(at, output as string | null);
      else if (inv.input.op === 'put' || output === true)
        seen.set(at, (inv.input as { value: string }).value);
    },
    checkUnordered: staleReadProblems,
  };
}

/**
 * A stale read may be old, never invented: it returns null or a value that a
 * put or CAS of that key, called before the read returned, wrote.
 * @returns one line per read that returned a value no such write could have made
 */
export function staleReadProblems(
  history: readonly Operation<KvInput, KvOutput>[],
  unordered: readonly Operation<KvInput, KvOutput>[],
): string[] {
  const writtenAt = new Map<string, number>(); // `${key}=${value}` → the earliest call of a write of it
  for (const op of history) {
    if (op.input.op !== 'put' && op.input.op !== 'cas') continue;
    if (op.input.op === 'cas' && op.output === false) continue; // it wrote nothing
    const k = `${op.input.key}=${op.input.value}`;
    writtenAt.set(k, Math.min(writtenAt.get(k) ?? Infinity, op.call));
  }
  const problems: string[] = [];
  for (const op of unordered) {
    if (op.input.op !== 'get' || op.return === undefined || op.output === null) continue;
    const at = writtenAt.get(`${op.input.key}=${String(op.output)}`);
    if (at === undefined || at > op.return) {
      problems.push(
        `stale get(${op.input.key}) by client ${op.clientId} at ${op.call.toFixed(1)} returned ${JSON.stringify(op.output)}, which no write had been asked to make by then`,
      );
    }
  }
  return problems;
}
