import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectClient, connectNats, type MachineClient } from '@raftline/transport-nats';
import {
  CoordinatorAgent,
  NotHoldingError,
  type Coordinator,
  type ElectedEvent,
  type LostEvent,
} from '../src';

// Three `raftline serve` replica processes running the service by its name
// (`machine: coordinator`) over the machine's NATS, in-memory stores; two
// CoordinatorAgents in this process. The first holds the task and is halted
// (its renewals stop, it resigns nothing); ticks the leader proposes end its
// lease, the second takes over with its checkpoint, and the first's late
// guarded write with its old epoch is refused by the replicas.

// The CLI's bin, beside its package.json (the package exports its API, not its bin script).
const BIN = join(dirname(require.resolve('@raftline/cli/package.json')), 'bin', 'raftline.js');
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const LEASE_MS = 2000;
const RENEW_MS = 400;

interface Replica {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<unknown>;
  stderr(): string;
}

function startReplica(config: string): Replica {
  const proc = spawn(process.execPath, [BIN, 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => {
    if (err.length < 20_000) err += b.toString();
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"raftline serve ready"')) resolve();
    });
    void exited.then((code) => reject(new Error(`raftline serve exited (${String(code)}): ${err}`)));
  });
  return { proc, ready, exited, stderr: () => err };
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function once<T>(agent: CoordinatorAgent, event: 'elected' | 'lost', timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    agent.once(event, (e: unknown) => {
      clearTimeout(timer);
      resolve(e as T);
    });
  });
}

describe('CoordinatorAgent over NATS - three raftline serve replicas of the coordinator service', () => {
  const cluster = `coag${process.pid}${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'raftline-coordinator-'));
  const replicas: Replica[] = [];
  const agents: CoordinatorAgent[] = [];
  let nc: Awaited<ReturnType<typeof connectNats>>;
  let admin: MachineClient<Coordinator>;

  beforeAll(async () => {
    for (const id of ['n1', 'n2', 'n3']) {
      const config = join(dir, `${id}.yaml`);
      writeFileSync(
        config,
        [
          `node: ${id}`,
          `cluster: ${cluster}`,
          `nats: { servers: [${NATS_URL}] }`,
          'store: memory',
          'metrics: { enabled: false }',
          'raft: { electionTimeoutMs: 1000, heartbeatMs: 150 }',
          'groups:',
          '  coord: { machine: coordinator, voters: [n1, n2, n3], mirror: false }',
          '',
        ].join('\n'),
      );
      replicas.push(startReplica(config));
    }
    await Promise.all(replicas.map((r) => r.ready));
    nc = await connectNats({ servers: NATS_URL });
    admin = await connectClient<Coordinator>({ connection: nc, cluster, group: 'coord', timeoutMs: 5000 });
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) await a.close().catch(() => undefined);
    admin?.close();
    await nc?.close();
    for (const r of replicas)
      if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (candidate: string): CoordinatorAgent => {
    const a = new CoordinatorAgent({
      connection: nc,
      cluster,
      group: 'coord',
      task: 'job',
      candidate,
      leaseMs: LEASE_MS,
      renewEveryMs: RENEW_MS,
    });
    agents.push(a);
    return a;
  };

  it('a halted coordinator loses the task when ticks end its lease; the next one continues from its checkpoint; its late write with the old epoch is refused', async () => {
    const created = await eventually('the task created', async () =>
      admin.commands.createTask('job', { leaseMs: LEASE_MS }),
    );
    expect(created).toMatchObject({ ok: true });

    const a = agent('a');
    const aElected = once<ElectedEvent>(a, 'elected', 10_000);
    await a.start();
    const first = await aElected;
    expect(a.isCoordinator()).toBe(true);
    expect(a.epoch).toBe(first.epoch);
    expect(first.checkpoint).toBeNull();
    await a.checkpoint({ state: 'step-3', summary: 'three of five steps done' });
    expect(await a.act('out', { op: 'set', value: 'by a' })).toMatchObject({ ok: true });

    const b = agent('b');
    await b.start();
    expect(b.isCoordinator()).toBe(false);
    // a keeps renewing past several leases while b waits
    await new Promise((r) => setTimeout(r, LEASE_MS + RENEW_MS));
    expect(a.isCoordinator()).toBe(true);
    expect(b.isCoordinator()).toBe(false);

    // b stays an applicant but sends nothing more, so only ticks can move the task on
    b.halt();
    const aLost = once<LostEvent>(a, 'lost', 10_000);
    a.halt(); // a pause: no more renewals, no resignation
    const lost = await aLost;
    expect(lost).toMatchObject({ epoch: first.epoch, reason: 'late' });
    const granted = await eventually('a tick grants the task to b', async () => {
      const t = await admin.queries.task('job'); // a read: no command
      return t?.holder === 'b' ? t : undefined;
    });
    expect(granted.epoch).toBeGreaterThan(first.epoch);
    const bElected = once<ElectedEvent>(b, 'elected', 10_000);
    await b.start(); // b's next campaign learns it holds the task
    const second = await bElected;
    expect(second.epoch).toBe(granted.epoch);
    expect(a.isCoordinator()).toBe(false);
    expect(b.isCoordinator()).toBe(true);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(second.checkpoint).toMatchObject({ epoch: first.epoch, by: 'a', state: 'step-3' });

    // a's lease ended by expiry
    const history = await admin.queries.history('job');
    expect(history!.events).toContainEqual(
      expect.objectContaining({ kind: 'ended', epoch: first.epoch, candidate: 'a', reason: 'expired' }),
    );

    // the paused agent wakes up and writes with its old epoch: the helper stops it, and the replicas refuse it
    await expect(a.act('out', { op: 'set', value: 'late, by a' })).rejects.toBeInstanceOf(NotHoldingError);
    const late = await admin.commands.act('job', first.epoch, 'out', { op: 'set', value: 'late, by a' });
    expect(late).toMatchObject({ ok: false, error: 'StaleEpochError', epoch: second.epoch, holder: 'b' });
    expect(await admin.queries.resource('job', 'out')).toMatchObject({ value: 'by a' });
    expect(await b.act('out', { op: 'set', value: 'by b' })).toMatchObject({ ok: true });

    await b.close({ state: 'step-5', summary: 'done' });
    expect(b.isCoordinator()).toBe(false);
    expect(await admin.queries.task('job')).toMatchObject({ holder: null });
  }, 60_000);
});
