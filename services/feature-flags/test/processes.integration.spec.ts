// Real processes: three `raftline serve` replicas of the feature-flags service
// (machine: feature-flags, the JetStream mirror on) over a nats-server of
// this test's own, on the machine's PostgreSQL; three FlagClients, each
// loading its snapshot through another replica and following the committed
// stream. A change made through one replica reaches every client: at once,
// across kill -9 of the leader (restarted from its rows), and across a NATS
// restart (every process reconnects). After each step every client
// evaluates as the replicas' evaluate query does. Bounded: about 30 s.
import { randomUUID } from 'node:crypto';
import {
  AdminClient,
  connectClient,
  connectNats,
  type MachineClient,
  type NatsConnection,
} from '@raftline/transport-nats';
import { FlagClient, type FeatureFlags, type FlagChange, type FlagDefinition } from '../src/index';
import {
  deleteGroupRows,
  eventually,
  removeDir,
  startOwnNats,
  startServe,
  tempDir,
  type OwnNats,
  type ServeProcess,
} from './support/processes';

jest.setTimeout(120_000);

const IDS = ['n1', 'n2', 'n3'];
const USERS = Array.from({ length: 200 }, (_, i) => ({
  targetingKey: `user-${i}`,
  plan: i % 3 ? 'free' : 'pro',
}));

const rollout = (percent: number): FlagDefinition => ({
  type: 'boolean',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  enabled: true,
  rules: [
    { when: { attribute: 'plan', op: 'equals', value: 'pro' }, serve: { variant: 'on' } },
    {
      serve: {
        rollout: {
          split: [
            { variant: 'on', weight: percent },
            { variant: 'off', weight: 100 - percent },
          ],
        },
      },
    },
  ],
});

describe('feature flags - real processes over NATS and PostgreSQL', () => {
  const cluster = `ffp${randomUUID().slice(0, 8)}`;
  const group = `ff-${randomUUID().slice(0, 8)}`;
  const dir = tempDir();
  const replicas = new Map<string, ServeProcess>();
  const connections: NatsConnection[] = [];
  const clients: FlagClient[] = [];
  const changes = new Map<FlagClient, FlagChange[]>();
  let nats: OwnNats;
  let admin: AdminClient;
  let writer: MachineClient<FeatureFlags>;

  const serve = async (id: string): Promise<void> => {
    const r = startServe(dir, id, { nats: nats.url, cluster, group, voters: IDS });
    replicas.set(id, r);
    await r.ready;
  };
  const connect = async (): Promise<NatsConnection> => {
    const nc = await connectNats({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    connections.push(nc);
    return nc;
  };
  const leaderId = (): Promise<string> =>
    eventually('a leader', async () => (await admin.status()).leaderId || undefined);
  /** Every client holds version and evaluates every user as a replica's evaluate query does. */
  const everyClientAt = async (version: number, key: string): Promise<void> => {
    await Promise.all(clients.map((c) => c.waitFor(version, { timeoutMs: 20_000 })));
    const replica = [...replicas.keys()][0]!;
    const remote = await Promise.all(
      USERS.map(async (u) => (await writer.query('evaluate', ['prod', key, u], { replica })).value),
    );
    for (const c of clients) {
      expect(c.getFlag(key)?.version).toBe(version);
      expect(USERS.map((u) => c.evaluate(key, u))).toEqual(remote);
    }
  };

  beforeAll(async () => {
    nats = await startOwnNats();
    await Promise.all(IDS.map(serve));
    const nc = await connect();
    admin = new AdminClient({ connection: nc, cluster, group });
    writer = await connectClient<FeatureFlags>({ connection: nc, cluster, group, timeoutMs: 20_000 });
    await leaderId();
    // One client per replica, each on a connection of its own, its snapshot loaded through that replica.
    // waitFor never reloads a snapshot here (refreshAfterMs past the test): every change must come by the stream.
    for (const id of IDS) {
      const c = await eventually(`a client through ${id}`, async () =>
        FlagClient.connect({
          connection: await connect(),
          cluster,
          group,
          environment: 'prod',
          replica: id,
          refreshAfterMs: 600_000,
        }),
      );
      changes.set(c, []);
      c.on('change', (e) => changes.get(c)!.push(e));
      clients.push(c);
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    writer?.close();
    await Promise.all([...replicas.values()].map((r) => r.kill9()));
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await nats?.dispose();
    removeDir(dir);
    await deleteGroupRows(group);
  });

  it('a change through one replica reaches clients connected through every replica, across kill -9 of the leader and a NATS restart', async () => {
    // 1. At once: the first write, and a compare-and-set raising it.
    const v1 = await writer.commands.setFlag('prod', 'checkout', rollout(10), {
      author: 'ada',
      expectedVersion: 0,
    });
    await everyClientAt(v1.version, 'checkout');
    const v2 = await writer.commands.setFlag('prod', 'checkout', rollout(20), {
      author: 'ada',
      expectedVersion: v1.version,
    });
    await everyClientAt(v2.version, 'checkout');

    // 2. kill -9 of the leader: the next change, through the new leader, reaches every client; the old leader comes back.
    const killed = await leaderId();
    await replicas.get(killed)!.kill9();
    replicas.delete(killed);
    const v3 = await eventually('a write after the leader died', () =>
      writer.commands.setFlag('prod', 'checkout', rollout(30), {
        author: 'ada',
        expectedVersion: v2.version,
      }),
    );
    expect(await leaderId()).not.toBe(killed);
    await everyClientAt(v3.version, 'checkout');
    await serve(killed);

    // 3. NATS goes away and comes back: replicas and clients reconnect, the stream continues.
    await nats.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await nats.start();
    const v4 = await eventually('a write after NATS came back', () =>
      writer.commands.setFlag('prod', 'checkout', rollout(40), {
        author: 'ada',
        expectedVersion: v3.version,
      }),
    );
    await everyClientAt(v4.version, 'checkout');
    const off = await writer.commands.setEnabled('prod', 'checkout', false, { author: 'oncall' });
    await everyClientAt(off.version, 'checkout');
    for (const c of clients) expect(c.evaluate('checkout', USERS[0]).reason).toBe('DISABLED');

    // Every client saw every change as the command that made it, from the stream, in log order.
    const made = [v1, v2, v3, v4, off].map((w) => w.version);
    for (const c of clients)
      expect(changes.get(c)!.map((e) => [e.index, e.cause, e.flags])).toEqual(
        made.map((v) => [v, v === off.version ? 'setEnabled' : 'setFlag', ['checkout']]),
      );

    // A client connected now, through the restarted replica, loads the same state.
    const late = await FlagClient.connect({
      connection: await connect(),
      cluster,
      group,
      environment: 'prod',
      replica: killed,
    });
    clients.push(late);
    expect(late.appliedIndex).toBeGreaterThanOrEqual(off.version);
    expect(late.snapshot().flags).toEqual(clients[0]!.snapshot().flags);
  });
});
