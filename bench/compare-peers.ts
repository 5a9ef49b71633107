/**
 * The systems bench/compare.ts measures raftline against, each started as
 * this benchmark's own processes on spare loopback ports with temporary data
 * directories (removed by stop()):
 *   - NATS JetStream: 3 nats-server processes in one cluster, a file-store stream with 3 replicas;
 *   - etcd (when /usr/bin/etcd or ETCD_BIN exists): 3 members, driven over its HTTP/JSON gRPC
 *     gateway (POST /v3/kv/put) on keep-alive connections.
 * Every system is a Peer: a way to write one 256-byte command, the PIDs to
 * measure RSS of, and a leader to kill -9 and bring back for failover trials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connectNats, type NatsConnection } from '@raftline/transport-nats';
import { sparePort } from '../packages/transport-nats/test/support/nats-server';

/** Writes one command; rejects when it was not acknowledged. */
export type Write = (i: number) => Promise<void>;

/** One system under test. */
export interface Peer {
  readonly name: string;
  /** A writer for client number `client` of `clients` (clients are spread over connections and members). */
  writer(client: number): Write;
  /** PIDs of the system's server processes (one per replica). */
  pids(): number[];
  /**
   * Finds the current leader and kills it with SIGKILL; resolves with a
   * writer that avoids it, and the performance.now() of the kill (finding
   * the leader before is not failover time).
   */
  killLeader(): Promise<{ readonly write: Write; readonly killedAt: number }>;
  /** Restarts what killLeader killed, on its data, and waits until all three replicas are back. */
  recover(): Promise<void>;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Bytes of each command's payload. */
export const COMMAND_BYTES = 256;

function spawnQuiet(bin: string, args: string[]): ChildProcess {
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr?.on('data', () => {}); // drained, not kept
  return proc;
}

async function killAndWait(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Retries fn until it resolves, at most timeoutMs. @throws its last error, naming what was awaited */
async function until<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`, { cause: err });
      await sleep(50);
    }
  }
}

// ------------------------------------------------------------------ JetStream

const STREAM = 'BENCHCMP';

/** Starts a 3-server JetStream cluster and an R3 file-store stream on `bench.>`. */
export async function startJetStream(connections: number): Promise<Peer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'raftline-cmp-js-'));
  const names = ['j1', 'j2', 'j3'];
  const ports = await Promise.all(
    names.map(async () => ({ client: await sparePort(), route: await sparePort() })),
  );
  const procs = new Map<string, ChildProcess>();
  const start = (i: number): void => {
    const name = names[i]!;
    const conf = path.join(dir, `${name}.conf`);
    const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${ports[i]!.client}`,
        `jetstream { store_dir: "${path.join(dir, name)}" }`,
        `cluster { name: cmp, listen: 127.0.0.1:${ports[i]!.route}, routes: [${routes}] }`,
      ].join('\n') + '\n',
    );
    procs.set(name, spawnQuiet(process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server', ['-c', conf]));
  };
  names.forEach((_, i) => start(i));
  const url = (i: number) => `127.0.0.1:${ports[i]!.client}`;
  const conns: NatsConnection[] = await Promise.all(
    Array.from({ length: connections }, (_, i) =>
      until('connecting to JetStream', () => connectNats({ servers: [url(i % 3)], name: `cmp ${i}` })),
    ),
  );
  // The cluster answers JetStream requests once it elected its meta leader.
  const jsm = await until('JetStream becoming available', () => jetstreamManager(conns[0]!), 60_000);
  await until('creating the R3 stream', () =>
    jsm.streams.add({ name: STREAM, subjects: ['bench.>'], num_replicas: 3, storage: 'file' } as never),
  );
  const clients: JetStreamClient[] = conns.map((nc) => jetstream(nc, { timeout: 5000 }));
  const payload = new Uint8Array(COMMAND_BYTES).fill(120);
  const writerOn =
    (js: JetStreamClient): Write =>
    async (i) => {
      await js.publish(`bench.k${i % 1000}`, payload);
    };
  let killed: string | undefined;
  const allCurrent = async (): Promise<void> => {
    const info = await jsm.streams.info(STREAM);
    const replicas = info.cluster?.replicas ?? [];
    if (!info.cluster?.leader || replicas.length !== 2 || !replicas.every((r) => r.current)) {
      throw new Error('stream replicas not current');
    }
  };
  return {
    name: 'jetstream',
    writer: (client) => writerOn(clients[client % clients.length]!),
    pids: () => [...procs.values()].map((p) => p.pid!).filter(Boolean),
    killLeader: async () => {
      const info = await jsm.streams.info(STREAM);
      const leader = info.cluster?.leader;
      if (!leader) throw new Error('the stream has no leader');
      killed = leader;
      const killedAt = performance.now();
      await killAndWait(procs.get(leader), 'SIGKILL');
      const others = names.map((n, i) => [n, i] as const).filter(([n]) => n !== leader);
      const nc = await connectNats({ servers: others.map(([, i]) => url(i)), name: 'cmp failover' });
      const js = jetstream(nc, { timeout: 1000 });
      return { write: writerOn(js), killedAt };
    },
    recover: async () => {
      if (killed) start(names.indexOf(killed));
      killed = undefined;
      await until('the stream back at 3 current replicas', allCurrent, 60_000);
    },
    stop: async () => {
      await jsm.streams.delete(STREAM).catch(() => undefined);
      await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
      await Promise.all([...procs.values()].map((p) => killAndWait(p, 'SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ etcd

/** The etcd binary, or undefined when it is not installed. */
export function etcdBinary(): string | undefined {
  const bin = process.env.ETCD_BIN ?? '/usr/bin/etcd';
  return existsSync(bin) ? bin : undefined;
}

interface Member {
  readonly name: string;
  readonly client: number;
  readonly peer: number;
}

/** POSTs JSON body to path on 127.0.0.1:port over agent. @returns the parsed reply */
function postJson(
  agent: http.Agent,
  port: number,
  route: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: route,
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200)
            reject(new Error(`etcd ${route}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(JSON.parse(text) as unknown);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`etcd ${route}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Starts a 3-member etcd cluster (fsync on, as shipped) with the given
 * election timeout and heartbeat, on spare loopback ports.
 */
export async function startEtcd(bin: string, electionMs: number, heartbeatMs: number): Promise<Peer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'raftline-cmp-etcd-'));
  const members: Member[] = [];
  for (const name of ['e1', 'e2', 'e3'])
    members.push({ name, client: await sparePort(), peer: await sparePort() });
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs = new Map<string, ChildProcess>();
  const start = (m: Member, state: 'new' | 'existing'): void => {
    const dataDir = path.join(dir, m.name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const args = [
      ['--name', m.name],
      ['--data-dir', dataDir],
      ['--listen-client-urls', `http://127.0.0.1:${m.client}`],
      ['--advertise-client-urls', `http://127.0.0.1:${m.client}`],
      ['--listen-peer-urls', `http://127.0.0.1:${m.peer}`],
      ['--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`],
      ['--initial-cluster', initialCluster],
      ['--initial-cluster-state', state],
      ['--initial-cluster-token', `raftline-cmp-${process.pid}`],
      ['--election-timeout', String(electionMs)],
      ['--heartbeat-interval', String(heartbeatMs)],
      ['--logger', 'zap'],
      ['--log-level', 'error'],
    ].flat();
    procs.set(m.name, spawnQuiet(bin, args));
  };
  members.forEach((m) => start(m, 'new'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const status = async (m: Member) =>
    (await postJson(agent, m.client, '/v3/maintenance/status', {}, 1000)) as {
      header: { member_id: string };
      leader: string;
    };
  const leaderOf = async (among: readonly Member[]): Promise<Member> => {
    const all = await Promise.all(among.map(status));
    const leader = all[0]!.leader;
    if (!leader || leader === '0' || !all.every((s) => s.leader === leader))
      throw new Error('no agreed leader');
    const i = all.findIndex((s) => s.header.member_id === leader);
    if (i < 0) throw new Error('the leader is not among the members asked');
    return among[i]!;
  };
  await until('etcd electing a leader', () => leaderOf(members), 60_000);
  const value = Buffer.alloc(COMMAND_BYTES - 8, 'x').toString('base64');
  const writerOn = (ms: readonly Member[], client: number, timeoutMs: number): Write => {
    const m = ms[client % ms.length]!;
    return async (i) => {
      const key = Buffer.from(`k${i % 1000}`).toString('base64');
      await postJson(agent, m.client, '/v3/kv/put', { key, value }, timeoutMs);
    };
  };
  let killed: Member | undefined;
  return {
    name: 'etcd',
    writer: (client) => writerOn(members, client, 10_000),
    pids: () => [...procs.values()].map((p) => p.pid!).filter(Boolean),
    killLeader: async () => {
      const leader = await leaderOf(members);
      killed = leader;
      const killedAt = performance.now();
      await killAndWait(procs.get(leader.name), 'SIGKILL');
      return {
        write: writerOn(
          members.filter((m) => m !== leader),
          0,
          1000,
        ),
        killedAt,
      };
    },
    recover: async () => {
      if (killed) start(killed, 'existing');
      killed = undefined;
      await until('etcd back at 3 members', () => leaderOf(members), 60_000);
    },
    stop: async () => {
      agent.destroy();
      await Promise.all([...procs.values()].map((p) => killAndWait(p, 'SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
