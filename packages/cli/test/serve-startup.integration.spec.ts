// `raftline serve` started before its servers: it retries while PostgreSQL
// or NATS cannot be reached, for up to startup.waitMs, and comes up once they
// do; with startup.waitMs 0 it gives up at once. A PostgreSQL and a
// nats-server of this test's own, stopped and started by it.
import { startServe, validateServeConfig, type RunningServe } from '../src/index';
import { ThrowawayPostgres } from '../../store-postgres/test/support/throwaway-postgres';
import { startNatsServer, type OwnNatsServer } from '../../transport-nats/test/support/nats-server';
import { connectClient, connectNats } from '@raftline/transport-nats';
import type { Kv } from './fixtures/kv';
import { KV, unique } from './support/cli';

jest.setTimeout(90_000);

describe('raftline serve - a start waits for NATS and the store', () => {
  const pg = new ThrowawayPostgres();
  let nats: OwnNatsServer;
  const running: RunningServe[] = [];

  beforeAll(async () => {
    await pg.start();
    nats = await startNatsServer();
  });

  afterAll(async () => {
    await Promise.all(running.map((s) => s.close().catch(() => undefined)));
    await nats?.dispose();
    await pg.remove();
  });

  const config = (waitMs: number) => {
    const cluster = unique('startup');
    return validateServeConfig(
      {
        node: 'n1',
        cluster,
        nats: { servers: [nats.url] },
        store: { postgres: pg.url, schema: unique('rl_start_'), poolSize: 2 },
        metrics: { enabled: false },
        log: { level: 'silent' },
        startup: { waitMs },
        raft: { electionTimeoutMs: 300, heartbeatMs: 50 },
        groups: { kv: { machine: KV, voters: ['n1'], mirror: false } },
      },
      { baseDir: __dirname, source: 'serve-startup spec' },
    );
  };

  /** Starts serve, with the server `down` stopped until `afterMs` into the start. */
  const startWhileDown = async (down: { stop(): Promise<void>; start(): Promise<void> }, afterMs: number) => {
    const c = config(30_000);
    await down.stop();
    const serve = startServe(c);
    await new Promise((r) => setTimeout(r, afterMs));
    let settled = false;
    void serve.then(
      () => (settled = true),
      () => (settled = true),
    );
    expect(settled).toBe(false); // still waiting for the server
    await down.start();
    const s = await serve;
    running.push(s);
    const nc = await connectNats({ servers: nats.url });
    try {
      const client = await connectClient<Kv>({ connection: nc, cluster: c.cluster, group: 'kv' });
      await client.commands.put('k', 'v');
      expect(await client.queries.get('k')).toBe('v');
      client.close();
    } finally {
      await nc.close();
    }
    await s.close();
  };

  it('comes up once PostgreSQL, down at start, is back', async () => {
    await startWhileDown(pg, 1500);
  });

  it('comes up once NATS, down at start, is back', async () => {
    await startWhileDown(nats, 1500);
  });

  it('with startup.waitMs 0, fails at once with StoreUnavailableError while PostgreSQL is down', async () => {
    await pg.stop();
    try {
      await expect(startServe(config(0))).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    } finally {
      await pg.start();
    }
  });
});
