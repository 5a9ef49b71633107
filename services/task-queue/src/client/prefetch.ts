/**
 * How many jobs a Worker with `prefetch: 'auto'` holds beyond its
 * concurrency: enough that its slots stay busy while a claim is on its way,
 * sized from what the worker measures.
 */

/** Most jobs auto prefetch holds beyond concurrency. */
export const AUTO_PREFETCH_MAX = 256;
/** Weight of the newest sample in the moving averages. */
const WEIGHT = 0.2;
/**
 * Below this ratio of claim round trip to handler time a slot barely idles
 * while a claim is on its way: no prefetch (long handlers never hold jobs
 * other workers could run).
 */
const MIN_RATIO = 0.05;
/** Handler times under this (ms) count as this: a no-op handler still costs the worker something. */
const MIN_HANDLER_MS = 0.01;

/**
 * Keeps moving averages of the handler's duration and of a claim's round
 * trip, and derives the prefetch: a slot finishes claimMs / handlerMs jobs
 * while one claim is on its way, so concurrency slots need that many jobs
 * each, waiting; twice that, because the worker refills once half its room
 * is free. Held jobs thus wait about two claim round trips at most, at the
 * pace measured. Before both averages exist, no prefetch (as BullMQ).
 */
export class AutoPrefetch {
  private handlerMs: number | undefined;
  private claimMs: number | undefined;

  /** @param concurrency the worker's handlers at once */
  constructor(
    private readonly concurrency: number,
    private readonly max: number = AUTO_PREFETCH_MAX,
  ) {}

  /** Records one handler run of ms milliseconds. */
  handled(ms: number): void {
    this.handlerMs = average(this.handlerMs, Math.max(MIN_HANDLER_MS, ms));
  }

  /** Records one claim's round trip of ms milliseconds. */
  claimed(ms: number): void {
    this.claimMs = average(this.claimMs, Math.max(0, ms));
  }

  /** Jobs to hold beyond concurrency now: 0 to max. */
  get prefetch(): number {
    if (this.handlerMs === undefined || this.claimMs === undefined) return 0;
    const ratio = this.claimMs / this.handlerMs;
    if (ratio < MIN_RATIO) return 0;
    return Math.min(this.max, Math.ceil(2 * this.concurrency * ratio));
  }
}

function average(prev: number | undefined, sample: number): number {
  return prev === undefined ? sample : prev + WEIGHT * (sample - prev);
}
