import type { Clock } from '../ports/clock';

/**
 * Keeps a leader's ticks in step with the node's clock. A tick timer alone
 * falls behind real time whenever the process does not run: a SIGSTOP, a
 * long GC pause, a starved event loop, a suspended VM all end with one late
 * timer, as if one tick had passed. A leader's lease would then outlive the
 * time its followers promised (unsafe: a paused leader could serve a stale
 * lease read on waking up, while another leader has been elected), so a
 * leader runs the ticks its clock says are due before it handles a message
 * or a read, and at its timer. Other roles tick once per timer, as before:
 * their timers running late only delays an election (safe), and a node
 * that counted a stall of its own event loop as time would start
 * elections whenever the machine is busy.
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

  /**
   * The tick timer fired: the ticks to run, one, or for a leader all that
   * are due when it fell behind its clock. Either way the clock's due ticks
   * count as run (a node that becomes leader starts with none pending).
   */
  onTimer(leading: boolean): number {
    const due = Math.max(1, this.due());
    this.done += due;
    return leading ? Math.min(due, this.most) : 1;
  }

  /**
   * Before a message or a read: for a leader two or more ticks behind its
   * clock (it did not run meanwhile), the ticks due; else 0 (the timer is
   * about to tick; a lease allows for that much, see leaseDriftTicks).
   */
  behind(leading: boolean): number {
    if (!leading) return 0;
    const due = this.due();
    if (due < 2) return 0;
    this.done += due;
    return Math.min(due, this.most);
  }

  private due(): number {
    return Math.floor((this.clock.now() - this.origin) / this.tickMs) - this.done;
  }
}
