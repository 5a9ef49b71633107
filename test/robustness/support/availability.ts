// Availability under single faults: from a fault's start (a kill of the
// leader) or its end (a heal, a resume, a server back, a restart) to the
// next acknowledged operation.
import type { FaultRecord } from './faults';

/** One fault's measured gap. */
export interface Gap {
  /** The kind and its variant as planned, e.g. `pg-restart (immediate)`. */
  readonly label: string;
  /** ms from the reference moment to the next acknowledged operation (Infinity: none came). */
  readonly ms: number;
}

/** Per label: how many single faults, the median and max gap (ms). */
export interface AvailabilitySummary {
  readonly [label: string]: { readonly count: number; readonly medianMs: number; readonly maxMs: number };
}

/** `kill-leader` is measured from its start, every other fault from its end. */
function referenceOf(r: FaultRecord): number | undefined {
  return r.kind === 'kill-leader' ? r.start : r.end;
}

/** The kind plus the variant in the plan's text (`isolate (cut)`), without the timing. */
export function labelOf(r: FaultRecord): string {
  const variant = /\((leader|random|drop|cut|fast|immediate)\)/.exec(r.plan)?.[1];
  return variant ? `${r.kind} (${variant})` : r.kind;
}

/**
 * The gap after every single fault: one that took effect, and overlapped
 * no other fault that took effect, over its start to its end.
 * @param acks acknowledged operations' return times (any order)
 * @returns one Gap per single fault, in the records' order
 */
export function singleFaultGaps(records: readonly FaultRecord[], acks: readonly number[]): Gap[] {
  const sorted = [...acks].sort((a, b) => a - b);
  const happened = records.filter((r) => !r.skipped && r.start !== undefined && r.end !== undefined);
  const gaps: Gap[] = [];
  for (const r of happened) {
    const overlapping = happened.some((o) => o !== r && o.start! <= r.end! && r.start! <= o.end!);
    const ref = referenceOf(r);
    if (overlapping || ref === undefined) continue;
    const next = firstAfter(sorted, ref);
    gaps.push({ label: labelOf(r), ms: next === undefined ? Infinity : next - ref });
  }
  return gaps;
}

/** The first value > x of an ascending list (binary search). */
function firstAfter(sorted: readonly number[], x: number): number | undefined {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return sorted[lo];
}

/** Median and max per label. */
export function summarizeGaps(gaps: readonly Gap[]): AvailabilitySummary {
  const by = new Map<string, number[]>();
  for (const g of gaps) by.set(g.label, [...(by.get(g.label) ?? []), g.ms]);
  const out: Record<string, { count: number; medianMs: number; maxMs: number }> = {};
  for (const [label, ms] of [...by].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const s = [...ms].sort((a, b) => a - b);
    const mid = s.length >> 1;
    const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    out[label] = { count: s.length, medianMs: Math.round(median), maxMs: Math.round(s[s.length - 1]!) };
  }
  return out;
}
