/**
 * How many client requests a replica serves at once: per client connection
 * and in all. Past either bound a request is refused at once with
 * OverloadedError (nothing is proposed or read), so a flood from one client,
 * or from all, waits in no queue of the replica's.
 */
import { ConfigError, OverloadedError, type NodeId } from '@raftline/core';

/** The bounds an Admission enforces. */
export interface AdmissionLimits {
  readonly maxInFlightPerClient: number;
  readonly maxInFlight: number;
}

/** Counts the requests in flight, per client and in all. */
export class Admission {
  private readonly perClient = new Map<string, number>();
  private total = 0;
  private refusedCount = 0;

  constructor(
    private readonly nodeId: NodeId,
    private readonly limits: AdmissionLimits,
  ) {}

  /**
   * Lets one request of `client` in.
   * @returns undefined when it may run (call leave() once it is answered), or the error to answer instead
   */
  enter(client: string): OverloadedError | undefined {
    const held = this.perClient.get(client) ?? 0;
    const { maxInFlightPerClient, maxInFlight } = this.limits;
    const refusal =
      held >= maxInFlightPerClient
        ? new OverloadedError(this.nodeId, 'maxInFlightPerClient', maxInFlightPerClient)
        : this.total >= maxInFlight
          ? new OverloadedError(this.nodeId, 'maxInFlight', maxInFlight)
          : undefined;
    if (refusal) {
      this.refusedCount++;
      return refusal;
    }
    this.perClient.set(client, held + 1);
    this.total++;
    return undefined;
  }

  /** The request of `client` that entered was answered. */
  leave(client: string): void {
    const held = this.perClient.get(client) ?? 0;
    if (held <= 1) this.perClient.delete(client);
    else this.perClient.set(client, held - 1);
    this.total = Math.max(0, this.total - 1);
  }

  /** Requests in flight, the clients they come from, and how many were refused so far. */
  stats(): { readonly inFlight: number; readonly clients: number; readonly refused: number } {
    return { inFlight: this.total, clients: this.perClient.size, refused: this.refusedCount };
  }
}

/**
 * The client connection a request comes from, by its reply subject: nats.js
 * answers every request of a connection on one inbox (`_INBOX.<id>.<n>`), so
 * all but the last token names the connection. A reply subject of one or two
 * tokens (a request made without that inbox) stands for itself.
 */
export function clientOf(reply: string): string {
  const last = reply.lastIndexOf('.');
  const first = reply.indexOf('.');
  return last > first ? reply.slice(0, last) : reply;
}

/**
 * The bounds asked for, with the defaults filled in.
 * @throws ConfigError when a bound is not a positive integer
 */
export function admissionLimits(asked: Partial<AdmissionLimits>, defaults: AdmissionLimits): AdmissionLimits {
  const limits = { ...defaults, ...dropUndefined(asked) };
  const problems = (Object.keys(limits) as (keyof AdmissionLimits)[])
    .filter((k) => !Number.isSafeInteger(limits[k]) || limits[k] < 1)
    .map((k) => `${k} (${String(limits[k])}) must be a positive integer`);
  if (problems.length > 0) throw new ConfigError(problems);
  return limits;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
