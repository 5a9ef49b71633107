// Availability under single faults: from a fault's start (a kill of the
// leader) or its end (a heal, a resume, a server back, a restart) to the
// next acknowledged operation.
import type { FaultRecord } from './faults';
import { FAULT_VARIANTS } from './nemesis';

const VARIANT = new RegExp(`\\((${FAULT_VARIANTS.join('|')})\\)`);

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

/** An acknowledged operation: when it was called and when it returned (ms since the run's start). */
export interface Ack {
  readonly call: number;
  readonly return: number;
}

/** `kill-leader` is measured from its start, every other fault from its end. */
function referenceOf(r: FaultRecord): number | undefined {
  return r.kind === 'kill-leader' ? r.start : r.end;
}

/** The kind plus the variant in the plan's text (`isolate (cut)`), without the timing. */
export function labelOf(r: FaultRecord): string {
  const variant = VARIANT.exec(r.plan)?.[1];
  return variant ? `${r.kind} (${variant})` : r.kind;
}

/**
 * The gap after every single fault: one that took effect, and overlapped
 * no other fault that took effect, over its start to its end. A gap from a
 * fault's start counts only operations called after it: the answer to one
 * called before may have left the killed leader just before it died.
 * @param acks acknowledged operations (any order)
 * @returns one Gap per single fault, in the records' order
 */
export function singleFaultGaps(records: readonly FaultRecord[], acks: readonly Ack[]): Gap[] {
  const sorted = [...acks].sort((a, b) => a.return - b.return);
  const happened = records.filter((r) => !r.skipped && r.start !== undefined && r.end !== undefined);
  const gaps: Gap[] = [];
  for (const r of happened) {
    const overlapping = happened.some((o) => o !== r && o.start! <= r.end! && r.start! <= o.end!);
    const ref = referenceOf(r);
    if (overlapping || ref === undefined) continue;
    const next = firstAfter(sorted, ref, ref === r.start);
    gaps.push({ label: labelOf(r), ms: next === undefined ? Infinity : next.return - ref });
  }
  return gaps;
}

/**
 * The first ack returning after x of a list ascending by return time
 * (binary search), called at or after x too when calledAfter.
 */
function firstAfter(sorted: readonly Ack[], x: number, calledAfter: boolean): Ack | undefined {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.return > x) hi = mid;
    else lo = mid + 1;
  }
  for (let i = lo; i < sorted.length; i++) if (!calledAfter || sorted[i]!.call >= x) return sorted[i];
  return undefined;
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
