// The servers a robustness run owns: a PostgreSQL server (ThrowawayPostgres,
// which the nemesis restarts) and a nats-server (which it restarts), both on
// spare loopback ports, and a direct NATS connection for the workload's
// clients and the admin API. Reuses test/cluster's helpers.
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import type { Pool } from 'pg';
import { startNatsServer, type NatsServer } from '../../cluster/support/nats';
import { adminPool, ThrowawayPostgres, type ShutdownMode } from '../../cluster/support/postgres';

/** The suite's own PostgreSQL and NATS servers, and whether each is up. */
export class Environment {
  private pgUp = true;
  private natsUp = true;

  private constructor(
    readonly pg: ThrowawayPostgres,
    readonly nats: NatsServer,
    /** A connection straight to the nats-server (no proxy): clients and admin. */
    readonly nc: NatsConnection,
    /** A small pool on the PostgreSQL server (for deleting a removed replica's rows). */
    readonly pool: Pool,
  ) {}

  /**
   * Starts both servers and connects.
   * @throws the servers' start errors (binaries missing, no port)
   */
  static async start(): Promise<Environment> {
    const pg = new ThrowawayPostgres();
    await pg.start();
    let nats: NatsServer | undefined;
    try {
      nats = await startNatsServer();
      const nc = await connectNats({ servers: nats.url, name: 'raftline robustness' });
      return new Environment(pg, nats, nc, adminPool(pg.url));
    } catch (err) {
      await nats?.dispose();
      await pg.remove();
      throw err;
    }
  }

  /** Whether PostgreSQL and NATS are up (not stopped by the nemesis). */
  get postgresUp(): boolean {
    return this.pgUp;
  }
  get natsServerUp(): boolean {
    return this.natsUp;
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

  /** Stops the nats-server (SIGTERM); startNats() brings it back on the same port. */
  async stopNats(): Promise<void> {
    this.natsUp = false;
    await this.nats.stop();
  }

  async startNats(): Promise<void> {
    await this.nats.start();
    this.natsUp = true;
  }

  /** Brings both servers back if the nemesis left either down. */
  async heal(): Promise<void> {
    if (!this.pgUp) await this.startPostgres();
    if (!this.natsUp) await this.startNats();
  }

  /** Closes the connection and pool, and removes both servers. Safe after a failed run. */
  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.nats.dispose().catch(() => undefined);
    await this.pg.remove().catch(() => undefined);
  }
}
