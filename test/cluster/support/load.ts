import type { NatsConnection, NatsRaftClient } from '@raftline/transport-nats';
import { runLoad } from '../../../packages/transport-nats/test/support/processes';
import { sleep } from './nats';
import { inspect, type Inspection } from './replicas';

/** One command of the load and when its outcome was known (ms since the epoch). */
export interface Outcome {
  readonly key: string;
  readonly at: number;
}

/**
 * What happened to the commands of a load:
 * - acked: a reply with the handler's value arrived, so the command is committed and applied;
 * - unknown: no answer or an outcome-unknown error, so it may or may not be applied (at most once);
 * - refused: LeaderUnavailableError, no replica accepted it, so it must never be applied.
 */
export interface LoadResult {
  readonly acked: Outcome[];
  readonly unknown: Outcome[];
  readonly refused: Outcome[];
  /** Acknowledged commands whose reply was not 1 (the counter's value after a first apply). */
  readonly wrongReplies: string[];
}

/** A running load: its live result, a way to stop it, and its end. */
export interface Load {
  readonly result: LoadResult;
  stop(): void;
  readonly done: Promise<LoadResult>;
}

/**
 * Starts a load (transport-nats' runLoad) that records each outcome with its
 * time, and every acknowledged reply other than 1 (the counter's value after
 * a first apply).
 */
export function startLoad(
  client: NatsRaftClient,
  o: { workers: number; maxCommands: number; maxMs: number; prefix: string },
): Load {
  const result: LoadResult = { acked: [], unknown: [], refused: [], wrongReplies: [] };
  const run = runLoad(client, { ...o, pauseAfterFailureMs: 10 }, ({ kind, key, value }) => {
    result[kind].push({ key, at: Date.now() });
    if (kind === 'acked' && value !== 1) result.wrongReplies.push(`${key} → ${String(value)}`);
  });
  return { result, stop: run.stop, done: run.done.then(() => result) };
}

/** The keys of outcomes. */
export function keys(outcomes: readonly Outcome[]): string[] {
  return outcomes.map((o) => o.key);
}

/**
 * Waits (at most timeoutMs) until every replica answers and has applied every
 * acknowledged key, then returns their reports. It does not throw: the caller
 * asserts on what came back, so a failure shows what is missing.
 */
export async function awaitApplied(
  nc: NatsConnection,
  cluster: string,
  ids: readonly string[],
  acked: readonly string[],
  timeoutMs: number,
): Promise<Inspection[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(ids.map((id) => inspect(nc, cluster, id)));
    const reports = answers.filter((r): r is Inspection => r !== undefined);
    const done =
      reports.length === ids.length &&
      reports.every((r) => {
        const applied = new Set(r.applied);
        return acked.every((k) => applied.has(k));
      });
    if (done || Date.now() > deadline) return reports;
    await sleep(100);
  }
}

/** What the replicas' reports say about a load; every list should be empty. */
export interface Violations {
  /** Replicas that did not answer. */
  readonly missingReplicas: string[];
  /** "<replica>: <key>" for every acknowledged key a replica has not applied. */
  readonly lostAcked: string[];
  /** "<replica>: <key> ×n" for every key applied more than once. */
  readonly duplicates: string[];
  /** "<replica>: <key>" for every refused key a replica applied anyway. */
  readonly appliedRefused: string[];
  /** Replicas whose applied order is not a prefix of (or extended by) the longest one's. */
  readonly orderMismatches: string[];
}

/** Checks the reports against the load: acked applied exactly once everywhere, refused nowhere, one order. */
export function violations(
  ids: readonly string[],
  reports: readonly Inspection[],
  load: LoadResult,
): Violations {
  const v: Violations = {
    missingReplicas: ids.filter((id) => !reports.some((r) => r.id === id)),
    lostAcked: [],
    duplicates: [],
    appliedRefused: [],
    orderMismatches: [],
  };
  const refused = new Set(keys(load.refused));
  for (const r of reports) {
    const counts = new Map<string, number>();
    for (const k of r.applied) counts.set(k, (counts.get(k) ?? 0) + 1);
    for (const k of keys(load.acked)) if (!counts.has(k)) v.lostAcked.push(`${r.id}: ${k}`);
    for (const [k, n] of counts) {
      if (n > 1) v.duplicates.push(`${r.id}: ${k} ×${n}`);
      if (refused.has(k)) v.appliedRefused.push(`${r.id}: ${k}`);
    }
  }
  const longest = [...reports].sort((a, b) => b.applied.length - a.applied.length)[0];
  for (const r of reports) {
    if (!longest || r === longest) continue;
    const diverges = r.applied.findIndex((k, i) => longest.applied[i] !== k);
    if (diverges >= 0) v.orderMismatches.push(`${r.id} differs from ${longest.id} at position ${diverges}`);
  }
  return {
    missingReplicas: v.missingReplicas,
    lostAcked: capped(v.lostAcked),
    duplicates: capped(v.duplicates),
    appliedRefused: capped(v.appliedRefused),
    orderMismatches: v.orderMismatches,
  };
}

/** The first `max` items of a list and, when there are more, how many were left out (keeps failures readable). */
export function capped(list: readonly string[], max = 20): string[] {
  return list.length <= max ? [...list] : [...list.slice(0, max), `… and ${list.length - max} more`];
}

/** The empty Violations, for toEqual. */
export const NO_VIOLATIONS: Violations = {
  missingReplicas: [],
  lostAcked: [],
  duplicates: [],
  appliedRefused: [],
  orderMismatches: [],
};
