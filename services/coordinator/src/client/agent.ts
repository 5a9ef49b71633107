/**
 * CoordinatorAgent: the client side of a coordinator lease, for an agent or
 * service process that is not a replica. It registers its candidate,
 * campaigns for one task, renews the lease in the background while it holds
 * it, and tells the process whether it may act (isCoordinator(), epoch as
 * the fencing token), stopping at once when a renewal is refused, fails or
 * is late. README, "The agent helper", has the margin and its assumptions.
 */
import { EventEmitter } from 'node:events';
import { ConfigError, RaftlineError } from '@raftline/core';
import { connectClient, type MachineClient } from '@raftline/transport-nats';
import type { Coordinator } from '../coordinator';
import { isRefusal, refusalError, unwrap } from '../errors';
import { DEFAULT_LEASE_MS } from '../options';
import type { ActResult, CheckpointResult, Refusal } from '../results';
import type { CandidateInfo, Checkpoint, CheckpointInput, Progress, ResourceWrite } from '../types';

type NatsConnection = Parameters<typeof connectClient>[0]['connection'];

/** The agent does not hold the task as far as it knows (never elected, lost, or closed): it sends no guarded command. */
export class NotHoldingError extends RaftlineError {}

/** How a CoordinatorAgent reaches its group, and its lease timing. */
export interface CoordinatorAgentOptions {
  /** An open NATS connection; the agent does not close it. */
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** The task to coordinate (it must exist: createTask() is a human's or a service's act). */
  readonly task: string;
  /** This agent's candidate id. */
  readonly candidate: string;
  /** Capabilities and load registered with the candidate. */
  readonly info?: CandidateInfo;
  /**
   * The lease the agent assumes, in ms (default DEFAULT_LEASE_MS). The
   * agent uses the shorter of this and what the replicas grant, so a task
   * configured with a shorter lease is never outlived.
   */
  readonly leaseMs?: number;
  /** How often to renew (or, while not holding, campaign), in ms (default leaseMs / 4). */
  readonly renewEveryMs?: number;
  /** The clock-rate difference the agent allows for, 0 ≤ d < 0.5 (default 0.1, as RaftNode's). */
  readonly maxClockDrift?: number;
  /** The local clock in ms (default Date.now); tests may pass their own. */
  readonly now?: () => number;
}

/** What 'elected' carries: the new epoch and the checkpoint to continue from. */
export interface ElectedEvent {
  readonly epoch: number;
  readonly checkpoint: Checkpoint | null;
  /** The local time (the agent's `now`) until which it trusts the lease, unless renewed. */
  readonly deadline: number;
}

/** What 'renewed' carries: the epoch still held and the agent's new local deadline. */
export interface RenewedEvent {
  readonly epoch: number;
  readonly deadline: number;
}

/** What 'lost' carries: the epoch that ended here, and why the agent stopped. */
export interface LostEvent {
  readonly epoch: number;
  /** 'refused' (the replicas turned a renewal away), 'failed' (it got no answer), 'late' (the margin ran out), 'closed'. */
  readonly reason: 'refused' | 'failed' | 'late' | 'closed';
  /** The refusal, for 'refused'. */
  readonly refusal?: Refusal;
  /** The error, for 'failed'. */
  readonly error?: unknown;
}

/** The events of a CoordinatorAgent. */
export interface CoordinatorAgentEvents {
  elected: [ElectedEvent];
  lost: [LostEvent];
  /** A renewal that succeeded: isCoordinator() now holds until `deadline`. */
  renewed: [RenewedEvent];
  /**
   * A campaign that failed (no answer in time, a refusal); the agent tries
   * again next period. Emitted only while someone listens: an agent without
   * an 'error' listener does not throw (as an EventEmitter would), it retries.
   */
  error: [unknown];
}

