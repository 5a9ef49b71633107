import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A nats-server (JetStream on) that one test started for itself on a spare loopback port. */
export interface NatsServer {
  readonly url: string;
  /** Stops it (SIGTERM, then SIGKILL after 2 s) and removes its store directory. Idempotent. */
  dispose(): Promise<void>;
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls cond every 20 ms until it holds.
 * @throws Error naming what was awaited when it does not hold within timeoutMs
 */
export async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A token no other run uses (pid + random), valid in NATS subjects and as a store group id. */
export function uniqueId(prefix: string): string {
  return `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
}

function sparePort(): Promise<number> {
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

/**
 * Starts `nats-server -js` on a spare 127.0.0.1 port with its store in a new temporary directory.
 * @throws Error when it does not accept connections within 10 s
 */
export async function startNatsServer(): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'raftline-cluster-nats-'));
  const port = await sparePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js')];
  const proc: ChildProcess = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (b: Buffer) => {
    if (log.length < 20_000) log += b.toString();
  });
  const dispose = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) {
      await dispose();
      throw new Error(`nats-server exited (${proc.exitCode}): ${log}`);
    }
    if (await canConnect(port)) return { url: `127.0.0.1:${port}`, dispose };
    await sleep(50);
  }
  await dispose();
  throw new Error(`nats-server on port ${port} did not start in 10 s: ${log}`);
}
