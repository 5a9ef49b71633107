// One replica of the Inventory machine (scripts/inventory.ts) in its own
// process, for the typed-client tests across processes:
//   node -r <repo>/scripts/ts-register.js packages/transport-nats/scripts/inventory-replica.ts
// Configured by environment:
//   NATS_URL, RAFT_CLUSTER, RAFT_GROUP, RAFT_ID, RAFT_VOTERS (comma-separated)  required
//   ELECTION_MS (default 1000)   election timeout; heartbeat is a sixth of it
//   SESSION_TTL_MS               MachineHost sessionTtlMs (default: the host's)
// It runs a core Replica (MachineHost: sessions, registration) over NATS with
// in-memory stores, serves clients with serveClients, and answers
// `raftline-test.<cluster>.<id>.inspect` with its role, applied index and the
// machine's marks. Prints one JSON line {"event":"ready"} once started; SIGTERM stops it.
import { MemoryLogStore, MemoryStableStore, pack, Replica, seededRandom } from '@raftline/core';
import { connectNats, NatsTransport, serveClients } from '@raftline/transport-nats';
import { Inventory } from './inventory';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (!v) throw new Error(`inventory-replica: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const cluster = env('RAFT_CLUSTER');
  const group = env('RAFT_GROUP');
  const id = env('RAFT_ID');
  const electionTimeoutMs = Number(env('ELECTION_MS', '1000'));
  const ttl = process.env.SESSION_TTL_MS;
  const nc = await connectNats({ servers: env('NATS_URL'), name: `inventory replica ${id}` });
  const transport = await NatsTransport.create({ cluster, group, nodeId: id, connection: nc });
  const replica = new Replica({
    id,
    voters: env('RAFT_VOTERS').split(','),
    machine: new Inventory(),
    logStore: new MemoryLogStore(),
    stableStore: new MemoryStableStore(),
    transport,
    random: seededRandom(Number.parseInt(id.replace(/\D/g, ''), 10) || 1),
    config: {
      electionTimeoutMs,
      heartbeatMs: Math.round(electionTimeoutMs / 6),
      tickMs: 10,
      proposalTimeoutMs: 3000,
    },
    ...(ttl ? { hostOptions: { sessionTtlMs: Number(ttl) } } : {}),
  });
  await replica.start();
  const clients = serveClients({ connection: nc, cluster, group, node: replica.node });
  nc.subscribe(`raftline-test.${cluster}.${id}.inspect`, {
    callback: (_err, msg) => {
      const { role, leaderId, term, appliedIndex } = replica.status();
      msg.respond(pack({ id, role, leaderId, term, appliedIndex, marks: replica.machine.marks() }));
    },
  });
  await nc.flush();
  const stop = async () => {
    clients.close();
    await replica.stop();
    await nc.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`${JSON.stringify({ event: 'ready', id, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`inventory-replica failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
