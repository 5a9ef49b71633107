import { natsConnect, type NatsConnection, type NodeConnectionOptions } from './nats';

/**
 * raftline's defaults for a NATS connection: reconnect for ever (Raft rides
 * out the outage: messages are dropped meanwhile, never buffered), retry
 * quickly, and notice a dead server within seconds rather than minutes.
 * Every option given to connectNats overrides these.
 */
export const DEFAULT_CONNECTION_OPTIONS: Readonly<NodeConnectionOptions> = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 100,
  pingInterval: 5_000,
  maxPingOut: 2,
  timeout: 5_000,
};

/**
 * Opens a NATS connection with raftline's defaults under the given options.
 * Every nats.js option passes through: servers, user/pass, token,
 * authenticator (nkeyAuthenticator, credsAuthenticator, jwtAuthenticator), tls, name, …
 * @returns the open connection; the caller owns it and closes it
 * @throws the nats.js connection error (e.g. ConnectionError, AuthorizationError) when no server accepts it
 */
export function connectNats(options: NodeConnectionOptions = {}): Promise<NatsConnection> {
  return natsConnect({ ...DEFAULT_CONNECTION_OPTIONS, ...options });
}

/** Whether value is an open nats.js connection rather than connection options. */
export function isConnection(value: NatsConnection | NodeConnectionOptions): value is NatsConnection {
  const c = value as Partial<NatsConnection>;
  return (
    typeof c.publish === 'function' && typeof c.subscribe === 'function' && typeof c.status === 'function'
  );
}

/**
 * Follows one connection's status. nats.js queues publishes made while it is
 * disconnected in an outbound buffer with no size limit (and discards it on
 * reconnect), so senders ask `up` first and drop instead.
 */
export class ConnectionMonitor {
  private static readonly monitors = new WeakMap<NatsConnection, ConnectionMonitor>();
  private disconnected = false;

  /** The one monitor of nc, shared by every transport on that connection. */
  static of(nc: NatsConnection): ConnectionMonitor {
    let m = ConnectionMonitor.monitors.get(nc);
    if (!m) {
      m = new ConnectionMonitor(nc);
      ConnectionMonitor.monitors.set(nc, m);
    }
    return m;
  }

  private constructor(private readonly nc: NatsConnection) {
    void this.follow();
  }

  /** Whether the connection is open and connected to a server now. */
  get up(): boolean {
    return !this.disconnected && !this.nc.isClosed() && this.nc.info !== undefined;
  }

  /** The largest payload the connected server accepts, or undefined while disconnected. */
  get maxPayload(): number | undefined {
    return this.up ? this.nc.info?.max_payload : undefined;
  }

  private async follow(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') {
          this.disconnected = true;
        } else if (s.type === 'reconnect') {
          this.disconnected = false;
        }
      }
    } catch {
      // The status iterator ends or fails only when the connection closes; `up` then reads isClosed().
    }
  }
}