/**
 * One agent's hold on one task.
 *
 * Contract:
 * - start() registers the candidate and campaigns; then every renewEveryMs
 *   the agent renews while it holds the task, or campaigns while it does
 *   not (so it takes the task over when it is selected).
 * - isCoordinator() is true only from an 'elected' until the agent's own
 *   deadline: lastRenewSentAt + remaining × (1 − maxClockDrift), where
 *   remaining is the lease the replicas reported at that command (at most
 *   leaseMs) and lastRenewSentAt the local time the command was sent. It turns
 *   false at once (with 'lost') when a renewal is refused or fails, when the
 *   deadline passes without a successful renewal, and on close().
 * - epoch is the epoch it holds (null when it holds none): pass it as the
 *   fencing token to every resource it writes. act() and checkpoint() send
 *   it, and throw NotHoldingError without sending while isCoordinator() is false.
 * - close() stops the timers, resigns a held epoch (with `finalCheckpoint`,
 *   if given) and closes its client; halt() stops the timers and nothing else,
 *   as a crashed or paused process would (start() resumes).
 * The replicas stay the judge: a write of an epoch that has ended is refused
 * there (StaleEpochError, LeaseExpiredError, NotCoordinatorError) whatever this agent believes.
 */
export class CoordinatorAgent extends EventEmitter<CoordinatorAgentEvents> {
  private client: MachineClient<Coordinator> | null = null;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly drift: number;
  private readonly now: () => number;
  private held: { epoch: number; deadline: number } | null = null;
  private inherited: Checkpoint | null = null;
  private timer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private running = false;
  private busy = false;

