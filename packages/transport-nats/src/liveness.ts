import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger, NodeId } from '@raftline/core';
import { isNoResponders } from './client';
import { DuplicateNodeError, type LiveInstance } from './errors';
import type { Msg, NatsConnection, Subscription } from './nats';

/**
 * One live transport per (cluster, group, node) on a NATS account. Every
 * transport answers on `raftline.<cluster>.<group>.alive.<node>` from the
 * moment it subscribes until close(). The answer gives its state (`starting`
 * inside NatsTransport.create, then `running`), pid, host, start time and a
 * random instance nonce. A starting transport:
 *
 * 1. Sends one request before subscribing. When nobody listens, NATS answers
 *    "no responders" at once, so the usual start does not wait. Silence until
 *    `probeMs` means that nobody is alive. A subscriber that never answers,
 *    such as `nats sub 'raftline.>'`, costs that wait and nothing more.
 * 2. Subscribes, and answers others from now on.
 * 3. Asks again, and collects every answer until `raceMs` pass with no new
 *    one. Its own answer arrives first, within one round trip.
 *
 * It refuses with DuplicateNodeError on an answer from a `running` instance,
 * or from a `starting` one that is earlier: smaller (startedAt, nonce). A
 * starting instance that hears the probe of an earlier starting one gives way
 * too: from then on it answers `yielding` (which others ignore) and it
 * refuses. One that hears the probe of a later one answers `starting`, and the
 * later one refuses.
 *
 * Why two processes that start at once do not both run: each subscribes
 * before its second request. On one NATS server, the request that the server
 * handles later reaches the other instance's subscription, and the rule above
 * lets exactly one of the two through. This holds if the other answers
 * within `raceMs`. When several start together, at most one runs; it may be
 * none, when the earliest gives way to yet another.
 *
 * Not covered:
 * - an instance that starts while the first one is cut off from NATS (its
 *   subscription is gone, so nobody answers);
 * - a live instance too busy to answer within `probeMs`;
 * - on a NATS cluster of several servers, two starts within the time the
 *   servers take to propagate a new subscription.
 *
 * The PostgreSQL store's node lock (@raftline/store-postgres) refuses the
 * second writer in all of these.
 */

interface Probe {
  readonly probe: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: number;
}

/** What an instance answers; `yielding`: it gave way to an earlier one and will not start (others ignore it). */
interface Answer extends Omit<LiveInstance, 'state'> {
  readonly nonce: string;
  readonly state: LiveInstance['state'] | 'yielding';
}

/** What NodePresence.claim needs. */
export interface PresenceOptions {
  readonly connection: NatsConnection;
  /** groupSubjects(cluster, group).alive(nodeId) */
  readonly subject: string;
  readonly cluster: string;
  readonly group: string;
  readonly nodeId: NodeId;
  /** How long a live instance has to answer the first request. */
  readonly probeMs: number;
  /** After subscribing, how long to wait for one more answer before deciding nobody else starts. */
  readonly raceMs: number;
  readonly logger: Logger;
}

/** Whether a started before b: (startedAt, nonce) order, the same on every host. */
function earlier(a: { startedAt: number; nonce: string }, b: { startedAt: number; nonce: string }): boolean {
  return a.startedAt !== b.startedAt ? a.startedAt < b.startedAt : a.nonce < b.nonce;
}

/** The claim of one transport on its node id: its answering subscription. */
export class NodePresence {
  private state: Answer['state'] | 'closed' = 'starting';
  /** Who this instance gave way to (set with state 'yielding'). */
  private yieldedTo: LiveInstance | undefined;
  private sub: Subscription | undefined;
  private readonly me: Answer;

  private constructor(private readonly o: PresenceOptions) {
    const nonce = randomBytes(9).toString('base64url');
    this.me = { nonce, pid: process.pid, host: hostname(), startedAt: Date.now(), state: 'starting' };
  }

  /**
   * Claims options.nodeId (see the file comment).
   * @returns the claim, answering until close()
   * @throws DuplicateNodeError when a running instance, or an earlier starting one, answers for the node id
   * @throws the nats.js error when the connection is closed or refuses the subject
   */
  static async claim(o: PresenceOptions): Promise<NodePresence> {
    const presence = new NodePresence(o);
    try {
      await presence.run();
    } catch (err) {
      presence.close();
      throw err;
    }
    return presence;
  }

  /** Stops answering: the node id is free. Idempotent. */
  close(): void {
    this.state = 'closed';
    if (this.sub) unsubscribe(this.sub);
  }

