/**
 * The demo over NATS: three `raftline serve` processes (n1, n2, n3), each
 * running the three groups on its own embedded PostgreSQL (PGlite) data
 * directory, on a nats-server the demo starts on a free loopback port (or
 * the one NATS_URL names). Clients reach the groups the way any program
 * would: typed clients, the admin API, the task queue's Worker and the
 * JetStream mirror of the committed stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { delimiter, join } from 'node:path';
import type { CommandsOf, QueriesOf, ReplicatedStateMachine } from '@raftline/core';
import { Worker } from '@raftline/task-queue';
import { AdminClient, connectNats, MachineClient, readCommitted } from '@raftline/transport-nats';
import {
  GROUPS,
  NODES,
  until,
  type DemoCluster,
  type DemoWorker,
  type GroupName,
  type StatusRow,
} from './cluster';

/**
 * The clients' patience: a request may wait 5 s for its answer and a call
 * 30 s in all (retries under the client's session apply once), so that a
 * demo on a busy machine waits rather than fails.
 */
const CLIENT_TIMEOUTS = { timeoutMs: 30_000, requestTimeoutMs: 5000, retries: 5 } as const;

const CLI = join(__dirname, '..', '..', 'packages', 'cli', 'bin', 'raftline.js');

/** The nats-server binary on the PATH, if any. */
export function natsServerOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'nats-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits for a child to exit (at once if it has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Options of startNatsCluster. */
export interface NatsClusterOptions {
  /** A working directory: configs, data directories, logs. */
  readonly dir: string;
  /** NATS to use (left running); otherwise nats-server is started from `natsServer`. */
  readonly natsUrl?: string;
  readonly natsServer?: string;
  /** The cluster id (unique per run, so several demos can share a NATS server). */
  readonly cluster: string;
}

