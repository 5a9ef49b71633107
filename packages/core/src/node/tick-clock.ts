import type { Clock } from '../ports/clock';

/**
 * Keeps the protocol's ticks in step with the node's clock. A tick timer
 * alone falls behind real time whenever the process does not run: a
 * SIGSTOP, a long GC pause, a starved event loop, a suspended VM all end
 * with one late timer, as if one tick had passed. Election timeouts would
 * then only run long (safe), but a leader's lease would outlive the time
 * its followers promised (unsafe: a paused leader could serve a stale lease
 * read on waking up, while another leader has been elected). So the node
 * counts the ticks its clock says are due, and runs them before it handles
 * a message or a read, and at its timer.
 */
export class TickClock {
  private readonly origin: number;
  /** Ticks counted as run since origin. */
  private done = 0;

  /**
   * @param tickMs the length of a tick
   * @param most most ticks run at once: beyond twice the election timeout,
   *   more ticks change nothing the protocol decides (every timeout has fired)
   */
  constructor(
    private readonly clock: Clock,
    private readonly tickMs: number,
    private readonly most: number,
  ) {
    this.origin = clock.now();
  }

  /** The tick timer fired: one tick, or all that are due when the node fell behind its clock. */
  onTimer(): number {
    return this.take(Math.max(1, this.due()));
  }

  /**
   * Before a message or a read: the ticks due when the node is two or more
   * behind its clock (it did not run meanwhile), else 0 (the timer is about
   * to tick; a lease allows for that much, see leaseDriftTicks).
   */
  behind(): number {
    const due = this.due();
    return due >= 2 ? this.take(due) : 0;
  }

  private due(): number {
    return Math.floor((this.clock.now() - this.origin) / this.tickMs) - this.done;
  }

  private take(n: number): number {
    this.done += n;
    return Math.min(n, this.most);
  }
}
