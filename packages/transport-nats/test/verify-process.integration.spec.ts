// Consistency verification on real processes: three Inventory replica
// processes (test/fixtures/inventory-replica.ts) on the shared NATS, with
// periodic verification on (VERIFY_EVERY). A `roll` handler that reads
// Math.random() (RAFT_NONDETERMINISTIC=1) is caught at the first marker after
// it ran: the diverged replicas show it in their status and log it, and
// AdminClient.verify() names them. (A deterministic machine across kill -9,
// snapshots and restarts: test/cluster/verify-restarts.integration.spec.ts.)
import { DivergedError, type VerificationStatus } from '@raftline/core';
import {
  AdminClient,
  connectClient,
  connectNats,
  type MachineClient,
  type NatsConnection,
  type ReplicaStatus,
} from '../src/index';
import type { Inventory } from '../../../test/fixtures/inventory';
import { SHARED_NATS, sleep, uniqueCluster } from './support/nats-server';
import { INVENTORY_REPLICA, inspect, spawnReplicas, type ReplicaProcess } from './support/processes';

jest.setTimeout(90_000);

/** Commands between two periodic verification markers. */
const EVERY = 10;
const DIVERGED_LINE = "diverged from the leader's at a verification marker";

interface InventoryInspection {
  id: string;
  role: string;
  leaderId: string;
  appliedIndex: number;
  verification: VerificationStatus;
  marks: Record<string, number>;
}

/** A replica's verification status (a replica of this version always reports one). */
function verificationOf(s: ReplicaStatus): VerificationStatus {
  if (!s.verification) throw new Error(`${s.id} reported no verification status`);
  return s.verification;
}

