import { connectNats, NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import type { Pool } from 'pg';
import type { Load } from './load';
import { startNatsServer, uniqueId, type NatsServer } from './nats';
import { adminPool, deleteGroups, ensurePgRunning } from './postgres';
import { ReplicaCluster, type ClusterOptions } from './replicas';

/** What one spec file shares: its own nats-server, a connection to it, and a pool on the test database. */
export interface Harness {
  /** A connection to the spec's nats-server. */
  nc(): NatsConnection;
  /** A pool on the test database, for reading the replicas' rows. */
  admin(): Pool;
  /**
   * A new 3-replica cluster (not started) with a fresh cluster and group id;
   * its processes are killed after the test and its rows deleted after the file.
   */
  cluster(options: Pick<ClusterOptions, 'electionMs' | 'env'>): ReplicaCluster;
  /** A client of the cluster: 3 s per command, 1 s per request. */
  client(cluster: ReplicaCluster): NatsRaftClient;
  /** Registers a load so that it is stopped after the test. */
  track(load: Load): Load;
}

export const IDS = ['r1', 'r2', 'r3'] as const;

/**
 * Registers beforeAll/afterEach/afterAll hooks that set up and tear down a
 * Harness. Teardown always leaves PostgreSQL running (a test may have stopped it).
 */
export function clusterHarness(): Harness {
  let server: NatsServer | undefined;
  let connection: NatsConnection | undefined;
  let pool: Pool | undefined;
  const clusters: ReplicaCluster[] = [];
  const loads: Load[] = [];
  const groups: string[] = [];

  beforeAll(async () => {
    await ensurePgRunning();
    server = await startNatsServer();
    connection = await connectNats({ servers: server.url });
    pool = adminPool();
  }, 60_000);

  afterEach(async () => {
    for (const load of loads.splice(0)) load.stop();
    await Promise.all(clusters.splice(0).map((c) => c.kill9All()));
    await ensurePgRunning();
  }, 60_000);

  afterAll(async () => {
    await ensurePgRunning();
    if (pool) await deleteGroups(pool, groups);
    await pool?.end();
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
    cluster: (options) => {
      if (!server) throw new Error('clusterHarness used outside a test');
      const group = uniqueId('g');
      groups.push(group);
      const cluster = new ReplicaCluster({
        natsUrl: server.url,
        cluster: uniqueId('c'),
        group,
        ids: IDS,
        ...options,
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
