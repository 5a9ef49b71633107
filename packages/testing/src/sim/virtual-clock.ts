import { NodeStoppedError, type Cancel, type Clock } from '@raftline/core';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Orders timers by due time, then by the order they were set (FIFO among equals). */
function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Lets every promise continuation queued so far run: resolves on the next
 * macrotask, after the microtask queue has drained. Deterministic as long as
 * nothing in the simulation uses real timers or I/O.
 */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A Clock on virtual time. Timers wait in a priority queue ordered by
 * (due time, insertion order); advance(ms) pops them in that order, sets
 * now() to each one's due time, runs it, and then lets all promise work it
 * started finish before the next one fires. A run is therefore a pure
 * function of what was scheduled, with no dependence on real time.
 *
 * Invariant: now() never decreases; a timer never fires before its due time.
 */
export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private fired = 0;
  private halted = false;
  private readonly sleepers = new Set<() => void>();

  /** Called with whatever a timer callback throws; the clock goes on with the next timer. */
  onError: (err: unknown) => void = (err) => {
    throw err;
  };

  /** @returns the virtual time in ms (0 at creation) */
  now(): number {
    return this.time;
  }

  /** Schedules fn at now() + max(0, ms). @returns a function cancelling it (idempotent) */
  setTimeout(fn: () => void, ms: number): Cancel {
    const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** @returns a promise resolving after ms of virtual time (someone must advance the clock) */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Whether an advance() is in progress. */
  get busy(): boolean {
    return this.running;
  }

  /** Timers fired so far (a cheap progress measure). */
  get firedCount(): number {
    return this.fired;
  }

  /** Timers scheduled and not yet fired or discarded (cancelled ones included until they surface). */
  get pendingCount(): number {
    return this.heap.length;
  }

  /** @returns a promise resolving once no advance() is in progress */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs virtual time forward by ms: fires every timer due by now() + ms in
   * order, draining promise work after each, then sets now() to the target.
   * Calls made while another advance() runs wait for it, then run in turn.
   * @throws NodeStoppedError after stop()
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: ms (${ms}) must be a non-negative number`);
    if (this.halted) throw new NodeStoppedError('virtual clock');
    while (this.running) await this.whenIdle();
    this.running = true;
    try {
      const until = this.time + ms;
      for (let t = this.peek(); t !== undefined && t.at <= until && !this.halted; t = this.peek()) {
        this.pop();
        if (t.cancelled) continue;
        this.time = t.at;
        this.fired++;
        try {
          t.fn();
        } catch (err) {
          this.onError(err);
        }
        await macrotask();
      }
      this.time = until;
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Whether stop() was called. */
  get stopped(): boolean {
    return this.halted;
  }

  /**
   * Stops the clock for good: drops every pending timer, wakes every wait(),
   * and makes advance() throw NodeStoppedError.
   */
  stop(): void {
    this.halted = true;
    for (const t of this.heap) t.cancelled = true;
    this.heap.length = 0;
    const sleepers = [...this.sleepers];
    this.sleepers.clear();
    for (const wake of sleepers) wake();
  }

  /** Like sleep(ms), but resolves at once when the clock stops (and at once if it has). */
  wait(ms: number): Promise<void> {
    if (this.halted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.sleepers.delete(done);
        resolve();
      };
      this.sleepers.add(done);
      this.setTimeout(done, ms);
    });
  }

  /**
   * Resolves or rejects as work settles, at the virtual time it settles,
   * advancing the clock by stepMs at a time meanwhile unless someone else
   * is. Another driver goes first: this steps in only once a whole macrotask
   * passed with the clock idle.
   * @throws what work throws; NodeStoppedError when the clock stops first
   */
  drive<T>(work: Promise<T>, stepMs: number): Promise<T> {
    let settled = false;
    const done = work.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    if (this.halted) return done.then(() => Promise.reject(new NodeStoppedError('virtual clock')));
    void this.pump(() => settled, stepMs);
    return done.then(() => work);
  }

  private async pump(settled: () => boolean, stepMs: number): Promise<void> {
    while (!settled() && !this.halted) {
      await macrotask();
      if (settled() || this.halted) return;
      if (this.running) await this.whenIdle();
      else await this.advance(stepMs);
    }
  }

  // Binary min-heap on (at, seq).

  private peek(): Timer | undefined {
    return this.heap[0];
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(t, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = t;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
