import { randomBytes } from 'node:crypto';
import type { NatsConnection, NodeConnectionOptions, Subscription } from './nats';
import {
  checkKnownKeys,
  ConfigError,
  silentLogger,
  type KnownKeys,
  type Logger,
  type Message,
  type NodeId,
  type Transport,
} from '@raftline/core';
import { ConnectionMonitor, connectNats, isConnection } from './connection';
import { DROP_REASONS, FrameRejection, type DropReason } from './drops';
import { FrameCodec } from './frame';
import { Reassembler } from './reassembly';
import { checkToken, groupSubjects, type GroupSubjects } from './subjects';
import { TransportStateError } from './errors';
import { NodePresence } from './liveness';

/** How one node of one Raft group reaches its peers over NATS. */
export interface NatsTransportOptions {
  /** The cluster id; a subject token, and part of every frame. */
  readonly cluster: string;
  /** The Raft group within the cluster; a subject token. */
  readonly group: string;
  /** This node's id; a subject token. */
  readonly nodeId: NodeId;
  /**
   * An open connection, shared by any number of groups and left open by
   * close(); or nats.js connection options (every auth option passes through),
   * in which case the transport opens its own connection with connectNats and
   * closes it on close().
   */
  readonly connection: NatsConnection | NodeConnectionOptions;
  /** Authenticates every frame with HMAC-SHA256 under this key; frames without a valid MAC are dropped. */
  readonly clusterKey?: string | Uint8Array;
  /** Largest frame sent or accepted, chunks joined (default 64 MiB). */
  readonly maxFrameBytes?: number;
  /** A chunked frame must be complete within this time (default 5000 ms). */
  readonly reassemblyTimeoutMs?: number;
  /** Most chunk bytes held for reassembly at once (default 64 MiB). */
  readonly maxReassemblyBytes?: number;
  /** Most chunked frames reassembled at once (default 64). */
  readonly maxReassemblyFrames?: number;
  /**
   * At create(), how long a live transport with this node id has to answer
   * before this one concludes that none runs (default 1000 ms; see liveness.ts).
   */
  readonly duplicateProbeMs?: number;
  /**
   * At create(), after subscribing, how long to wait for the answer of another
   * instance starting at the same moment (default 200 ms; every create() waits
   * this long).
   */
  readonly duplicateRaceMs?: number;
  readonly logger?: Logger;
}

/** Why an outbound message was not published. */
export type SendDropReason = 'disconnected' | 'oversize' | 'closed' | 'error';

/** Counters of one transport since it was created. */
export interface NatsTransportStats {
  readonly connected: boolean;
  /** Frames published (a chunked frame counts once), and the messages and chunks in them. */
  readonly sent: {
    readonly frames: number;
    readonly messages: number;
    readonly chunks: number;
    readonly bytes: number;
  };
  /** Frames, messages and chunks accepted. */
  readonly received: { readonly frames: number; readonly messages: number; readonly chunks: number };
  /** Inbound frames dropped, by reason (a refused chunk counts once). */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Outbound messages not published, by reason. */
  readonly sendDropped: Readonly<Record<SendDropReason, number>>;
  /** Chunked frames being reassembled now, and the bytes they hold. */
  readonly reassembling: { readonly frames: number; readonly bytes: number };
}

const MIB = 1024 * 1024;
const LISTEN_FLUSH_TIMEOUT_MS = 2000;
const DUPLICATE_PROBE_MS = 1000;
const DUPLICATE_RACE_MS = 200;

/**
 * The Transport port over NATS. Messages to one peer in one send() travel as
 * one frame on `raftline.<cluster>.<group>.raft.<peer>`; a frame larger than
 * the server's max_payload is split into chunks and joined on receipt.
 * Delivery is best effort, as Raft expects: while NATS is unreachable,
 * send() drops; nothing is buffered.
 *
 * One live transport per (cluster, group, node): create() refuses with
 * DuplicateNodeError while another process (or another transport of this
 * one) answers for the same node id, and the transport answers for it from
 * create() to close() (liveness.ts).
 */
export class NatsTransport implements Transport {
  /** The NATS connection in use (shared or owned). */
  readonly connection: NatsConnection;
  readonly subjects: GroupSubjects;
  readonly nodeId: NodeId;
  private readonly owned: boolean;
  private readonly codec: FrameCodec;
  private readonly monitor: ConnectionMonitor;
  private readonly reassembler: Reassembler;
  private readonly maxFrameBytes: number;
  /**
   * The largest entry payload one frame carries within maxFrameBytes (see
   * Transport.maxEntryBytes): RaftNode refuses larger proposals, since no
   * frame could replicate them.
   */
  readonly maxEntryBytes: number;
  private readonly logger: Logger;
  private readonly chunkPrefix = randomBytes(6).toString('base64url');
  private chunkSeq = 0;
  private sub: Subscription | undefined;
  private presence: NodePresence | undefined;
  private closed = false;
  private readonly counters = {
    sent: { frames: 0, messages: 0, chunks: 0, bytes: 0 },
    received: { frames: 0, messages: 0, chunks: 0 },
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    sendDropped: { disconnected: 0, oversize: 0, closed: 0, error: 0 } as Record<SendDropReason, number>,
  };