  private async run(): Promise<void> {
    const { connection: nc, subject, probeMs } = this.o;
    const { nonce, pid, host, startedAt } = this.me;
    const probe = encode({ probe: nonce, pid, host, startedAt } satisfies Probe);

    const first = await askOne(nc, subject, probe, probeMs);
    if (first && this.outranks(first)) throw this.refusal(first);

    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) this.answer(msg);
      },
    });
    await bounded(nc.flush(), probeMs);
    for (const other of await askAll(nc, subject, probe, this.o, nonce)) {
      if (this.outranks(other)) throw this.refusal(other);
    }
    if (this.yieldedTo) throw this.refusal(this.yieldedTo);
    this.state = 'running';
  }

  /** Whether other's answer means this instance must not start: it runs, or it starts and is earlier. */
  private outranks(other: Answer): other is Answer & LiveInstance {
    return other.state === 'running' || (other.state === 'starting' && earlier(other, this.me));
  }

  private refusal(other: LiveInstance): DuplicateNodeError {
    const { pid, host, startedAt, state } = other;
    return new DuplicateNodeError(this.o.cluster, this.o.group, this.o.nodeId, {
      pid,
      host,
      startedAt,
      state,
    });
  }

  /** Answers a probe; gives way first when the prober is an earlier starting instance. */
  private answer(msg: Msg): void {
    if (this.state === 'closed') return;
    const probe = decode<Probe>(
      msg.data,
      (v) => typeof v.probe === 'string' && typeof v.startedAt === 'number',
    );
    if (probe && probe.probe !== this.me.nonce) {
      const prober = { nonce: probe.probe, startedAt: probe.startedAt };
      if (this.state === 'starting' && earlier(prober, this.me)) {
        this.state = 'yielding';
        this.yieldedTo = { pid: probe.pid, host: probe.host, startedAt: probe.startedAt, state: 'starting' };
      }
      if (this.state === 'running') {
        this.o.logger.warn(
          { node: this.o.nodeId, pid: probe.pid, host: probe.host },
          'another process is starting with this node id; it is refused',
        );
      }
    }
    try {
      if (msg.reply) msg.respond(encode({ ...this.me, state: this.state }));
    } catch {
      // the connection is closing: nobody to answer
    }
  }
}

/** The first answer to one request, or undefined after "no responders" or probeMs of silence. */
async function askOne(
  nc: NatsConnection,
  subject: string,
  probe: Uint8Array,
  probeMs: number,
): Promise<Answer | undefined> {
  try {
    return asAnswer(await nc.request(subject, probe, { timeout: probeMs }));
  } catch (err) {
    if (isNoResponders(err) || isTimeout(err)) return undefined;
    throw err;
  }
}

/** Every answer from another instance, until raceMs pass without one (or probeMs in all). */
async function askAll(
  nc: NatsConnection,
  subject: string,
  probe: Uint8Array,
  o: PresenceOptions,
  mine: string,
): Promise<Answer[]> {
  const found: Answer[] = [];
  try {
    const replies = await nc.requestMany(subject, probe, {
      strategy: 'stall',
      stall: o.raceMs,
      maxWait: o.probeMs,
    });
    for await (const msg of replies) {
      const a = asAnswer(msg);
      if (a && a.nonce !== mine) found.push(a);
    }
  } catch (err) {
    if (!isNoResponders(err) && !isTimeout(err)) throw err;
  }
  return found;
}

function asAnswer(msg: Msg): Answer | undefined {
  return decode<Answer>(
    msg.data,
    (v) =>
      typeof v.nonce === 'string' &&
      typeof v.pid === 'number' &&
      typeof v.host === 'string' &&
      typeof v.startedAt === 'number' &&
      (v.state === 'running' || v.state === 'starting' || v.state === 'yielding'),
  );
}

function encode(value: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** The JSON object in data when check accepts it; undefined for anything else (never throws). */
function decode<T>(data: Uint8Array, check: (v: Record<string, unknown>) => boolean): T | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as unknown;
    if (typeof v === 'object' && v !== null && check(v as Record<string, unknown>)) return v as T;
  } catch {
    // not JSON: not an answer
  }
  return undefined;
}

function isTimeout(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'TimeoutError' || (err.cause instanceof Error && err.cause.name === 'TimeoutError');
}

/** Resolves when p settles or after ms, whichever comes first. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function unsubscribe(sub: Subscription): void {
  try {
    sub.unsubscribe();
  } catch {
    // the connection is already closed
  }
}
