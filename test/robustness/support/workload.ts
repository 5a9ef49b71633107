// The workload: concurrent clients, each a typed MachineClient with its own
// exactly-once session and retries, sending what the target draws, every
// invoke and return recorded, an unknown outcome recorded as such.
import { performance } from 'node:perf_hooks';
import { seededRandom, type ReplicatedStateMachine } from '@raftline/core';
import {
  connectClient,
  LeaderUnavailableError,
  type CommandReceipt,
  type MachineClient,
  type NatsConnection,
  type QueryCallOptions,
  type QueryReceipt,
} from '@raftline/transport-nats';
import type { Ack } from './availability';
import type { Invocation, RobustnessTarget } from './target';

/**
 * How one operation ended:
 * - `ok`: it returned `output`;
 * - `unknown`: no answer settled it (a command may or may not have applied);
 * - `refused`: no leader took the command (LeaderUnavailableError): nothing applied;
 * - `failed`: a definite error: a command refused before replication or a
 *   handler that threw (CommandRejectedError, CommandFailedError, …), a read
 *   that read nothing (ReadNotConfirmedError, …).
 */
export type Outcome = 'ok' | 'unknown' | 'refused' | 'failed';

/** One operation of the history file. Times are ms since the run started (performance.now). */
export interface HistoryEntry<I = unknown, O = unknown> {
  readonly client: number;
  readonly n: number;
  readonly kind: 'command' | 'query';
  readonly name: string;
  readonly args: readonly unknown[];
  readonly consistency?: string;
  readonly writeId?: string;
  readonly input: I;
  readonly call: number;
  return?: number;
  outcome?: Outcome;
  output?: O;
  /** The error's name (and remote name) for anything but ok. */
  error?: string;
  /** Requests it took (commands), or the replica that answered (queries). */
  attempts?: number;
  replica?: string;
}

/** How the workload runs. */
export interface WorkloadOptions {
  readonly nc: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly clients: number;
  readonly seed: number;
  /** The time 0 of the history (performance.now() at the run's start). */
  readonly origin: number;
  /** A pause after each operation, drawn from [0, thinkMs). */
  readonly thinkMs: number;
  /** A client's timeout for one operation, retries included. */
  readonly timeoutMs: number;
}

/** A running workload: its history so far, and stop(). */
export interface Workload<I, O> {
  readonly entries: HistoryEntry<I, O>[];
  /** Call and return times of acknowledged commands and non-stale reads, in about the order they came. */
  readonly acks: Ack[];
  /** Stops issuing; resolves once every client's operation in flight settled. */
  stop(): Promise<void>;
}

type Machine = ReplicatedStateMachine;
type Submit = (name: string, args: readonly unknown[]) => Promise<CommandReceipt<unknown>>;
type Read = (name: string, args: readonly unknown[], o: QueryCallOptions) => Promise<QueryReceipt<unknown>>;

/** Classifies a command's error (see Outcome). */
export function commandOutcome(err: unknown): Outcome {
  if (err instanceof LeaderUnavailableError) return 'refused';
  const name = err instanceof Error ? err.name : '';
  const definite = [
    'CommandRejectedError',
    'CommandFailedError',
    'UnknownCommandError',
    'SessionExpiredError',
  ];
  return definite.includes(name) ? 'failed' : 'unknown';
}

function errorName(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const remote = (err as { remoteName?: string }).remoteName;
  return remote ? `${err.name}(${remote})` : err.name;
}

/**
 * Starts `clients` clients sending target's operations until stop().
 * @throws ConfigError, SubjectTokenError as connectClient does
 */
export async function startWorkload<S, I, O>(
  target: RobustnessTarget<S, I, O>,
  o: WorkloadOptions,
): Promise<Workload<I, O>> {
  const entries: HistoryEntry<I, O>[] = [];
  const acks: Ack[] = [];
  const now = () => performance.now() - o.origin;
  const root = seededRandom(o.seed);
  const clients: MachineClient<Machine>[] = [];
  for (let c = 0; c < o.clients; c++) {
    clients.push(
      await connectClient<Machine>({
        connection: o.nc,
        cluster: o.cluster,
        group: o.group,
        timeoutMs: o.timeoutMs,
        requestTimeoutMs: 500,
      }),
    );
  }
  let stopping = false;

  const one = async (client: MachineClient<Machine>, c: number, inv: Invocation<I>, n: number) => {
    const entry: HistoryEntry<I, O> = {
      client: c,
      n,
      kind: inv.kind,
      name: inv.name,
      args: inv.args,
      ...(inv.consistency ? { consistency: inv.consistency } : {}),
      ...(inv.writeId ? { writeId: inv.writeId } : {}),
      input: inv.input,
      call: now(),
    };
    entries.push(entry);
    try {
      if (inv.kind === 'command') {
        const r = await (client.submit.bind(client) as unknown as Submit)(inv.name, inv.args);
        entry.output = target.output(inv, r.value);
        entry.attempts = r.attempts;
      } else {
        const read = client.query.bind(client) as unknown as Read;
        const r = await read(inv.name, inv.args, { consistency: inv.consistency ?? 'linearizable' });
        entry.output = target.output(inv, r.value);
        entry.replica = r.replica;
      }
      entry.return = now();
      entry.outcome = 'ok';
      // A stale read answers without a leader: it says nothing about the group being available.
      if (inv.kind === 'command' || inv.consistency !== 'stale')
        acks.push({ call: entry.call, return: entry.return });
      target.observe?.(c, inv, entry.output);
    } catch (err) {
      entry.outcome = inv.kind === 'command' ? commandOutcome(err) : 'failed';
      entry.error = errorName(err);
      if (entry.outcome !== 'unknown') entry.return = now();
    }
  };

  const loop = async (c: number): Promise<void> => {
    const rng = root.fork();
    const client = clients[c]!;
    for (let n = 0; !stopping; n++) {
      await one(client, c, target.next(rng, c, n), n);
      const think = rng.nextInt(Math.max(1, o.thinkMs));
      if (think > 0) await new Promise((r) => setTimeout(r, think));
    }
  };
  const running = Promise.all(clients.map((_, c) => loop(c)));
  return {
    entries,
    acks,
    stop: async () => {
      stopping = true;
      await running;
      for (const client of clients) client.close();
    },
  };
}
