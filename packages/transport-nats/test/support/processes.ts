import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { unpack } from '@raftline/core';
import { LeaderUnavailableError, NatsRaftClient, type NatsConnection } from '../../src/index';
import { fields } from '../../src/messages';
import { sleep } from './nats-server';

const REGISTER = join(__dirname, '../../../../scripts/ts-register.js');
const FIXTURES = join(__dirname, '../../../../test/fixtures');
const REPLICA = join(FIXTURES, 'replica.ts');

/** A replica process this test started. */
export interface ReplicaProcess {
  readonly id: string;
  readonly proc: ChildProcess;
  /** Sends SIGKILL and waits for the process to be gone. */
  kill9(): Promise<void>;
}

/** test/fixtures/inventory-replica.ts: a replica of the Inventory machine, for spawnReplicas' `script`. */
export const INVENTORY_REPLICA = join(FIXTURES, 'inventory-replica.ts');

/**
 * Spawns one replica process per id (test/fixtures/replica.ts, or `script`, with
 * `env` added to its environment) and waits for each to print "ready".
 * @throws Error when a replica exits or stays silent for 20 s
 */
export async function spawnReplicas(o: {
  natsUrl: string;
  cluster: string;
  group: string;
  ids: readonly string[];
  electionMs: number;
  script?: string;
  env?: Readonly<Record<string, string>>;
  /** The group's initial voters (default ids): to start some of them with another env. */
  voters?: readonly string[];
}): Promise<ReplicaProcess[]> {
  return Promise.all(
    o.ids.map(async (id) => {
      const proc = spawn(process.execPath, ['-r', REGISTER, o.script ?? REPLICA], {
        env: {
          ...process.env,
          ...o.env,
          NATS_URL: o.natsUrl,
          RAFT_CLUSTER: o.cluster,
          RAFT_GROUP: o.group,
          RAFT_ID: id,
          RAFT_VOTERS: (o.voters ?? o.ids).join(','),
          ELECTION_MS: String(o.electionMs),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      proc.stderr?.on('data', (b: Buffer) => {
        if (err.length < 10_000) err += b.toString();
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`replica ${id} not ready in 20 s: ${err}`)), 20_000);
        proc.stdout?.on('data', (b: Buffer) => {
          if (b.toString().includes('"ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`replica ${id} exited (${code}): ${err}`));
        });
      });
      return {
        id,
        proc,
        kill9: async () => {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          const gone = new Promise((resolve) => proc.once('exit', resolve));
          proc.kill('SIGKILL');
          await gone;
        },
      };
    }),
  );
}

/** What a replica reports about itself. */
export interface Inspection {
  id: string;
  role: string;
  leaderId: string;
  term: number;
  leaderSince: number;
  applied: string[];
}

/**
 * Asks one replica process for its state.
 * @returns the report, or undefined when it does not answer within 500 ms
 */
export async function inspect(
  nc: NatsConnection,
  cluster: string,
  id: string,
): Promise<Inspection | undefined> {
  try {
    const msg = await nc.request(`raftline-test.${cluster}.${id}.inspect`, undefined, { timeout: 500 });
    const f = fields(unpack(msg.data), 'inspection');
    return Object.fromEntries(f) as unknown as Inspection;
  } catch {
    return undefined;
  }
}

/** The outcome of a load run: acknowledged keys, keys with an unknown outcome, keys known not applied. */
export interface LoadResult {
  acked: string[];
  unknown: string[];
  refused: string[];
}

/** A running load: its live result, a way to stop it, and its end. */
export interface Load {
  readonly result: LoadResult;
  stop(): void;
  readonly done: Promise<LoadResult>;
}

/** How one command of a load ended: acknowledged (with its reply), refused (known not applied), or unknown. */
export interface LoadOutcome {
  readonly kind: 'acked' | 'refused' | 'unknown';
  readonly key: string;
  readonly value?: unknown;
}

/**
 * Runs `workers` concurrent loops, each proposing `inc <unique key>` one
 * after another (each key once, no client session, so nothing that may have
 * applied is resent), until stop(), `maxCommands` issued or `maxMs` passed,
 * whichever comes first; reports every outcome to `record`. After a failure a
 * worker pauses `pauseAfterFailureMs`, so a failing cluster is not hammered.
 */
export function runLoad(
  client: NatsRaftClient,
  o: { workers: number; maxCommands: number; maxMs: number; prefix: string; pauseAfterFailureMs?: number },
  record: (outcome: LoadOutcome) => void,
): { stop(): void; done: Promise<void> } {
  const deadline = Date.now() + o.maxMs;
  let issued = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && issued < o.maxCommands && Date.now() < deadline) {
      const key = `${o.prefix}-${issued++}`;
      try {
        record({ kind: 'acked', key, value: await client.propose({ name: 'inc', args: [key] }) });
      } catch (err) {
        record({ kind: err instanceof LeaderUnavailableError ? 'refused' : 'unknown', key });
        if (o.pauseAfterFailureMs) await sleep(o.pauseAfterFailureMs);
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.workers }, worker)).then(() => undefined);
  return { stop: () => (stopped = true), done };
}

/** Starts a load (see runLoad) that collects the keys of each kind of outcome. */
export function startLoad(
  client: NatsRaftClient,
  o: { workers: number; maxCommands: number; maxMs: number; prefix: string },
): Load {
  const result: LoadResult = { acked: [], unknown: [], refused: [] };
  const run = runLoad(client, o, ({ kind, key }) => result[kind].push(key));
  return { result, stop: run.stop, done: run.done.then(() => result) };
}
