import {
  CommandFailedError,
  CommandRejectedError,
  LeadershipLostError,
  LeadershipTransferError,
  NodeStoppedError,
  NotLeaderError,
  ProposalTimeoutError,
} from '../errors';
import type { Logger } from '../logger';
import type { Cancel, Clock } from '../ports/clock';
import type { NodeId } from '../protocol/types';
import type { CommandRequest } from './command';

/** A periodic command the leader proposes (a machine's @Tick; see Applier.ticks). */
export interface TickSpec {
  /** The command's name; it is proposed with no arguments and no session. */
  readonly name: string;
  /** The period, in ms of the node's clock (a positive integer). */
  readonly everyMs: number;
}

/** What TickProposer needs of its node. */
export interface TickDeps {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Proposes a command like any other (RaftNode.propose); every failure is a rejection. */
  readonly propose: (request: CommandRequest) => Promise<unknown>;
  /** Whether the node leads at this moment (its protocol may step down before setLeading hears of it). */
  readonly leads: () => boolean;
}

/** Errors of a tick proposed by a node that leads no more, or not for long enough. */
const LEADERSHIP_ENDED = [
  NotLeaderError,
  LeadershipLostError,
  LeadershipTransferError,
  ProposalTimeoutError,
  NodeStoppedError,
];

interface TickState {
  readonly spec: TickSpec;
  cancel: Cancel;
  /** A proposal of this tick has not settled yet: the next one is skipped. */
  inFlight: boolean;
}

/**
 * Proposes each tick every everyMs of the node's clock while the node leads,
 * and nothing otherwise: timers start when the node becomes leader (the
 * first tick after everyMs) and stop when it stops leading or stops. A tick
 * whose previous proposal is still in flight is skipped, so a leader cut off
 * from its quorum holds at most one proposal per tick until it steps down.
 *
 * Invariant: timers are set only while `leading`.
 */
export class TickProposer {
  private readonly ticks: TickState[];
  private leading = false;

  constructor(
    private readonly deps: TickDeps,
    specs: readonly TickSpec[],
  ) {
    this.ticks = specs.map((spec) => ({ spec, cancel: () => {}, inFlight: false }));
  }

  /** Whether there is anything to propose (a machine without @Tick gets no timer). */
  get empty(): boolean {
    return this.ticks.length === 0;
  }

  /** The node's role changed: start the timers when it leads, cancel them when it no longer does. */
  setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    for (const t of this.ticks) {
      t.cancel();
      if (leading) this.schedule(t);
    }
  }

  /** The node stopped: no more ticks. */
  stop(): void {
    this.setLeading(false);
  }

  private schedule(t: TickState): void {
    t.cancel = this.deps.clock.setTimeout(() => {
      if (!this.leading) return;
      this.schedule(t);
      if (!t.inFlight && this.deps.leads()) this.fire(t);
    }, t.spec.everyMs);
  }

  private fire(t: TickState): void {
    const { id, logger } = this.deps;
    t.inFlight = true;
    this.deps
      .propose({ name: t.spec.name, args: [] })
      .catch((err: unknown) => {
        // A leader losing its leadership (or cut off from its quorum) loses its tick: the next leader ticks.
        const what = { node: id, tick: t.spec.name, err };
        if (LEADERSHIP_ENDED.some((cls) => err instanceof cls)) {
          logger.debug(what, 'tick not applied: leadership changed');
        } else if (err instanceof CommandFailedError || err instanceof CommandRejectedError) {
          logger.info(what, 'tick refused by the state machine'); // its own, deterministic decision
        } else {
          logger.warn(what, 'tick failed');
        }
      })
      .finally(() => {
        t.inFlight = false;
      });
  }
}