  /**
   * Creates a transport, opening a connection when options.connection holds
   * connection options, and claims its node id: it first makes sure that no
   * other live transport answers for (cluster, group, nodeId) (liveness.ts),
   * which takes about duplicateRaceMs.
   * @returns the transport, not yet listening, answering for its node id until close()
   * @throws SubjectTokenError when cluster, group or nodeId is not a valid subject token
   * @throws ConfigError when a limit is not a positive integer, clusterKey is empty or an option key is unknown
   * @throws DuplicateNodeError when another live transport answers for the same node id (the connection
   *   this call opened is closed again)
   * @throws the nats.js connection error when a connection must be opened and cannot be
   */
  static async create(options: NatsTransportOptions): Promise<NatsTransport> {
    validate(options);
    let transport: NatsTransport;
    if (isConnection(options.connection)) {
      transport = new NatsTransport(options, options.connection, false);
    } else {
      const nc = await connectNats({
        name: `raftline ${options.cluster}/${options.group}/${options.nodeId}`,
        ...options.connection,
      });
      transport = new NatsTransport(options, nc, true);
    }
    try {
      transport.presence = await NodePresence.claim({
        connection: transport.connection,
        subject: transport.subjects.alive(options.nodeId),
        cluster: options.cluster,
        group: options.group,
        nodeId: options.nodeId,
        probeMs: options.duplicateProbeMs ?? DUPLICATE_PROBE_MS,
        raceMs: options.duplicateRaceMs ?? DUPLICATE_RACE_MS,
        logger: transport.logger,
      });
    } catch (err) {
      await transport.close();
      throw err;
    }
    return transport;
  }

  private constructor(options: NatsTransportOptions, nc: NatsConnection, owned: boolean) {
    this.connection = nc;
    this.owned = owned;
    this.nodeId = options.nodeId;
    this.subjects = groupSubjects(options.cluster, options.group);
    this.codec = new FrameCodec(options);
    this.monitor = ConnectionMonitor.of(nc);
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * MIB;
    this.maxEntryBytes = Math.max(0, this.maxFrameBytes - this.codec.entryOverhead());
    this.logger = options.logger ?? silentLogger;
    this.reassembler = new Reassembler(
      {
        timeoutMs: options.reassemblyTimeoutMs ?? 5000,
        maxBytes: options.maxReassemblyBytes ?? 64 * MIB,
        maxFrames: options.maxReassemblyFrames ?? 64,
        maxFrameBytes: this.maxFrameBytes,
      },
      (n) => (this.counters.dropped['reassembly-timeout'] += n),
    );
  }

