import { connectNats, NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import type { Pool } from 'pg';
import type { Load } from './load';
import { startNatsServer, uniqueId, type NatsServer } from './nats';
import { adminPool, deleteGroups, PG_URL, ThrowawayPostgres, waitForPg } from './postgres';
import { ReplicaCluster, type ClusterOptions } from './replicas';

/** What one spec file shares: its own nats-server, a connection to it, and a pool on the test database. */
export interface Harness {
  /** A connection to the spec's nats-server. */
  nc(): NatsConnection;
  /** A pool on the replicas' database, for reading their rows. */
  admin(): Pool;
  /** The URL of the replicas' database (as the superuser). */
  pgUrl(): string;
  /**
   * The spec's own PostgreSQL server, to stop, restart or kill.
   * @throws Error unless the harness was made with `{ postgres: 'throwaway' }`
   */
  postgres(): ThrowawayPostgres;
  /**
   * A new 3-replica cluster (not started) with a fresh cluster and group id;
   * its processes are killed after the test and its rows deleted after the file.
   */
  cluster(
    options: Pick<ClusterOptions, 'electionMs' | 'env' | 'script'> & { pgUrl?: string },
  ): ReplicaCluster;
  /** A client of the cluster: 3 s per command, 1 s per request. */
  client(cluster: ReplicaCluster): NatsRaftClient;
  /** Registers a load so that it is stopped after the test. */
  track(load: Load): Load;
}

export const IDS = ['r1', 'r2', 'r3'] as const;

/** Where a spec's replicas keep their rows. */
export interface HarnessOptions {
  /**
   * `shared` (default): the machine's server at PG_URL, which the spec must
   * never stop. `throwaway`: a ThrowawayPostgres of the spec's own, started in
   * beforeAll, running again after each test (a test may have stopped it) and
   * removed in afterAll.
   */
  readonly postgres?: 'shared' | 'throwaway';
}

/** Registers beforeAll/afterEach/afterAll hooks that set up and tear down a Harness. */
export function clusterHarness(options: HarnessOptions = {}): Harness {
  const own = options.postgres === 'throwaway' ? new ThrowawayPostgres() : undefined;
  let pgUrl = PG_URL;
  let server: NatsServer | undefined;
  let connection: NatsConnection | undefined;
  let pool: Pool | undefined;
  const clusters: ReplicaCluster[] = [];
  const loads: Load[] = [];
  const groups: string[] = [];

  beforeAll(async () => {
    if (own) {
      await own.start();
      pgUrl = own.url;
    } else {
      await waitForPg(pgUrl);
    }
    server = await startNatsServer();
    connection = await connectNats({ servers: server.url });
    pool = adminPool(pgUrl);
  }, 60_000);

  afterEach(async () => {
    for (const load of loads.splice(0)) load.stop();
    await Promise.all(clusters.splice(0).map((c) => c.kill9All()));
    await own?.start();
  }, 60_000);

  afterAll(async () => {
    // The throwaway server goes with its rows; only the shared one needs them deleted.
    if (pool && !own) await deleteGroups(pool, groups);
    await pool?.end();
    await own?.remove();
    await connection?.close();
    await server?.dispose();
  }, 60_000);

  const nc = (): NatsConnection => {
    if (!connection) throw new Error('clusterHarness used outside a test');
    return connection;
  };
  return {
    nc,
    admin: () => {
      if (!pool) throw new Error('clusterHarness used outside a test');
      return pool;
    },
    pgUrl: () => pgUrl,
    postgres: () => {
      if (!own) throw new Error("clusterHarness: postgres() needs clusterHarness({ postgres: 'throwaway' })");
      return own;
    },
    cluster: (clusterOptions) => {
      if (!server) throw new Error('clusterHarness used outside a test');
      const group = uniqueId('g');
      groups.push(group);
      const cluster = new ReplicaCluster({
        natsUrl: server.url,
        cluster: uniqueId('c'),
        group,
        ids: IDS,
        pgUrl,
        ...clusterOptions,
      });
      clusters.push(cluster);
      return cluster;
    },
    client: (cluster) =>
      new NatsRaftClient({
        connection: nc(),
        cluster: cluster.options.cluster,
        group: cluster.options.group,
        timeoutMs: 3000,
        requestTimeoutMs: 1000,
      }),
    track: (load) => {
      loads.push(load);
      return load;
    },
  };
}