describe('consistency verification across processes - a handler that reads Math.random()', () => {
  const ids = ['v1', 'v2', 'v3'];
  let nc: NatsConnection;
  let procs: ReplicaProcess[] = [];
  let client: MachineClient<Inventory> | undefined;
  let cluster = '';
  let admin: AdminClient;
  const logs = new Map<string, string>();

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await Promise.all(procs.map((p) => p.kill9()));
    procs = [];
    logs.clear();
  });
  afterAll(async () => {
    await nc.close();
  });

  const look = async (id: string) =>
    (await inspect(nc, cluster, id)) as unknown as InventoryInspection | undefined;

  /** Polls until cond() holds. @throws Error naming what did not happen within timeoutMs */
  async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Polls until one replica leads and every replica names it. */
  async function settledLeader(): Promise<string> {
    let leader = '';
    await eventually(
      'one leader every replica names',
      async () => {
        const seen = await Promise.all(ids.map(look));
        const leaders = seen.filter((s) => s?.role === 'leader');
        leader = leaders.length === 1 ? leaders[0]!.id : '';
        return leader !== '' && seen.every((s) => s?.leaderId === leader);
      },
      20_000,
    );
    return leader;
  }

  /** Starts the replicas: `odd` (default: all of them) with RAFT_NONDETERMINISTIC=1. */
  async function start(env: Record<string, string>, odd: readonly string[] = ids): Promise<void> {
    cluster = uniqueCluster('vp');
    const common = {
      natsUrl: SHARED_NATS,
      cluster,
      group: 'inv',
      electionMs: 1000,
      script: INVENTORY_REPLICA,
    };
    const even = ids.filter((id) => !odd.includes(id));
    const started = await Promise.all([
      spawnReplicas({ ...common, ids: odd, voters: ids, env: { ...env, RAFT_NONDETERMINISTIC: '1' } }),
      even.length > 0 ? spawnReplicas({ ...common, ids: even, voters: ids, env }) : [],
    ]);
    procs = started.flat();
    for (const p of procs) {
      p.proc.stderr?.on('data', (b: Buffer) =>
        logs.set(p.id, ((logs.get(p.id) ?? '') + b.toString()).slice(-20_000)),
      );
    }
    admin = new AdminClient({
      connection: nc,
      cluster,
      group: 'inv',
      timeoutMs: 8000,
      requestTimeoutMs: 1000,
    });
  }

  async function connect(): Promise<MachineClient<Inventory>> {
    client = await connectClient<Inventory>({
      connection: nc,
      cluster,
      group: 'inv',
      requestTimeoutMs: 1000,
      timeoutMs: 8000,
    });
    return client;
  }

  /**
   * Sends one deterministic command (registering the client's session), then
   * EVERY rolls, one at a time.
   * @returns the leader's applied index before the first roll
   */
  async function rollAfterStart(inv: MachineClient<Inventory>, leader: string): Promise<number> {
    await inv.commands.mark('before');
    const before = (await look(leader))!.appliedIndex;
    for (let i = 0; i < EVERY; i++) await inv.commands.roll(`r${i}`);
    return before;
  }

  it('on every replica: each follower finds it at the first periodic marker after the first roll, shows it in its status, logs it and stops applying; verify() names both', async () => {
    await start({ VERIFY_EVERY: String(EVERY) });
    const leader = await settledLeader();
    const followers = ids.filter((id) => id !== leader);
    const inv = await connect();
    const before = await rollAfterStart(inv, leader);

    await eventually('both followers to find the divergence', async () => {
      const s = await Promise.all(followers.map((id) => admin.replicaStatus(id)));
      return s.every((x) => verificationOf(x).diverged !== undefined);
    });
    const status = await admin.status();
    expect(status.leaderId).toBe(leader); // the same leader throughout: its digest is the reference
    const ofLeader = status.replicas.find((r) => r.node === leader)!;
    if (!ofLeader.reachable) throw new Error('the leader did not answer status');
    expect(verificationOf(ofLeader.status).diverged).toBeUndefined();
    const markers = new Set<number>();
    for (const id of followers) {
      const r = status.replicas.find((x) => x.node === id)!;
      if (!r.reachable) throw new Error(`${id} did not answer status`);
      const v = verificationOf(r.status);
      expect(v).toMatchObject({ diverged: { leaderId: leader }, stoppedApplying: true, compared: 1 });
      expect(v.diverged!.actual).not.toBe(v.diverged!.expected);
      markers.add(v.diverged!.index);
      expect(logs.get(id)).toContain(DIVERGED_LINE);
    }
    // Both found it at one marker: the first after the first roll, at most EVERY commands later
    // (plus a marker and report in between).
    expect(markers.size).toBe(1);
    const [marker] = [...markers];
    expect(marker).toBeGreaterThan(before + 1);
    expect(marker! - before).toBeLessThanOrEqual(EVERY + 2);
    expect(logs.get(leader) ?? '').not.toContain(DIVERGED_LINE);

    // A follower that stopped applying refuses reads rather than serve its state.
    await expect(
      inv.query('marks', [], { consistency: 'stale', replica: followers[0]!, timeoutMs: 2000 }),
    ).rejects.toBeInstanceOf(DivergedError);

    // verify() names both: they cannot give a digest at its marker, having stopped applying before it.
    const report = await admin.verify({ timeoutMs: 3000 });
    expect(report).toMatchObject({ leaderId: leader, agree: false, disagreeing: [] });
    expect(report.missing).toEqual([...followers].sort());
    for (const id of followers) {
      const answer = report.replicas.find((r) => r.node === id) as { reason: string };
      expect(answer.reason).toContain(`node ${id} diverged from the leader at verification marker ${marker}`);
    }
  });

  it('on one replica (its build reads Math.random()): verify() names exactly it, its status shows diverged, and with divergenceAction continue it goes on serving', async () => {
    const odd = 'v3';
    await start({ VERIFY_EVERY: String(EVERY), DIVERGENCE_ACTION: 'continue' }, [odd]);
    let leader = await settledLeader();
    if (leader === odd) leader = (await admin.transferLeadership('v1')).leaderId; // the reference is the leader's
    const inv = await connect();
    const before = await rollAfterStart(inv, leader);

    await eventually('the odd replica to find the divergence', async () => {
      return verificationOf(await admin.replicaStatus(odd)).diverged !== undefined;
    });
    const v = verificationOf(await admin.replicaStatus(odd));
    expect(v).toMatchObject({ diverged: { leaderId: leader }, stoppedApplying: false });
    expect(v.diverged!.index).toBeGreaterThan(before + 1);
    expect(v.diverged!.index - before).toBeLessThanOrEqual(EVERY + 2);
    expect(logs.get(odd)).toContain(DIVERGED_LINE);
    const other = ids.find((id) => id !== odd && id !== leader)!;
    const fine = verificationOf(await admin.replicaStatus(other));
    expect(fine.diverged).toBeUndefined();
    expect(fine.lastMatchedIndex).toBeGreaterThanOrEqual(v.diverged!.index);

    const report = await admin.verify();
    expect(report).toMatchObject({ leaderId: leader, agree: false, disagreeing: [odd], missing: [] });
    for (const r of report.replicas) {
      expect(r).toMatchObject({ node: r.node, matches: r.node !== odd });
    }
    // 'continue' only reports: the odd replica still applies and serves what the log decided.
    const marks = await inv.query('marks', [], { consistency: 'linearizable', replica: odd });
    expect(marks).toMatchObject({ replica: odd, value: { before: 1 } });
  });
});
