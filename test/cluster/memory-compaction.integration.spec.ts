// The replica fixture in its default, in-memory store mode snapshots and
// compacts its log like the PostgreSQL mode does (issue #15, "Memory"): three
// replica processes (test/fixtures/replica.ts, RAFT_STORE unset) over a
// nats-server of this spec's own.
import { NatsRaftClient, connectNats, type NatsConnection } from '@raftline/transport-nats';
import {
  inspect,
  spawnReplicas,
  type ReplicaProcess,
} from '../../packages/transport-nats/test/support/processes';
import { sleep, startNatsServer, uniqueId, type NatsServer } from './support/nats';

const IDS = ['m1', 'm2', 'm3'];
const SNAPSHOT_ENTRIES = 200;
const SNAPSHOT_TRAILING = 50;
const APPLIED_KEEP = 100;
const COMMANDS = 1200;
const WRITERS = 8;

interface LogView {
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  appliedIndex: number;
}

/**
 * Runs poll, then checks cond, every 100 ms until cond holds.
 * @throws Error naming what was awaited when it does not hold within timeoutMs
 */
async function pollUntil(
  what: string,
  cond: () => boolean,
  timeoutMs: number,
  poll: () => Promise<void>,
  last: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await poll();
    if (cond()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last()}`);
    await sleep(100);
  }
}

async function logOf(nc: NatsConnection, cluster: string, id: string) {
  const r = (await inspect(nc, cluster, id)) as
    (Awaited<ReturnType<typeof inspect>> & { log?: LogView }) | undefined;
  return r && r.log ? { ...r, log: r.log } : undefined;
}

describe('replica fixture - in-memory stores snapshot and compact', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let replicas: ReplicaProcess[] = [];
  const cluster = uniqueId('memc');
  const spawn = (ids: readonly string[]) =>
    spawnReplicas({
      natsUrl: server.url,
      cluster,
      group: 'g',
      ids,
      voters: IDS,
      electionMs: 1000,
      env: {
        RAFT_STORE: 'memory',
        SNAPSHOT_ENTRIES: String(SNAPSHOT_ENTRIES),
        SNAPSHOT_TRAILING: String(SNAPSHOT_TRAILING),
        RAFT_APPLIED_KEEP: String(APPLIED_KEEP),
      },
    });

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url });
    replicas = await spawn(IDS);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill9()));
    await nc?.close();
    await server?.dispose();
  });

  it('every replica keeps a bounded log and applied record under load', async () => {
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', timeoutMs: 10_000 });
    let issued = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (issued < COMMANDS) {
          const i = issued++;
          await client.propose({ name: 'inc', args: [`k${i % 50}`] });
        }
      }),
    );
    // Every replica snapshotted and dropped the log behind its snapshot, keeping the trailing entries.
    let views: NonNullable<Awaited<ReturnType<typeof logOf>>>[] = [];
    await pollUntil(
      'every replica compacted',
      () => views.length === IDS.length && views.every((v) => v.log.appliedIndex >= COMMANDS),
      30_000,
      async () => {
        const found = await Promise.all(IDS.map((id) => logOf(nc, cluster, id)));
        views = found.filter((v) => v !== undefined);
      },
      () => JSON.stringify(views.map((v) => ({ id: v.id, log: v.log, applied: v.applied.length }))),
    );
    for (const v of views) {
      expect(v.log.snapshotIndex).toBeGreaterThan(COMMANDS - 2 * SNAPSHOT_ENTRIES);
      expect(v.log.firstIndex).toBeGreaterThan(COMMANDS - 2 * SNAPSHOT_ENTRIES - SNAPSHOT_TRAILING);
      expect(v.log.lastIndex - v.log.firstIndex + 1).toBeLessThanOrEqual(
        SNAPSHOT_ENTRIES + SNAPSHOT_TRAILING + 10,
      );
      expect(v.applied.length).toBeGreaterThanOrEqual(APPLIED_KEEP);
      expect(v.applied.length).toBeLessThan(2 * APPLIED_KEEP);
    }

    client.close();
  }, 120_000);
});
