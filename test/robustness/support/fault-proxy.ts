// A TCP proxy on a loopback port in front of one upstream (a nats-server):
// each replica of the robustness suite reaches NATS through one, and the
// nemesis breaks its link with it. node:net only.
//
// Both sockets of a connection are opened with allowHalfOpen, so node never
// half-closes one on its own: a peer's FIN ends the connection (both sides
// reset) instead. socket.resetAndDestroy() on a socket whose write side is
// shutting down fails with EINVAL (libuv refuses SO_LINGER then), and node
// drops that handle without closing it: its fd stays open and the process
// never exits (node spins in its exit cleanup waiting for the handle).
import { createServer, connect, type Server, type Socket } from 'node:net';

/** What a FaultProxy does with the bytes it carries. */
export type LinkMode =
  /** Forwards every byte (after `delayMs`, if set). */
  | 'pass'
  /**
   * Loses every byte in both directions while connections stay open, as a
   * partition does: the peers hear silence. New connections are accepted and
   * silenced too. When the link heals, every connection that lost bytes is
   * reset (its byte stream has a gap), so the client reconnects.
   */
  | 'drop'
  /** Resets every connection and every new one at once (connection refused, as it were). */
  | 'cut'
  /**
   * One way only, as an asymmetric partition: the bytes from the proxy's
   * client to its upstream are lost (the client speaks and is not heard),
   * the other direction passes. Reset when healed, as after 'drop'.
   */
  | 'drop-up'
  /** One way only: the bytes from the upstream to the client are lost (the client hears nothing). */
  | 'drop-down';

/** Counters of one proxy, for a test and a run's summary. */
export interface ProxyStats {
  /** Connections accepted from clients, over the proxy's life. */
  readonly accepted: number;
  /** Connections reset by the proxy (cut, healed after drop, or an upstream that failed). */
  readonly reset: number;
  /** Bytes forwarded, and bytes lost while dropping. */
  readonly forwardedBytes: number;
  readonly droppedBytes: number;
  /** Connections open now. */
  readonly open: number;
}

/** Raised for a bad setting of a FaultProxy (a negative delay, a port that is no port). */
export class FaultProxyError extends Error {
  override readonly name = 'FaultProxyError';
}

/** One direction of one connection: chunks in arrival order, each written once its time has come. */
class Lane {
  private readonly queue: { chunk: Buffer; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: Socket,
    private readonly wrote: (bytes: number) => void,
  ) {}

  /** Writes chunk delayMs from now, never before a chunk that came earlier. */
  push(chunk: Buffer, delayMs: number): void {
    if (delayMs === 0 && this.queue.length === 0) return this.write(chunk);
    this.queue.push({ chunk, at: Date.now() + delayMs });
    this.pump();
  }

  /** Forgets what is queued. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private pump(): void {
    if (this.timer) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) this.write(this.queue.shift()!.chunk);
    const head = this.queue[0];
    if (head) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, head.at - now);
    }
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed) return;
    this.wrote(chunk.length);
    this.to.write(chunk);
  }
}

/** Which way a chunk goes: from the client to the upstream, or back. */
export type Direction = 'up' | 'down';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly up: Lane;
  readonly down: Lane;
  /** Whether bytes were lost on this connection (it is reset when the link heals). */
  lost: boolean;
}

