import {
  DivergedError,
  LeadershipLostError,
  NodeStoppedError,
  NotLeaderError,
  ProposalTimeoutError,
  ReadNotConfirmedError,
  type ClientSession,
  type CommandRequest,
  type NodeId,
  type QueryResult,
  type ReadConsistency,
} from '@raftline/core';

/** A command as a simulated client sends it: a `@Command` name and its arguments. */
export interface SimCommand {
  readonly name: string;
  readonly args: readonly unknown[];
}

/** Options of SimCluster.propose and SimClient.propose. */
export interface SimProposeOptions {
  /** The node to try first (default: a random running node). */
  readonly via?: NodeId;
  /** Give up after this much virtual time (default: the cluster's clientTimeoutMs). */
  readonly timeoutMs?: number;
}

/** Options of SimCluster.query and SimClient.query. */
export interface SimQueryOptions {
  /** Default 'linearizable'. 'lease' skips the heartbeat round only with node config leaseReads: true. */
  readonly consistency?: ReadConsistency;
  /** The node to ask first (default: a random running node). Followers forward to their leader. */
  readonly via?: NodeId;
  /** Give up after this much virtual time (default: the cluster's clientTimeoutMs). */
  readonly timeoutMs?: number;
  /** false: ask `via` (or one random node) once, and report its failure instead of trying elsewhere. Default true. */
  readonly retry?: boolean;
}

/** What a client needs from the cluster (implemented by SimCluster). */
export interface ClientHost {
  now(): number;
  /** Running nodes, in id order. */
  runningIds(): NodeId[];
  /**
   * Sends request to node id and waits for its answer, at most timeoutMs.
   * @throws ProposalTimeoutError after timeoutMs; NodeStoppedError when id is down or crashes meanwhile
   * @throws whatever RaftNode.propose rejects with
   */
  call(id: NodeId, request: CommandRequest, timeoutMs: number): Promise<unknown>;
  /**
   * Sends a query to node id and waits for its answer, at most timeoutMs.
   * @throws ReadNotConfirmedError when not confirmed in time; NodeStoppedError when id is down or crashes meanwhile
   * @throws whatever RaftNode.query rejects with
   */
  callQuery(
    id: NodeId,
    name: string,
    args: readonly unknown[],
    consistency: ReadConsistency,
    timeoutMs: number,
  ): Promise<QueryResult>;
  /** Picks one of ids with the cluster's seeded randomness. */
  pick(ids: readonly NodeId[]): NodeId;
  /** Waits ms of virtual time without driving the clock; resolves early when the cluster stops. */
  wait(ms: number): Promise<void>;
  /** Runs work to completion, advancing virtual time while nobody else does. */
  drive<T>(work: Promise<T>): Promise<T>;
  readonly stopped: boolean;
  readonly clientTimeoutMs: number;
  /** Longest time one attempt at one node may take before the client tries elsewhere. */
  readonly attemptTimeoutMs: number;
  /** Pause between attempts when no leader is known. */
  readonly retryDelayMs: number;
}

/**
 * Whether err leaves a command's outcome unknown (it may or may not apply
 * later). DivergedError counts: a leader that stopped applying refuses new
 * commands, but one already in flight may still apply on the others.
 */
export function isUnknownOutcome(err: unknown): boolean {
  return (
    err instanceof ProposalTimeoutError ||
    err instanceof LeadershipLostError ||
    err instanceof NodeStoppedError ||
    err instanceof DivergedError
  );
}

/**
 * The client path of a command: tries a node, follows NotLeaderError to the
 * leader it names (or another node), and retries after an unknown outcome
 * (LeadershipLostError, ProposalTimeoutError, NodeStoppedError) with the SAME
 * session, so that the command applies at most once.
 * @returns the command's result
 * @throws ProposalTimeoutError when timeoutMs of virtual time pass (outcome unknown)
 * @throws NodeStoppedError when the cluster stops meanwhile (outcome unknown)
 * @throws whatever the node reports as definite: CommandFailedError,
 *   CommandRejectedError, UnknownCommandError, SessionExpiredError
 */
