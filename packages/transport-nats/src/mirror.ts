import {
  ConfigError,
  silentLogger,
  unknownKeyProblems,
  type CommittedEvent,
  type KnownKeys,
  type Logger,
  type NodeId,
  type OutcomeFilter,
} from '@raftline/core';
import { CommittedStream, StreamConflict } from './committed-stream';
import { CommittedStreamError } from './errors';
import type { JetStreamOptions, NatsConnection, StreamConfig } from './nats';
import { committedStreamName, groupSubjects } from './subjects';

/** What the mirror needs of a replica: RaftNode satisfies it. */
export interface MirrorSource {
  readonly id: NodeId;
  /** Whether this replica leads now; polled every rolePollMs. */
  isLeader(): boolean;
  /**
   * The committed commands in log order from fromIndex, each with its
   * outcome (RaftNode.committed); the mirror asks for all outcomes.
   */
  committed(options?: { fromIndex?: number; outcomes?: OutcomeFilter }): AsyncIterable<CommittedEvent>;
  /**
   * Keeps log entries from index on when compacting (RaftNode.retainFrom).
   * The mirror pins the log at the stream's tail so that whichever replica
   * leads next can continue the stream without a gap.
   */
  retainFrom?(index: number): void;
}

/** How a replica mirrors its group's committed commands into JetStream. */
export interface MirrorOptions {
  readonly node: MirrorSource;
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** The stream's name (default committedStreamName(cluster, group): `raftline_<cluster>_<group>`). */
  readonly stream?: string;
  /**
   * Settings for the stream when the mirror creates it (storage, num_replicas,
   * max_bytes, …); name and subjects are the mirror's. Defaults: file storage,
   * one replica, deny_delete and deny_purge. A limit must never remove the
   * stream's last message (max_age on an idle stream would): the mirror reads
   * it to know where to resume.
   */
  readonly streamConfig?: Partial<StreamConfig>;
  /** JetStream options (domain, apiPrefix, timeout). */
  readonly jetStream?: JetStreamOptions;
  /** Most publishes awaiting their ack at once (default 256). */
  readonly maxInFlight?: number;
  /** How often the mirror checks whether this replica leads (default 50 ms). */
  readonly rolePollMs?: number;
  /** How long one publish waits for its ack (default 5000 ms). */
  readonly publishTimeoutMs?: number;
  readonly logger?: Logger;
}

/** What a mirror reports about itself. */
export interface MirrorStatus {
  readonly stream: string;
  readonly subject: string;
  /** Whether this replica leads and is mirroring now. */
  readonly active: boolean;
  /** The log index of the last command this mirror knows the stream holds (0: none). */
  readonly lastIndex: number;
  /** The stream sequence of that command. */
  readonly lastSequence: number;
  /** Messages this mirror stored. */
  readonly published: number;
  /** Publishes the stream refused because another writer got there first (each leads to a resync). */
  readonly conflicts: number;
  /** Times the mirror read the stream's tail to (re)start from it. */
  readonly resyncs: number;
  /** Other failures (timeouts, JetStream unavailable, CommittedStreamError). */
  readonly errors: number;
  /** The last failure, if any. */
  readonly lastError?: string;
}

const DEFAULT_MAX_IN_FLIGHT = 256;
const DEFAULT_ROLE_POLL_MS = 50;
const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
const MAX_BACKOFF_MS = 2000;
/** A follower re-reads the stream tail (to pin its log there) once per this many role polls. */
const RETAIN_EVERY_POLLS = 20;
const LOST = Symbol('leadership lost');

/**
 * Mirrors a group's committed commands into one JetStream stream while this
 * replica leads, so that any NATS client can consume them in log order with
 * an ordinary consumer and resume from a stream sequence.
 *
 * Guarantee: the stream holds every committed command entry (no-op and
 * configuration entries are skipped) exactly once, in log order, across
 * leader changes and concurrent writers, each with its outcome (applied,
 * failed, or duplicate of an earlier index) in the payload and in the
 * Raftline-Outcome / Raftline-Duplicate-Of / Raftline-Error headers. Failed
 * and duplicate commands are in the stream too, so its indices skip only
 * Raft's own entries; a consumer that wants applied commands only filters
 * on reading (readCommitted does by default). Each message is published with `Nats-Msg-Id` = its log
 * index and `Nats-Expected-Last-Sequence` = the sequence of the message the
 * publisher believes is last. A publisher starts (at each leadership) by
 * reading the stream's last message, checking it against its own log (same
 * index and term), and continuing from the next committed command; a refused
 * publish (another writer stored first) sends it back to read the tail again.
 * Because every append is conditional on the exact previous message, two
 * writers (a new leader and a deposed one that does not know it yet) can
 * never both append, skip or repeat an index, whatever the dedup window.
 */
