import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The shared NATS server of the machine (JetStream on), used by tests that never restart NATS. */
export const SHARED_NATS = '127.0.0.1:4222';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A nats-server a test started for itself on a spare loopback port. */
export interface OwnNatsServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s); it can be started again on the same port. */
  stop(): Promise<void>;
  /** Starts it again after stop(), same port and store. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server with JetStream (unless `jetstream: false`) on a spare
 * loopback port, with optional config lines (e.g. `max_payload: 65536`).
 * @throws Error when the server is not accepting connections within 10 s
 */
export async function startNatsServer(
  options: { config?: string; jetstream?: boolean } = {},
): Promise<OwnNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'raftline-nats-'));
  const port = await sparePort();
  const configFile = join(dir, 'nats.conf');
  writeFileSync(configFile, `${options.config ?? ''}\n`);
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const js = options.jetstream === false ? [] : ['-js', '-sd', join(dir, 'js')];
    const args = ['-a', '127.0.0.1', '-p', String(port), ...js, '-c', configFile];
    const proc = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let log = '';
    proc.stderr?.on('data', (b: Buffer) => {
      if (log.length < 20_000) log += b.toString();
    });
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited (${proc.exitCode}): ${log}`);
      if (await canConnect(port)) return;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server on port ${port} did not start: ${log}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `127.0.0.1:${port}`,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls cond every 10 ms until it holds.
 * @throws Error naming what was awaited when it does not hold within timeoutMs
 */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A cluster id no other test run uses, so tests on the shared server never hear each other. */
export function uniqueCluster(prefix = 't'): string {
  return `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
}
