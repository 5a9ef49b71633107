/**
 * raftline as a Peer of bench/compare.ts: three replica processes
 * (test/fixtures/replica.ts, started with bench/nats-cluster.ts's pieces)
 * over this benchmark's own nats-server, with PostgreSQL stores (the
 * machine's server, a schema of this run, dropped by stop()) or in-memory
 * ones, driven by NatsRaftClient.
 */
import { Pool } from 'pg';
import { connectNats, NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import { awaitLeader, IDS, replicaEnv, spawnReplica, startCluster } from './nats-cluster';
import { COMMAND_BYTES, type Peer, type Write } from './compare-peers';

/** The machine's PostgreSQL (override with RAFT_PG_URL). */
const PG_URL = process.env.RAFT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Starts three replicas with `stores` and returns them as a Peer.
 * @param electionMs the replicas' election timeout (heartbeat a sixth of it)
 */
export async function startRaftline(
  stores: 'postgres' | 'memory',
  natsUrl: string,
  connections: number,
  electionMs: number,
): Promise<Peer> {
  const tag = `${process.pid}${Date.now().toString(36)}`;
  const cluster = `cmp${tag}${stores === 'postgres' ? 'pg' : 'mem'}`;
  const schema = `bench_cmp_${tag}`;
  const extra: Record<string, string> = {
    NATS_URL: natsUrl,
    ELECTION_MS: String(electionMs),
    RAFT_STORE: stores,
    RAFT_PG_URL: PG_URL,
    RAFT_PG_SCHEMA: schema,
  };
  const c = await startCluster(cluster, false, extra);
  const conns: NatsConnection[] = await Promise.all(
    Array.from({ length: connections }, (_, i) => connectNats({ servers: natsUrl, name: `cmp client ${i}` })),
  );
  await awaitLeader(conns[0]!, cluster);
  // The counter counts args[0]; the second argument pads the command to about COMMAND_BYTES.
  const pad = 'x'.repeat(COMMAND_BYTES - 40);
  const clients = new Map<number, NatsRaftClient>();
  const client = (n: number, timeoutMs: number): NatsRaftClient =>
    new NatsRaftClient({ connection: conns[n % conns.length]!, cluster, group: 'bench', timeoutMs });
  const writerOf =
    (k: NatsRaftClient): Write =>
    async (i) => {
      await k.propose({ name: 'inc', args: [`k${i % 1000}`, pad] });
    };
  let killed = -1;
  return {
    name: stores === 'postgres' ? 'raftline-pg' : 'raftline-mem',
    writer: (n) => {
      let k = clients.get(n);
      if (!k) clients.set(n, (k = client(n, 10_000)));
      return writerOf(k);
    },
    pids: () => c.procs.map((p) => p.pid!).filter(Boolean),
    killLeader: async () => {
      if (stores === 'memory')
        throw new Error('in-memory replicas lose their log when killed: no failover trials');
      const leader = await awaitLeader(conns[0]!, cluster);
      killed = IDS.indexOf(leader);
      const proc = c.procs[killed]!;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const killedAt = performance.now();
      proc.kill('SIGKILL');
      await exited;
      return { write: writerOf(client(1, 1000)), killedAt };
    },
    recover: async () => {
      if (killed >= 0) c.procs[killed] = await spawnReplica(IDS[killed]!, replicaEnv(cluster, false, extra));
      killed = -1;
      await awaitLeader(conns[0]!, cluster);
    },
    stop: async () => {
      for (const k of clients.values()) k.close();
      await c.stop();
      await Promise.all(conns.map((nc) => nc.close()));
      if (stores === 'postgres') {
        const pool = new Pool({ connectionString: PG_URL, max: 1 });
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
        await pool.end();
      }
    },
  };
}
