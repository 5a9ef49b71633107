// `raftline serve` started before its servers: it retries while PostgreSQL
// or NATS cannot be reached, for up to startup.waitMs, and comes up once they
// do; with startup.waitMs 0 it gives up at once. A PostgreSQL and a
// nats-server of this test's own, stopped and started by it.
import { createServer, connect, type Server, type Socket } from 'node:net';
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

  const config = (waitMs: number, natsUrl = nats.url) => {
    const cluster = unique('startup');
    return validateServeConfig(
      {
        node: 'n1',
        cluster,
        nats: { servers: [natsUrl] },
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

  it('comes up once an address that reset every connection (a cut link) forwards to NATS', async () => {
    // Accepts and resets (what a cut link or a firewall's RST does) until `open`, then forwards to NATS.
    let open = false;
    const sockets = new Set<Socket>();
    const relay: Server = createServer((client) => {
      sockets.add(client);
      client.on('error', () => undefined);
      if (!open) return void client.resetAndDestroy();
      const upstream = connect({ host: '127.0.0.1', port: nats.port });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const serve = startServe(config(30_000, `127.0.0.1:${port}`));
      let settled: unknown = false;
      void serve.then(
        () => (settled = true),
        (err: unknown) => (settled = err),
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect(settled).toBe(false); // each connection reset: still trying
      open = true;
      const s = await serve;
      running.push(s);
      await s.close();
    } finally {
      for (const so of sockets) so.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
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
