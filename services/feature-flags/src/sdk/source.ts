/**
 * Where a FlagClient gets its state: a snapshot of an environment, and the
 * committed commands after it. natsFlagSource reads both over NATS through
 * the public API of @raftline/transport-nats (the typed client's
 * environmentSnapshot query, and readCommitted on the group's JetStream
 * mirror); tests may give any other FlagSource, e.g. one over an in-process
 * Replica (replica.query and replica.committed have the same shapes).
 */
import type { CommandsOf, ReadConsistency } from '@raftline/core';
import {
  connectClient,
  readCommitted,
  type JetStreamOptions,
  type MachineClient,
  type MachineClientOptions,
  type NatsConnection,
} from '@raftline/transport-nats';
import type { FeatureFlags } from '../machine';
import type { EnvironmentSnapshot } from '../types';
import type { CommittedChange } from './view';

/** A snapshot loader and a committed stream; see the module comment. */
export interface FlagSource {
  /**
   * Loads the environment's flags and segments.
   * @returns a snapshot whose appliedIndex says the log index it holds; for
   *   read-your-writes it must hold every write acknowledged before the call
   *   (a linearizable read)
   */
  snapshot(environment: string): Promise<EnvironmentSnapshot>;
  /**
   * The committed commands from fromIndex on, in log order, every outcome,
   * waiting for new ones until signal aborts (then it ends). It may throw
   * (a lost connection, a stream not there yet): the client starts it again
   * from where it stopped.
   */
  committed(fromIndex: number, signal: AbortSignal): AsyncIterable<CommittedChange>;
  /** The store's commands, for writes through the client (absent: the client is read-only). */
  readonly commands?: CommandsOf<FeatureFlags>;
  /** Releases what the source holds (the client calls it from close()). */
  close?(): void | Promise<void>;
}

/** How natsFlagSource reaches the group. */
export interface NatsFlagSourceOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** The replica snapshots are loaded from (default: any, through the queue group). */
  readonly replica?: string;
  /** The consistency of snapshot loads (default 'linearizable': read-your-writes). */
  readonly consistency?: ReadConsistency;
  /** The committed stream's name, when the mirror was given one. */
  readonly stream?: string;
  readonly jetStream?: JetStreamOptions;
  /** The typed client's deadline per call, retries included (default 5000 ms). */
  readonly timeoutMs?: number;
  /** The typed client's time per request (default 1000 ms). */
  readonly requestTimeoutMs?: number;
}

/** A FlagSource over NATS, with the typed client it writes through (closed with it). */
export interface NatsFlagSource extends FlagSource {
  readonly client: MachineClient<FeatureFlags>;
  readonly commands: CommandsOf<FeatureFlags>;
}

/**
 * A FlagSource over NATS: snapshots through the typed client (from
 * options.replica or any replica), the committed stream from the group's
 * JetStream mirror (replicas run with the mirror on: `raftline serve`'s
 * default), writes through the typed client's exactly-once session.
 * @returns the source, once the typed client follows the group's leader notices
 * @throws ConfigError, SubjectTokenError for bad options (as connectClient does)
 */
export async function natsFlagSource(options: NatsFlagSourceOptions): Promise<NatsFlagSource> {
  const { connection, cluster, group, replica, consistency = 'linearizable', stream, jetStream } = options;
  const clientOptions: MachineClientOptions = {
    connection,
    cluster,
    group,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  };
  const client = await connectClient<FeatureFlags>(clientOptions);
  return {
    client,
    commands: client.commands,
    snapshot: async (environment) =>
      (
        await client.query('environmentSnapshot', [environment], {
          consistency,
          ...(replica !== undefined ? { replica } : {}),
        })
      ).value,
    committed: (fromIndex, signal) =>
      readCommitted({
        connection,
        cluster,
        group,
        fromIndex,
        outcomes: 'all',
        signal,
        ...(stream !== undefined ? { stream } : {}),
        ...(jetStream !== undefined ? { jetStream } : {}),
      }),
    close: () => client.close(),
  };
}