/**
 * Starts NATS (unless given) and the three replica processes, and waits until they serve.
 * @returns the running cluster; close() stops what it started and leaves the rest
 * @throws Error when a process exits or nothing is ready within 60 s
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<DemoCluster> {
  const { dir, cluster } = options;
  let natsProcess: ChildProcess | undefined;
  let url = options.natsUrl;
  if (!url) {
    const port = await freePort();
    mkdirSync(join(dir, 'nats'), { recursive: true });
    natsProcess = spawn(
      options.natsServer ?? 'nats-server',
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'nats')],
      {
        stdio: 'ignore',
      },
    );
    url = `nats://127.0.0.1:${port}`;
    await until(
      'nats-server to accept connections',
      async () => ((await accepts(port)) ? true : undefined),
      15_000,
    );
  }
  const connection = await connectNats({ servers: url, name: 'raftline demo' });
  const processes = new Map<string, ChildProcess>();

  const configFile = (node: string): string => {
    const file = join(dir, `${node}.json`);
    const groups = Object.fromEntries(
      Object.entries(GROUPS).map(([group, machine]) => [
        group,
        { machine, voters: [...NODES], ...(group === 'flags' ? { mirror: true } : {}) },
      ]),
    );
    const config = {
      node,
      cluster,
      nats: { servers: [url] },
      store: join(dir, 'data', node), // embedded PostgreSQL (PGlite)
      metrics: { port: 0 },
      log: { level: 'info' },
      groups,
    };
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  };

  const startNode = async (node: string): Promise<void> => {
    mkdirSync(join(dir, 'data', node), { recursive: true });
    const log = createWriteStream(join(dir, `${node}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [CLI, 'serve', '-c', configFile(node)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RAFTLINE_DEBUG: '' },
    });
    processes.set(node, child);
    let output = '';
    let ready = false;
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      if (!ready) {
        output += chunk.toString();
        ready = output.includes('"raftline serve ready"');
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => log.end());
    await until(
      `${node} (raftline serve) to be ready; its log: ${join(dir, `${node}.log`)}`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${node} exited with code ${child.exitCode}: ${output.slice(-500)}`);
        return ready ? true : undefined;
      },
      180_000,
    );
  };

  const clients = new Map<GroupName, MachineClient<ReplicatedStateMachine>>();
  const admins = new Map<GroupName, AdminClient>();
  const clientOf = (group: GroupName): MachineClient<ReplicatedStateMachine> => {
    let c = clients.get(group);
    if (!c) {
      c = new MachineClient({ connection, cluster, group, ...CLIENT_TIMEOUTS });
      clients.set(group, c);
    }
    return c;
  };
  const adminOf = (group: GroupName): AdminClient => {
    let a = admins.get(group);
    if (!a) {
      a = new AdminClient({ connection, cluster, group, timeoutMs: 15_000, requestTimeoutMs: 2000 });
      admins.set(group, a);
    }
    return a;
  };
  const workers: Worker[] = [];
  const stops: (() => void)[] = [];

  try {
    await Promise.all(NODES.map(startNode));
  } catch (err) {
    for (const child of processes.values()) child.kill('SIGKILL');
    natsProcess?.kill('SIGKILL');
    await connection.close();
    throw err;
  }

  const demo: DemoCluster = {
    description: natsProcess
      ? `over NATS (a nats-server of the demo's own at ${url}), one raftline serve process per replica`
      : `over NATS at ${url} (NATS_URL), one raftline serve process per replica`,
    killDescription: 'kill -9 of its process',
    commands: <M extends ReplicatedStateMachine>(group: GroupName) =>
      clientOf(group).commands as unknown as CommandsOf<M>,
    queries: <M extends ReplicatedStateMachine>(group: GroupName) =>
      clientOf(group).queries as unknown as QueriesOf<M>,
    async status(group) {
      const s = await adminOf(group).status();
      return NODES.map((node): StatusRow => {
        const r = s.replicas.find((x) => x.node === node);
        if (!r || !r.reachable) return { node, role: 'down' };
        const { role, term, leaderId, commitIndex, appliedIndex } = r.status;
        return { node, role, term, leader: leaderId, commit: commitIndex, applied: appliedIndex };
      });
    },
    async kill(node) {
      const child = processes.get(node);
      child?.kill('SIGKILL');
      if (child) await exited(child);
    },
    restart: startNode,
    async verify(group) {
      const report = await adminOf(group).verify();
      return {
        index: report.index,
        agree: report.agree,
        digests: report.replicas.map((r) =>
          'digest' in r ? { node: r.node, digest: r.digest } : { node: r.node, reason: r.reason },
        ),
      };
    },
    async watch(group, onCommand) {
      const controller = new AbortController();
      const rows = await demo.status(group);
      const fromIndex = Math.max(...rows.map((r) => r.commit ?? 0)) + 1;
      void (async () => {
        for await (const m of readCommitted({
          connection,
          cluster,
          group,
          fromIndex,
          signal: controller.signal,
        })) {
          onCommand({ index: m.index, name: m.command.name, args: m.command.args });
        }
      })().catch(() => undefined);
      const stop = (): void => controller.abort();
      stops.push(stop);
      return stop;
    },
    worker(queue, handler): DemoWorker {
      let completed = 0;
      const w = new Worker(queue, (job) => handler(job.payload), {
        connection,
        cluster,
        group: 'jobs',
        ...CLIENT_TIMEOUTS,
        concurrency: 4,
        leaseMs: 10_000,
      });
      w.on('completed', () => completed++);
      w.on('error', () => undefined); // it carries on: claims again, resends acks
      workers.push(w);
      return { completed: () => completed, close: () => w.close({ timeoutMs: 5000 }) };
    },
    async close() {
      for (const stop of stops) stop();
      await Promise.all(workers.map((w) => w.close({ timeoutMs: 2000 }).catch(() => undefined)));
      for (const c of clients.values()) c.close();
      await Promise.all(
        [...processes.values()].map(async (child) => {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited(child);
          clearTimeout(timer);
        }),
      );
      await connection.close().catch(() => undefined);
      if (natsProcess) {
        natsProcess.kill('SIGTERM');
        await exited(natsProcess);
      }
    },
  };
  return demo;
}
