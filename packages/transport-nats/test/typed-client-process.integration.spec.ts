// The typed client against three Inventory replica processes
// (test/fixtures/inventory-replica.ts) on the shared NATS: reads at every
// consistency across processes, a follower process serving a linearizable
// read, and a session load across kill -9 of the leader in which no command
// applies twice.
import {
  connectClient,
  connectNats,
  LeaderUnavailableError,
  type MachineClient,
  type NatsConnection,
} from '../src/index';
import type { Inventory } from '../../../test/fixtures/inventory';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';
import { INVENTORY_REPLICA, inspect, spawnReplicas, type ReplicaProcess } from './support/processes';

jest.setTimeout(90_000);

interface InventoryInspection {
  id: string;
  role: string;
  leaderId: string;
  appliedIndex: number;
  marks: Record<string, number>;
}

describe('MachineClient across processes - real replica processes, kill -9', () => {
  const ids = ['p1', 'p2', 'p3'];
  let nc: NatsConnection;
  let procs: ReplicaProcess[] = [];
  let client: MachineClient<Inventory> | undefined;
  let cluster = '';

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await Promise.all(procs.map((p) => p.kill9()));
    procs = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  const look = async (id: string) =>
    (await inspect(nc, cluster, id)) as unknown as InventoryInspection | undefined;

  /** Polls the processes until one of `among` reports it leads. */
  async function leaderAmong(among: readonly string[]): Promise<string> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const seen = await Promise.all(among.map(look));
      const leader = seen.find((s) => s?.role === 'leader');
      if (leader) return leader.id;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no leader among ${among.join(', ')} within 20 s`);
  }

  async function start(): Promise<string> {
    cluster = uniqueCluster('tp');
    procs = await spawnReplicas({
      natsUrl: SHARED_NATS,
      cluster,
      group: 'inv',
      ids,
      electionMs: 600,
      script: INVENTORY_REPLICA,
    });
    const leader = await leaderAmong(ids);
    client = await connectClient<Inventory>({
      connection: nc,
      cluster,
      group: 'inv',
      requestTimeoutMs: 500,
      timeoutMs: 8000,
      retries: 6,
    });
    return leader;
  }

  it('typed commands and reads at every consistency, from another process; a follower process serves a linearizable read', async () => {
    const leader = await start();
    const inv = client!;
    expect(await inv.commands.stock('plum', 4)).toBe(4);
    expect(await inv.commands.reserve('plum', 1)).toBe(3);
    expect(await inv.queries.available('plum')).toBe(3);
    expect(await inv.queriesWith({ consistency: 'lease' }).available('plum')).toBe(3);
    const atLeader = await inv.query('available', ['plum'], { consistency: 'stale', replica: leader });
    expect(atLeader).toMatchObject({ value: 3, replica: leader });
    for (const follower of ids.filter((id) => id !== leader)) {
      const read = await inv.query('available', ['plum'], { replica: follower });
      expect(read).toMatchObject({ value: 3, replica: follower });
      expect(read.appliedIndex).toBeGreaterThanOrEqual(atLeader.appliedIndex);
    }
    expect(inv.leader).toBe(leader);
  });

  it('a session load across kill -9 of the leader: acknowledged commands applied exactly once, none applied twice, the client follows the new leader', async () => {
    const leader = await start();
    const inv = client!;
    const total = 400;
    const deadline = Date.now() + 40_000;
    const acked = new Map<string, number>();
    const unknown: string[] = [];
    const refused: string[] = [];
    let issued = 0;
    let maxAttempts = 0;
    const worker = async (w: number): Promise<void> => {
      while (issued < total && Date.now() < deadline) {
        const key = `w${w}-${issued++}`;
        try {
          const { value, attempts } = await inv.submit('mark', [key]);
          acked.set(key, value);
          maxAttempts = Math.max(maxAttempts, attempts);
        } catch (err) {
          (err instanceof LeaderUnavailableError ? refused : unknown).push(key);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    await waitFor('100 acknowledged commands', () => acked.size >= 100, 20_000);
    await procs.find((p) => p.id === leader)!.kill9();
    await load;
    const rest = ids.filter((id) => id !== leader);
    const next = await leaderAmong(rest);
    await waitFor('the client follows the new leader', () => inv.leader === next, 10_000);

    // One more command, so both survivors have applied everything before it.
    await inv.commands.mark('final');
    const views: InventoryInspection[] = [];
    for (const id of rest) {
      let view: InventoryInspection | undefined;
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        view = await look(id);
        if (view?.marks.final === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(view?.marks.final).toBe(1);
      views.push(view!);
    }
    expect(views[0]!.marks).toEqual(views[1]!.marks);
    const marks = views[0]!.marks;
    // Every acknowledged command returned 1 and applied exactly once; nothing applied twice.
    expect([...acked.values()].every((v) => v === 1)).toBe(true);
    expect([...acked.keys()].filter((k) => marks[k] !== 1)).toEqual([]);
    expect(Object.entries(marks).filter(([, n]) => n > 1)).toEqual([]);
    // Refused commands were not applied.
    expect(refused.filter((k) => marks[k] !== undefined)).toEqual([]);
    expect(acked.size).toBeGreaterThan(100);
    expect(maxAttempts).toBeGreaterThanOrEqual(2); // commands across the kill were resent
    process.stdout.write(
      `typed-client load across kill -9: issued ${issued}, acked ${acked.size}, unknown ${unknown.length}, ` +
        `refused ${refused.length}, max attempts ${maxAttempts}\n`,
    );
  });
});