export class JetStreamMirror {
  /** The stream's name. */
  readonly stream: string;
  /** The subject the mirror publishes on (groupSubjects(cluster, group).committed). */
  readonly subject: string;
  private readonly node: MirrorSource;
  private readonly logger: Logger;
  private readonly maxInFlight: number;
  private readonly rolePollMs: number;
  private closed = false;
  private active = false;
  private running: Promise<void> = Promise.resolve();
  private wake: () => void = () => {};
  private readonly closing: Promise<void>;
  private last = { index: 0, seq: 0 };
  private readonly counters = { published: 0, conflicts: 0, resyncs: 0, errors: 0 };
  private lastError: string | undefined;

  /**
   * Creates the stream if it does not exist (or checks that the existing one
   * captures the group's subject), pins the node's log at the stream's tail
   * (node.retainFrom), then starts mirroring in the background.
   *
   * Start the mirror before the node: from its first call until it has read
   * the tail, it holds every compaction (retainFrom(1)), so a restarted
   * replica never compacts away commands the stream does not hold yet. While
   * the stream cannot be read (JetStream down), the floor stays where it was
   * last pinned and the log grows behind it; it moves again once JetStream
   * answers.
   * @returns the running mirror; close() stops it
   * @throws ConfigError for a bad or unknown option or an existing stream that does not capture the subject
   * @throws SubjectTokenError when cluster or group is not a valid subject token
   * @throws the nats.js JetStream error when JetStream is not reachable
   */
  static async start(options: MirrorOptions): Promise<JetStreamMirror> {
    validate(options);
    // Hold every compaction until the stream's tail is known: a replica that
    // restarts must not compact past the tail before the mirror has read it.
    options.node.retainFrom?.(1);
    const name = options.stream ?? committedStreamName(options.cluster, options.group);
    const subject = groupSubjects(options.cluster, options.group).committed;
    const target = await CommittedStream.open({
      connection: options.connection,
      name,
      subject,
      ...(options.streamConfig ? { config: options.streamConfig } : {}),
      ...(options.jetStream ? { jetStream: options.jetStream } : {}),
      publishTimeoutMs: options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
    });
    const mirror = new JetStreamMirror(options, name, subject, target);
    await mirror.retainTail();
    mirror.running = mirror.run();
    return mirror;
  }

  private constructor(
    options: MirrorOptions,
    stream: string,
    subject: string,
    private readonly target: CommittedStream,
  ) {
    this.node = options.node;
    this.stream = stream;
    this.subject = subject;
    this.logger = options.logger ?? silentLogger;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.rolePollMs = options.rolePollMs ?? DEFAULT_ROLE_POLL_MS;
    this.closing = new Promise((resolve) => (this.wake = resolve));
  }

  /** @returns a snapshot of the mirror's state and counters */
  status(): MirrorStatus {
    return {
      stream: this.stream,
      subject: this.subject,
      active: this.active,
      lastIndex: this.last.index,
      lastSequence: this.last.seq,
      ...this.counters,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Stops mirroring and waits for the publishes in flight to settle. Idempotent; leaves the connection open. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.running;
  }

  // ------------------------------------------------------------ internals

  /** Mirrors during each leadership of this replica, until closed. */
  private async run(): Promise<void> {
    let failures = 0;
    let polls = 1; // start() has just pinned the tail
    while (!this.closed) {
      if (!this.node.isLeader()) {
        this.active = false;
        if (polls++ % RETAIN_EVERY_POLLS === 0) await this.retainTail();
        await this.sleep(this.rolePollMs);
        continue;
      }
      this.active = true;
      try {
        const ended = await this.mirrorLeadership();
        this.active = false;
        failures = 0;
        // The committed stream ended while this replica still says it leads: the node stopped.
        if (ended) await this.sleep(MAX_BACKOFF_MS);
      } catch (err) {
        this.active = false;
        failures++;
        const conflict = err instanceof StreamConflict;
        if (conflict) this.counters.conflicts++;
        else this.counters.errors++;
        this.lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        const log = conflict ? this.logger.debug : this.logger.warn;
        log.call(this.logger, { node: this.node.id, stream: this.stream, err }, 'committed mirror resyncs');
        await this.sleep(conflict ? 5 : Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(failures, 7)));
      }
    }
    this.active = false;
  }

