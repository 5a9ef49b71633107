// Helpers shared by the SimCluster scenario tests.
import type { NodeId } from '@raftline/core';
import { checkLinearizability, kvModel, type KvInput, type KvOutput, type Operation } from '../../src/index';
import { SimCluster, type KvMachine, type SimClusterOptions } from '../../src/index';

let running: SimCluster[] = [];

/** SimCluster.create, and the cluster is stopped after the test, whatever happens (its clients then end). */
export async function cluster(options: SimClusterOptions): Promise<SimCluster> {
  const c = await SimCluster.create(options);
  running.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(running.map((c) => c.stop()));
  running = [];
});

export const put = (key: string, value: string) => ({ name: 'put', args: [key, value] });
export const append = (key: string, value: string) => ({ name: 'append', args: [key, value] });

/** Advances in steps of stepMs until pred holds. @throws after maxMs of virtual time */
export async function until(c: SimCluster, pred: () => boolean, maxMs: number, stepMs = 10): Promise<void> {
  for (let t = 0; !pred(); t += stepMs) {
    if (t >= maxMs) throw new Error(`condition not reached within ${maxMs} ms`);
    await c.advance(stepMs);
  }
}

/** id's whole key-value state. */
export function dump(c: SimCluster, id: NodeId): Map<string, string> {
  return (c.machine(id) as KvMachine).dump();
}

/**
 * Heals every fault, restarts every member, commits a fresh put and waits
 * until every member applied it; then every member must hold the same state.
 * @returns that state
 */
export async function converge(c: SimCluster, value: string): Promise<Map<string, string>> {
  c.heal();
  c.setUnreliable(false);
  for (const id of c.ids) if (!c.isRunning(id)) await c.restart(id);
  await c.propose(put('final', value), { timeoutMs: 10_000 });
  await until(c, () => c.ids.every((id) => dump(c, id).get('final') === value), 10_000);
  const reference = dump(c, c.ids[0]!);
  for (const id of c.ids) expect(dump(c, id)).toEqual(reference);
  c.check();
  return reference;
}

/** Expects the history to be linearizable (the checker's explanation is the failure message). */
export function expectLinearizable(history: Operation<KvInput, KvOutput>[]): void {
  const result = checkLinearizability(history, kvModel, { timeoutMs: 20_000 });
  expect(result.ok === false ? result.explanation : result.ok).toBe(true);
}

/** The first index id's durable log still holds. */
export function firstIndex(c: SimCluster, id: NodeId): number {
  const { log } = c.stores(id);
  for (let lo = 1; ;) {
    try {
      log.entriesSync(lo, lo);
      return lo;
    } catch (err) {
      const first = (err as { firstIndex?: number }).firstIndex;
      if (first === undefined || first === lo) throw err;
      lo = first;
    }
  }
}