  /** @throws ConfigError naming every bad timing option */
  constructor(private readonly options: CoordinatorAgentOptions) {
    super();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.leaseMs / 4));
    this.drift = options.maxClockDrift ?? 0.1;
    this.now = options.now ?? Date.now;
    const problems: string[] = [];
    if (!(Number.isSafeInteger(this.leaseMs) && this.leaseMs > 0))
      problems.push(`leaseMs (${String(this.leaseMs)}) must be a positive integer`);
    if (!(Number.isSafeInteger(this.renewEveryMs) && this.renewEveryMs > 0))
      problems.push(`renewEveryMs (${String(this.renewEveryMs)}) must be a positive integer`);
    if (!(this.drift >= 0 && this.drift < 0.5))
      problems.push(`maxClockDrift (${String(this.drift)}) must be at least 0 and below 0.5`);
    if (problems.length === 0 && this.renewEveryMs >= this.leaseMs * (1 - this.drift))
      problems.push(
        `renewEveryMs (${this.renewEveryMs}) must be below leaseMs × (1 − maxClockDrift) (${this.leaseMs * (1 - this.drift)})`,
      );
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /** Whether the agent may act as coordinator now (see the contract). */
  isCoordinator(): boolean {
    if (this.held && this.now() >= this.held.deadline) this.lose('late');
    return this.held !== null;
  }

  /** The epoch held, the fencing token to pass along (null when none is held). */
  get epoch(): number | null {
    return this.isCoordinator() ? this.held!.epoch : null;
  }

  /** The checkpoint handed over at the last election (null: none, or never elected). */
  get inheritedCheckpoint(): Checkpoint | null {
    return this.inherited;
  }

  /**
   * Registers the candidate and campaigns once, then keeps going in the
   * background. After halt(), start() takes up again (registered already).
   * @throws what registration throws (a refusal as its named error), and the client's connection errors
   */
  async start(): Promise<void> {
    if (this.running) return;
    if (!this.client) {
      const client = await connectClient<Coordinator>({
        connection: this.options.connection,
        cluster: this.options.cluster,
        group: this.options.group,
        timeoutMs: this.renewEveryMs,
      });
      try {
        unwrap(await client.commands.register(this.options.candidate, this.options.info));
      } catch (err) {
        client.close();
        throw err;
      }
      this.client = client;
    }
    this.running = true;
    await this.step();
    this.schedule();
  }

  /**
   * Stores a checkpoint for the next coordinator, under the held epoch.
   * @throws NotHoldingError without sending when the agent holds nothing; the refusal's named error when the replicas refuse it
   */
  async checkpoint(checkpoint: CheckpointInput): Promise<Extract<CheckpointResult, { ok: true }>> {
    const epoch = this.requireEpoch();
    return unwrap(await this.client!.commands.checkpoint(this.options.task, epoch, checkpoint));
  }

  /**
   * A guarded write to one of the task's resources, under the held epoch.
   * @throws NotHoldingError without sending when the agent holds nothing; the refusal's named error when the replicas refuse it
   */
  async act(resource: string, write: ResourceWrite): Promise<Extract<ActResult, { ok: true }>> {
    const epoch = this.requireEpoch();
    return unwrap(await this.client!.commands.act(this.options.task, epoch, resource, write));
  }

  /** Stops renewing and campaigning, resigning nothing: what a crash or a pause looks like to the replicas. */
  halt(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Stops, resigns the held epoch (storing finalCheckpoint first, if given),
   * withdraws its application and closes the client. Resigning is best
   * effort: if it fails, the lease runs out as after a crash.
   */
  async close(finalCheckpoint?: CheckpointInput): Promise<void> {
    this.halt();
    const client = this.client;
    const held = this.held;
    this.lose('closed');
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (!client) return;
    try {
      if (held) await client.commands.resign(this.options.task, held.epoch, finalCheckpoint);
      else await client.commands.withdraw(this.options.task, this.options.candidate);
    } catch {
      // the lease ends by itself
    } finally {
      client.close();
      this.client = null;
    }
  }

  private requireEpoch(): number {
    const epoch = this.epoch;
    if (epoch === null || !this.client) {
      throw new NotHoldingError(
        `CoordinatorAgent ${this.options.candidate} holds no epoch of task ${this.options.task}: it sends no guarded command`,
      );
    }
    return epoch;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.step().finally(() => this.schedule());
    }, this.renewEveryMs);
    this.timer.unref?.();
  }

  /** One period: renew while holding, campaign otherwise. Never throws. */
  private async step(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      if (this.isCoordinator()) await this.renew(this.held!.epoch);
      else await this.campaign();
    } finally {
      this.busy = false;
    }
  }

  private async renew(epoch: number, progress?: Progress): Promise<void> {
    const sentAt = this.now();
    let result;
    try {
      result = await this.client!.commands.renew(this.options.task, epoch, progress);
    } catch (error) {
      if (this.running && this.held?.epoch === epoch) this.lose('failed', { error });
      return;
    }
    if (!this.running || this.held?.epoch !== epoch) return;
    if (isRefusal(result)) {
      this.lose('refused', { refusal: result });
      return;
    }
    const deadline = sentAt + this.margin(result.lease.expiresAt - result.at);
    this.hold(epoch, deadline);
    this.emit('renewed', { epoch, deadline });
  }

  private async campaign(): Promise<void> {
    const sentAt = this.now();
    let result;
    try {
      result = await this.client!.commands.campaign(this.options.task, this.options.candidate);
    } catch (error) {
      this.report(error);
      return;
    }
    if (!this.running) return;
    if (isRefusal(result)) {
      this.report(refusalError(result));
      return;
    }
    if (result.status !== 'elected') return;
    const deadline = sentAt + this.margin(result.lease.expiresAt - result.at);
    if (deadline <= this.now()) return; // granted too long ago to trust; renewal will tell next period
    this.inherited = result.checkpoint;
    this.hold(result.lease.epoch, deadline);
    this.emit('elected', { epoch: result.lease.epoch, checkpoint: result.checkpoint, deadline });
  }

  /** 'error', only to listeners: without one an EventEmitter would throw it out of the timer. */
  private report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** The local time a lease of `remainingMs` (as the replicas reported it) is trusted for. */
  private margin(remainingMs: number): number {
    return Math.min(this.leaseMs, Math.max(0, remainingMs)) * (1 - this.drift);
  }

  private hold(epoch: number, deadline: number): void {
    this.held = { epoch, deadline };
    this.armDeadline(deadline);
  }

  /** Emits 'lost' (late) at the deadline; a timer that fires a little early (timers round) is set again. */
  private armDeadline(deadline: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      if (this.isCoordinator() && this.held?.deadline === deadline) this.armDeadline(deadline);
    }, Math.max(1, deadline - this.now()));
    this.deadlineTimer.unref?.();
  }

  private lose(reason: LostEvent['reason'], detail: { refusal?: Refusal; error?: unknown } = {}): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.emit('lost', { epoch: held.epoch, reason, ...detail });
  }
}