/**
 * A TCP proxy from a loopback port to `upstream`, whose link a test
 * controls: `cut()`, `drop()`, `delay(ms)`, `heal()`. Delayed chunks keep
 * their order in each direction. An upstream that refuses or fails resets
 * the client's connection (so a restarted nats-server looks like one to the
 * client). Only 127.0.0.1.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private linkMode: LinkMode = 'pass';
  private delayMs = 0;
  private counts = { accepted: 0, reset: 0, forwardedBytes: 0, droppedBytes: 0 };
  private listenPort = 0;

  /**
   * @param upstreamPort the loopback port the proxy forwards to
   * @throws FaultProxyError when upstreamPort is not a port number
   */
  constructor(private readonly upstreamPort: number) {
    if (!Number.isInteger(upstreamPort) || upstreamPort < 1 || upstreamPort > 65535) {
      throw new FaultProxyError(`upstreamPort (${upstreamPort}) must be an integer from 1 to 65535`);
    }
  }

  /**
   * Listens on 127.0.0.1 (port 0: any free port).
   * @returns the port it listens on
   * @throws the listen error (e.g. EADDRINUSE)
   */
  async listen(port = 0): Promise<number> {
    const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.listenPort = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
    return this.listenPort;
  }

  /** The port it listens on (0 before listen()). */
  get port(): number {
    return this.listenPort;
  }

  /** `127.0.0.1:<port>`, for a NATS servers list. */
  get url(): string {
    return `127.0.0.1:${this.listenPort}`;
  }

  /** The link's mode now. */
  get mode(): LinkMode {
    return this.linkMode;
  }

  /** Counters so far. */
  stats(): ProxyStats {
    return { ...this.counts, open: this.pairs.size };
  }

  /** Resets every open connection and refuses (resets) new ones until heal(). */
  cut(): void {
    this.linkMode = 'cut';
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  /** Loses every byte from now on, keeping connections open, until heal() (see LinkMode 'drop'). */
  drop(): void {
    this.linkMode = 'drop';
  }

  /**
   * Loses the bytes of one direction from now on until heal(), the other
   * passing: 'up' (client to upstream) or 'down' (see LinkMode 'drop-up').
   */
  dropOneWay(direction: Direction): void {
    this.linkMode = direction === 'up' ? 'drop-up' : 'drop-down';
  }

  /**
   * Delays every chunk by ms in each direction from now on (0: none), in
   * whatever mode the link is; heal() keeps it. Chunks already delayed keep
   * their time, and no chunk overtakes an earlier one.
   * @throws FaultProxyError when ms is negative or not finite
   */
  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new FaultProxyError(`delay (${ms}) must be a finite ms >= 0`);
    this.delayMs = ms;
  }

  /** The delay now, in ms. */
  get delayed(): number {
    return this.delayMs;
  }

  /** Forwards again: resets connections that lost bytes while dropping. The delay stays (delay(0) ends it). */
  heal(): void {
    this.linkMode = 'pass';
    for (const pair of [...this.pairs]) if (pair.lost) this.reset(pair);
  }

  /** Resets every connection (as a server that restarted would); the mode stays as it is. */
  resetAll(): void {
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  /** Stops listening and resets every connection. Idempotent. */
  async close(): Promise<void> {
    this.resetAll();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.counts.accepted++;
    if (this.linkMode === 'cut') {
      this.counts.reset++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort, allowHalfOpen: true });
    const wrote = (bytes: number) => (this.counts.forwardedBytes += bytes);
    const up = new Lane(upstream, wrote);
    const down = new Lane(client, wrote);
    const pair: Pair = { client, upstream, up, down, lost: false };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.carry(pair, chunk, up, 'up'));
    upstream.on('data', (chunk: Buffer) => this.carry(pair, chunk, down, 'down'));
    // A peer that half-closes (FIN) or fails ends the connection for both peers.
    const end = () => this.reset(pair);
    for (const s of [client, upstream]) {
      s.on('end', end);
      s.on('error', end);
      s.on('close', end);
    }
  }

  private carry(pair: Pair, chunk: Buffer, lane: Lane, direction: Direction): void {
    const mode = this.linkMode;
    if (mode === 'drop' || mode === 'cut' || mode === `drop-${direction}`) {
      pair.lost = true;
      this.counts.droppedBytes += chunk.length;
      return;
    }
    lane.push(chunk, this.delayMs);
  }

  private reset(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    this.counts.reset++;
    pair.up.clear();
    pair.down.clear();
    for (const s of [pair.client, pair.upstream]) {
      s.on('error', () => undefined);
      if (s.destroyed) continue;
      // Never reset a socket whose write side has ended (see the file comment): destroy it.
      if (s.writableEnded) s.destroy();
      else s.resetAndDestroy();
    }
  }
}
