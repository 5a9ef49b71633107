// The NATS side of a robustness run: one nats-server, or a cluster of three
// whose routes each pass through a FaultProxy, so the nemesis can cut, drop
// or one-way drop the link between two servers while both still reach the
// third (a partial partition: NATS routes carry a message one hop only, from
// the publisher's server to the subscriber's, never through a third).
//
// Every route is solicited by the lower-numbered server through the proxy of
// that pair. A server learns the other servers' route URLs from its peers
// (gossip) and would dial them directly, around the proxies: each advertises
// instead the port of a proxy that is always cut, so gossip gives nothing to
// dial, and the configured routes, through the proxies, are the only ones.
// Nor does a server tell its clients the others' client URLs (no_advertise):
// a replica reconnecting would otherwise reach another server directly,
// around its own proxy.
import { sparePort, startNatsServer, type NatsServer } from '../../cluster/support/nats';
import { FaultProxy } from './fault-proxy';

/** Raised for a server count the suite does not build (1 or 3). */
export class NatsTopologyError extends Error {
  override readonly name = 'NatsTopologyError';
}

/** The servers a run's replicas and clients use, and the links between them. */
export class NatsServers {
  private readonly down = new Set<number>();

  private constructor(
    private readonly servers: readonly NatsServer[],
    private readonly routeProxies: ReadonlyMap<string, FaultProxy>,
    private readonly deadEnd: FaultProxy | undefined,
    /** Each server's monitoring port (cluster only). */
    private readonly monitorPorts: readonly number[] = [],
  ) {}

  /**
   * Starts `count` servers: 1, or 3 in a cluster with proxied routes.
   * @throws NatsTopologyError for another count; the servers' start errors
   */
  static async start(count: number): Promise<NatsServers> {
    if (count === 1) return new NatsServers([await startNatsServer()], new Map(), undefined);
    if (count !== 3) throw new NatsTopologyError(`a run has 1 or 3 nats-servers, not ${count}`);
    const clusterPorts = [await sparePort(), await sparePort(), await sparePort()];
    const monitorPorts = [await sparePort(), await sparePort(), await sparePort()];
    const proxies = new Map<string, FaultProxy>();
    const deadEnd = new FaultProxy(clusterPorts[0]!);
    const servers: NatsServer[] = [];
    try {
      await deadEnd.listen();
      deadEnd.cut();
      for (let a = 0; a < count; a++) {
        for (let b = a + 1; b < count; b++) {
          const p = new FaultProxy(clusterPorts[b]!);
          proxies.set(routeKey(a, b), p);
          await p.listen();
        }
      }
      for (let a = 0; a < count; a++) {
        const routes: string[] = [];
        for (let b = a + 1; b < count; b++) routes.push(`"nats-route://${proxies.get(routeKey(a, b))!.url}"`);
        const config = [
          `server_name: n${a + 1}`,
          `http: 127.0.0.1:${monitorPorts[a]}`,
          'cluster {',
          '  name: robustness',
          `  listen: 127.0.0.1:${clusterPorts[a]}`,
          `  advertise: "${deadEnd.url}"`,
          '  no_advertise: true',
          `  routes: [${routes.join(', ')}]`,
          '}',
        ].join('\n');
        servers.push(await startNatsServer({ config, jetstream: false }));
      }
    } catch (err) {
      await Promise.all(servers.map((s) => s.dispose()));
      await Promise.all([...proxies.values(), deadEnd].map((p) => p.close()));
      throw err;
    }
    return new NatsServers(servers, proxies, deadEnd, monitorPorts);
  }

  /** How many servers. */
  get count(): number {
    return this.servers.length;
  }

  /** Server i's client port (0-based). */
  port(i: number): number {
    return this.server(i).port;
  }

  /** Server i's client URL. */
  url(i: number): string {
    return this.server(i).url;
  }

  /** Every server's client URL. */
  urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** Whether server i runs (not stopped by the nemesis). */
  isUp(i: number): boolean {
    return !this.down.has(i);
  }

  /** Whether every server runs. */
  allUp(): boolean {
    return this.down.size === 0;
  }

  /** Stops server i (SIGTERM); start(i) brings it back on the same ports. */
  async stop(i: number): Promise<void> {
    this.down.add(i);
    await this.server(i).stop();
  }

  async start(i: number): Promise<void> {
    await this.server(i).start();
    this.down.delete(i);
  }

  /**
   * The proxy carrying the route between servers a and b (either order);
   * its client side is the lower-numbered server.
   * @throws NatsTopologyError when there is no such route (one server, a = b, out of range)
   */
  route(a: number, b: number): FaultProxy {
    const p = this.routeProxies.get(routeKey(Math.min(a, b), Math.max(a, b)));
    if (!p) throw new NatsTopologyError(`no route between servers ${a} and ${b} of ${this.count}`);
    return p;
  }

  /** Every route as [a, b] with a < b. */
  routes(): [number, number][] {
    return [...this.routeProxies.keys()].map((k) => k.split('-').map(Number) as [number, number]);
  }

  /**
   * What each server's monitoring says of its routes (cluster only), for a
   * failed run's record: `n1: routes to n2, n3; 42 subscriptions`.
   */
  async describeRoutes(): Promise<string[]> {
    return Promise.all(
      this.monitorPorts.map(async (port, i) => {
        try {
          const get = async (path: string) =>
            (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as Record<string, unknown>;
          const routez = (await get('/routez')) as { routes?: { remote_id?: string; ip?: string }[] };
          const subsz = (await get('/subsz')) as { num_subscriptions?: number };
          const peers = (routez.routes ?? []).map((r) => r.remote_id ?? '?');
          return `n${i + 1}: ${peers.length} routes (${peers.join(', ')}); ${subsz.num_subscriptions ?? '?'} subscriptions`;
        } catch (err) {
          return `n${i + 1}: monitoring unanswered (${err instanceof Error ? err.message : String(err)})`;
        }
      }),
    );
  }

  /** Starts every stopped server and heals and undelays every route. */
  async heal(): Promise<void> {
    for (const i of [...this.down]) await this.start(i);
    for (const p of this.routeProxies.values()) {
      p.heal();
      p.delay(0);
    }
  }

  /** Stops and removes every server, closes the proxies. Idempotent. */
  async dispose(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.dispose().catch(() => undefined)));
    await Promise.all([...this.routeProxies.values(), this.deadEnd].map((p) => p?.close()));
  }

  private server(i: number): NatsServer {
    const s = this.servers[i];
    if (!s) throw new NatsTopologyError(`no server ${i} of ${this.count}`);
    return s;
  }
}

function routeKey(a: number, b: number): string {
  return `${a}-${b}`;
}
