// The servers a robustness run owns: a PostgreSQL server (ThrowawayPostgres,
// which the nemesis restarts) and one nats-server or a cluster of three
// (NatsServers, which it restarts and whose routes it breaks), all on spare
// loopback ports, and a direct NATS connection for the workload's clients
// and the admin API. Reuses test/cluster's helpers.
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import type { Pool } from 'pg';
import { adminPool, ThrowawayPostgres, type ShutdownMode } from '../../cluster/support/postgres';
import { NatsServers } from './nats-servers';

/** How an Environment is made. */
export interface EnvironmentOptions {
  /** nats-servers: 1 (default), or 3 in a cluster with proxied routes (partial partitions). */
  readonly natsServers?: number;
}

/** The suite's own PostgreSQL and NATS servers, and whether each is up. */
export class Environment {
  private pgUp = true;

  private constructor(
    readonly pg: ThrowawayPostgres,
    readonly nats: NatsServers,
    /** A connection straight to the nats-servers (no proxy): clients and admin. */
    readonly nc: NatsConnection,
    /** A small pool on the PostgreSQL server (for deleting a removed replica's rows). */
    readonly pool: Pool,
  ) {}

  /**
   * Starts the servers and connects.
   * @throws the servers' start errors (binaries missing, no port), NatsTopologyError
   */
  static async start(options: EnvironmentOptions = {}): Promise<Environment> {
    const pg = new ThrowawayPostgres();
    await pg.start();
    let nats: NatsServers | undefined;
    try {
      nats = await NatsServers.start(options.natsServers ?? 1);
      const nc = await connectNats({ servers: nats.urls(), name: 'raftline robustness' });
      return new Environment(pg, nats, nc, adminPool(pg.url));
    } catch (err) {
      await nats?.dispose();
      await pg.remove();
      throw err;
    }
  }

  /** Whether PostgreSQL is up (not stopped by the nemesis). */
  get postgresUp(): boolean {
    return this.pgUp;
  }

  /** Stops PostgreSQL (`fast` or `immediate`); restartPostgres() brings it back. */
  async stopPostgres(mode: ShutdownMode): Promise<void> {
    this.pgUp = false;
    await this.pg.stop({ mode });
  }

  /** Starts PostgreSQL again (crash recovery after `immediate`). */
  async startPostgres(): Promise<void> {
    await this.pg.start();
    this.pgUp = true;
  }

  /** Brings every server back and heals every route, if the nemesis left any down. */
  async heal(): Promise<void> {
    if (!this.pgUp) await this.startPostgres();
    await this.nats.heal();
  }

  /** Closes the connection and pool, and removes both servers. Safe after a failed run. */
  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.nats.dispose().catch(() => undefined);
    await this.pg.remove().catch(() => undefined);
  }
}