export async function proposeWithRetries(
  host: ClientHost,
  command: SimCommand,
  session: ClientSession,
  options: SimProposeOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? host.clientTimeoutMs;
  const deadline = host.now() + timeoutMs;
  const request = { name: command.name, args: command.args, session };
  let target = options.via;
  for (;;) {
    if (host.stopped) throw new NodeStoppedError('sim cluster');
    const remaining = deadline - host.now();
    if (remaining <= 0) throw new ProposalTimeoutError(timeoutMs);
    const running = host.runningIds();
    if (target === undefined || !running.includes(target))
      target = running.length > 0 ? host.pick(running) : undefined;
    if (target === undefined) {
      await host.wait(Math.min(host.retryDelayMs, remaining));
      continue;
    }
    try {
      return await host.call(target, request, Math.min(host.attemptTimeoutMs, remaining));
    } catch (err) {
      if (
        err instanceof NotLeaderError &&
        err.leaderId &&
        err.leaderId !== target &&
        running.includes(err.leaderId)
      ) {
        target = err.leaderId;
        await host.wait(1); // a redirect costs a round trip, and stale hints must not loop in zero time
        continue;
      }
      if (!(err instanceof NotLeaderError) && !isUnknownOutcome(err)) throw err;
      const others = running.filter((id) => id !== target);
      target = others.length > 0 ? host.pick(others) : undefined;
      await host.wait(Math.min(host.retryDelayMs, remaining));
    }
  }
}

/**
 * The client path of a query: asks a node (a follower forwards the read to
 * its leader, thesis §6.4) and, when the read cannot be confirmed there
 * (ReadNotConfirmedError, NodeStoppedError) or the node stopped applying at
 * a divergence (DivergedError), asks another node after a pause.
 * Nothing was read by a failed attempt, so retrying is always safe.
 * @returns the query's value
 * @throws ReadNotConfirmedError when no read was confirmed within timeoutMs
 *   (or the one attempt failed, with retry: false); NodeStoppedError when the cluster stops
 * @throws what the state machine's query throws (UnknownCommandError, …)
 */
export async function queryWithRetries(
  host: ClientHost,
  name: string,
  args: readonly unknown[],
  options: SimQueryOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? host.clientTimeoutMs;
  const consistency = options.consistency ?? 'linearizable';
  const deadline = host.now() + timeoutMs;
  let target = options.via;
  let last: unknown;
  for (;;) {
    if (host.stopped) throw new NodeStoppedError('sim cluster');
    const remaining = deadline - host.now();
    if (remaining <= 0) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new ReadNotConfirmedError('sim cluster', `no read confirmed within ${timeoutMs} ms${why}`);
    }
    const running = host.runningIds();
    if (target === undefined || (!running.includes(target) && options.retry !== false))
      target = running.length > 0 ? host.pick(running) : undefined;
    if (target === undefined) {
      await host.wait(Math.min(host.retryDelayMs, remaining));
      continue;
    }
    try {
      const budget = Math.min(host.attemptTimeoutMs, remaining);
      return (await host.callQuery(target, name, args, consistency, budget)).value;
    } catch (err) {
      const elsewhere =
        err instanceof ReadNotConfirmedError ||
        err instanceof NodeStoppedError ||
        err instanceof DivergedError;
      if (!elsewhere) throw err;
      if (options.retry === false) throw err;
      last = err;
      const others = running.filter((id) => id !== target);
      target = others.length > 0 ? host.pick(others) : undefined;
      await host.wait(Math.min(host.retryDelayMs, remaining));
    }
  }
}

/**
 * One simulated client with its own exactly-once session (Raft thesis
 * §6.3): it numbers its commands 1, 2, 3, … and retries each with the same
 * number. Calls are served one at a time, in call order. After a command
 * whose outcome stayed unknown, the client continues under a new session
 * (as a restarted client process would), so an old command that applies late
 * never shadows a new one.
 */
export class SimClient {
  private seq = 0;
  private generation = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: ClientHost,
    /** The client's name; its session ids are derived from it. */
    readonly name: string,
  ) {}

  /** The session id the next command will use. */
  get clientId(): string {
    return this.generation === 0 ? this.name : `${this.name}#${this.generation}`;
  }

  /**
   * Submits command through the full client path (see proposeWithRetries),
   * advancing virtual time while nobody else does.
   * @returns the command's result
   * @throws as proposeWithRetries
   */
  propose(command: SimCommand, options: SimProposeOptions = {}): Promise<unknown> {
    const run = this.tail.then(() => this.run(command, options));
    this.tail = run.catch(() => undefined);
    return this.host.drive(run);
  }

  /**
   * Runs a query through the client path (see queryWithRetries), after the
   * client's earlier calls, advancing virtual time while nobody else does.
   * @returns the query's value
   * @throws as queryWithRetries
   */
  query(name: string, args: readonly unknown[], options: SimQueryOptions = {}): Promise<unknown> {
    const run = this.tail.then(() => queryWithRetries(this.host, name, args, options));
    this.tail = run.catch(() => undefined);
    return this.host.drive(run);
  }

  private async run(command: SimCommand, options: SimProposeOptions): Promise<unknown> {
    const seq = ++this.seq;
    const session: ClientSession = { clientId: this.clientId, seq, ackedBelow: seq };
    try {
      return await proposeWithRetries(this.host, command, session, options);
    } catch (err) {
      if (isUnknownOutcome(err)) {
        this.generation++;
        this.seq = 0;
      }
      throw err;
    }
  }
}