  /**
   * Publishes the messages, one frame per recipient (in the order given),
   * chunked when larger than the server's max_payload; every frame names this
   * node as its sender, whatever a message's `from` says. Never throws: messages that cannot be published
   * (closed, disconnected, oversize, a publish error) are dropped and counted.
   */
  send(messages: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, batch] of byPeer) {
      const reason = this.sendFrame(to, batch);
      if (reason) this.counters.sendDropped[reason] += batch.length;
    }
  }

  /**
   * Subscribes to this node's subject and delivers each valid inbound message
   * to handler, synchronously and in arrival order. Resolves once the server
   * has the subscription (or after a bounded wait while NATS is unreachable:
   * the subscription is renewed on reconnect).
   * @throws TransportStateError when already listening or closed
   */
  async listen(handler: (message: Message) => void): Promise<void> {
    if (this.closed) throw new TransportStateError(`transport of ${this.nodeId} is closed`);
    if (this.sub) throw new TransportStateError(`transport of ${this.nodeId} is already listening`);
    this.sub = this.connection.subscribe(this.subjects.raft(this.nodeId), {
      callback: (err, msg) => {
        if (!err) this.receive(msg.data, handler);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.connection.flush().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, LISTEN_FLUSH_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Stops receiving and answering for the node id, drops partial frames, and
   * closes the connection if this transport opened it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.presence?.close();
    this.reassembler.clear();
    try {
      this.sub?.unsubscribe();
    } catch {
      // the connection is already closed: nothing to unsubscribe
    }
    if (this.owned && !this.connection.isClosed()) await this.connection.close();
  }

  /** @returns a copy of the counters */
  stats(): NatsTransportStats {
    const c = this.counters;
    return {
      connected: this.monitor.up,
      sent: { ...c.sent },
      received: { ...c.received },
      dropped: { ...c.dropped },
      sendDropped: { ...c.sendDropped },
      reassembling: this.reassembler.size,
    };
  }

  // ------------------------------------------------------------ internals

  /** Publishes one frame; returns why it was dropped, or undefined once published. */
  private sendFrame(to: NodeId, batch: readonly Message[]): SendDropReason | undefined {
    if (this.closed) return 'closed';
    const maxPayload = this.monitor.maxPayload;
    if (maxPayload === undefined) return 'disconnected';
    try {
      const subject = this.subjects.raft(to);
      const wire = this.codec.encodeRaft(to, batch);
      if (wire.byteLength > this.maxFrameBytes) return 'oversize';
      if (wire.byteLength <= maxPayload) {
        this.connection.publish(subject, wire);
        this.counters.sent.bytes += wire.byteLength;
      } else {
        const term = batch.reduce((t, m) => Math.max(t, m.term), 0);
        if (!this.publishChunks(subject, to, term, wire, maxPayload)) return 'oversize';
      }
      this.counters.sent.frames++;
      this.counters.sent.messages += batch.length;
      return undefined;
    } catch (err) {
      this.logger.warn({ node: this.nodeId, to, err }, 'dropped an outbound frame');
      return 'error';
    }
  }

  /** Splits wire into chunk frames below maxPayload; returns false when even a chunk cannot fit. */
  private publishChunks(
    subject: string,
    to: NodeId,
    term: number,
    wire: Uint8Array,
    maxPayload: number,
  ): boolean {
    const id = `${this.chunkPrefix}${(this.chunkSeq++).toString(36)}`;
    const room = maxPayload - this.codec.chunkOverhead(to, term, id);
    if (room <= 0) return false;
    const total = Math.max(2, Math.ceil(wire.byteLength / room));
    const size = Math.ceil(wire.byteLength / total);
    for (let i = 0; i < total; i++) {
      const chunk = this.codec.encodeChunk(to, term, id, i, total, wire.subarray(i * size, (i + 1) * size));
      this.connection.publish(subject, chunk);
      this.counters.sent.chunks++;
      this.counters.sent.bytes += chunk.byteLength;
    }
    return true;
  }

  private receive(data: Uint8Array, handler: (message: Message) => void): void {
    if (this.closed) return;
    try {
      if (data.byteLength > this.maxFrameBytes)
        throw new FrameRejection('oversize', `${data.byteLength} bytes`);
      let frame = this.codec.decode(data);
      if (frame.type === 'chunk') {
        this.counters.received.chunks++;
        const whole = this.reassembler.add(frame.from, frame);
        if (!whole) return;
        const inner = this.codec.decode(whole);
        if (inner.type !== 'raft' || inner.from !== frame.from) {
          throw new FrameRejection(
            'malformed',
            'a chunked frame must carry a raft frame from the same sender',
          );
        }
        frame = inner;
      }
      this.counters.received.frames++;
      this.counters.received.messages += frame.messages.length;
      for (const m of frame.messages) this.deliver(m, handler);
    } catch (err) {
      if (err instanceof FrameRejection) {
        this.counters.dropped[err.reason]++;
        this.logger.debug(
          { node: this.nodeId, reason: err.reason, detail: err.message },
          'dropped an inbound frame',
        );
      } else {
        // A bug in decoding, not a bad frame: still never thrown into NATS or the node.
        this.counters.dropped.malformed++;
        this.logger.error({ node: this.nodeId, err }, 'failed to decode an inbound frame');
      }
    }
  }

  private deliver(m: Message, handler: (message: Message) => void): void {
    try {
      handler(m);
    } catch (err) {
      this.logger.error({ node: this.nodeId, from: m.from, type: m.type, err }, 'message handler threw');
    }
  }
}

const TRANSPORT_OPTION_KEYS: KnownKeys<NatsTransportOptions> = {
  cluster: true,
  group: true,
  nodeId: true,
  connection: true,
  clusterKey: true,
  maxFrameBytes: true,
  reassemblyTimeoutMs: true,
  maxReassemblyBytes: true,
  maxReassemblyFrames: true,
  duplicateProbeMs: true,
  duplicateRaceMs: true,
  logger: true,
};

function validate(options: NatsTransportOptions): void {
  checkKnownKeys(options, TRANSPORT_OPTION_KEYS, 'NatsTransport options');
  checkToken('cluster', options.cluster);
  checkToken('group', options.group);
  checkToken('nodeId', options.nodeId);
  const problems: string[] = [];
  for (const field of [
    'maxFrameBytes',
    'reassemblyTimeoutMs',
    'maxReassemblyBytes',
    'maxReassemblyFrames',
    'duplicateProbeMs',
    'duplicateRaceMs',
  ] as const) {
    const v = options[field];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      problems.push(`${field} (${String(v)}) must be a positive integer`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