  /**
   * Reads the stream's tail, checks it against the log, then publishes the
   * committed commands after it, pipelined, until leadership is lost (returns
   * false) or the committed stream ends (returns true: the node stopped), or
   * a publish fails (throws, after the publishes in flight settle).
   */
  private async mirrorLeadership(): Promise<boolean> {
    const tail = await this.target.tail();
    this.counters.resyncs++;
    this.last = { index: tail.index, seq: tail.seq };
    const lost = this.watchLeadership();
    const from = Math.max(1, tail.index);
    // Pin the log at the tail before reading from it: the next compaction must not take what comes next.
    this.node.retainFrom?.(from);
    const events = this.node.committed({ fromIndex: from, outcomes: 'all' })[Symbol.asyncIterator]();
    const inflight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    let failed: (stop: typeof LOST) => void = () => {};
    // Stop waiting for the next event when leadership is lost or a publish failed.
    const stop = Promise.race([lost.signal, new Promise<typeof LOST>((resolve) => (failed = resolve))]);
    let expected = tail.seq;
    try {
      if (tail.index > 0) {
        const first = await nextOrStop(events, stop);
        if (first === LOST) return false;
        if (first.done) return true;
        if (first.value.index !== tail.index || first.value.term !== tail.term) {
          throw new CommittedStreamError(
            this.stream,
            `its last message is index ${tail.index} term ${tail.term}, but this log has ` +
              `index ${first.value.index} term ${first.value.term} there: it holds another history`,
          );
        }
      }
      let ended = false;
      while (!failure) {
        const next = await nextOrStop(events, stop);
        if (next === LOST) break;
        if (next.done) {
          ended = true;
          break;
        }
        while (inflight.size >= this.maxInFlight && !failure) await Promise.race(inflight);
        if (failure) break;
        // Invariant: the stream's messages up to seq `expected` are the committed commands before this one.
        const p: Promise<void> = this.publish(next.value, expected++)
          .catch((err: unknown) => {
            failure ??= { err };
            failed(LOST);
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
      if (failure) throw failure.err;
      return ended;
    } finally {
      lost.cancel();
      events.return?.(undefined)?.catch(() => undefined);
    }
  }

  /** Appends one committed command on condition that the stream's last sequence is expectedLast. */
  private async publish(event: CommittedEvent, expectedLast: number): Promise<void> {
    const seq = await this.target.append(event, expectedLast);
    if (seq > this.last.seq) {
      this.last = { index: event.index, seq };
      this.node.retainFrom?.(event.index);
    }
    this.counters.published++;
  }

  /** Pins this replica's log at the stream's tail (followers do this now and then). */
  private async retainTail(): Promise<void> {
    if (!this.node.retainFrom) return;
    try {
      const tail = await this.target.tail();
      this.node.retainFrom(Math.max(1, tail.index));
    } catch (err) {
      this.logger.debug({ node: this.node.id, stream: this.stream, err }, 'could not read the stream tail');
    }
  }

  /** A signal that fires when this replica stops leading or the mirror closes. */
  private watchLeadership(): { signal: Promise<typeof LOST>; cancel(): void } {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const signal = new Promise<typeof LOST>((resolve) => {
      const check = () => {
        if (cancelled) return;
        if (this.closed || !this.node.isLeader()) resolve(LOST);
        else timer = setTimeout(check, this.rolePollMs);
      };
      timer = setTimeout(check, this.rolePollMs);
      void this.closing.then(() => resolve(LOST));
    });
    return {
      signal,
      cancel: () => {
        cancelled = true;
        clearTimeout(timer);
      },
    };
  }

  /** Resolves after ms, or at once when the mirror closes. */
  private sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      this.closing,
    ]).finally(() => clearTimeout(timer));
  }
}

/**
 * Starts mirroring a replica's committed commands into its group's JetStream
 * stream (see JetStreamMirror): `await mirrorCommitted({ node: replica.node, connection, cluster, group })`.
 * Every replica of the group may run one; only the leader's publishes.
 * Start it before the node, so no compaction runs before it has pinned the
 * log at the stream's tail.
 * @returns the running mirror; close it before stopping the node
 * @throws as JetStreamMirror.start
 */
export function mirrorCommitted(options: MirrorOptions): Promise<JetStreamMirror> {
  return JetStreamMirror.start(options);
}

/** The next event, or LOST if stop fires first (the pending next() is then abandoned, never rejected unhandled). */
async function nextOrStop<T>(
  it: AsyncIterator<T>,
  stop: Promise<typeof LOST>,
): Promise<IteratorResult<T> | typeof LOST> {
  const next = it.next();
  next.catch(() => undefined);
  return Promise.race([next, stop]);
}

const MIRROR_OPTION_KEYS: KnownKeys<MirrorOptions> = {
  node: true,
  connection: true,
  cluster: true,
  group: true,
  stream: true,
  streamConfig: true,
  jetStream: true,
  maxInFlight: true,
  rolePollMs: true,
  publishTimeoutMs: true,
  logger: true,
};

function validate(options: MirrorOptions): void {
  const problems = unknownKeyProblems(options, MIRROR_OPTION_KEYS, 'mirror options');
  for (const field of ['maxInFlight', 'rolePollMs', 'publishTimeoutMs'] as const) {
    const v = options[field];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      problems.push(`${field} (${String(v)}) must be a positive integer`);
    }
  }
  if (options.stream !== undefined && !/^[^\s.*>/\\]+$/.test(options.stream)) {
    problems.push(
      `stream (${JSON.stringify(options.stream)}) must be non-empty, without whitespace, '.', '*', '>', '/' or '\\'`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
