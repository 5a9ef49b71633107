/**
 * CoordinatorClient: the coordinator's typed client over NATS for services
 * and humans (those who create tasks, designate, approve, watch), with
 * observe(task), the ordered stream of a task's coordinator changes. Agents
 * that hold a task use CoordinatorAgent; both talk to the same replicas.
 */
import type { CommandsOf, QueriesOf, ReadConsistency } from '@raftline/core';
import {
  connectClient,
  readCommitted,
  type JetStreamOptions,
  type MachineClient,
  type MachineClientOptions,
} from '@raftline/transport-nats';
import type { Coordinator } from '../coordinator';
import type { ObservedEvent } from '../types';
import { observeTask, type ObserveOptions, type TaskEventSource } from './observe';

/** How a CoordinatorClient reaches its group: the typed client's options, and where the committed stream is. */
export interface CoordinatorClientOptions extends MachineClientOptions {
  /** The committed stream's name, when the replicas' mirror was given one (default committedStreamName(cluster, group)). */
  readonly stream?: string;
  readonly jetStream?: JetStreamOptions;
  /**
   * The consistency of observe()'s history reads: 'linearizable' (default)
   * or 'lease' (cheaper, as safe as the leader's lease; see ReadConsistency).
   * A 'stale' read could miss the command observe waits for, so it is not offered.
   */
  readonly observeConsistency?: Exclude<ReadConsistency, 'stale'>;
}

/**
 * The coordinator's commands and queries over NATS, and observe().
 *
 * Contract:
 * - commands and queries are the typed client's (MachineClient<Coordinator>:
 *   an exactly-once session, bounded retries; refusals are result values, see
 *   unwrap()).
 * - observe(task) follows the group's committed stream, which the replicas
 *   mirror into JetStream (`raftline serve`'s default; mirrorCommitted in
 *   replicas of your own): without the mirror it serves nothing, retrying
 *   (options.onError says why).
 * - close() stops the typed client; iterations of observe() end on their
 *   own (break, return(), their signal). The connection is the caller's.
 */
export class CoordinatorClient {
  /** The commands, as `client.commands`. */
  readonly commands: CommandsOf<Coordinator>;
  /** The queries at the client's consistency, as `client.queries`. */
  readonly queries: QueriesOf<Coordinator>;

  private constructor(
    /** The typed client underneath (per-call options: client.query, client.submit). */
    readonly client: MachineClient<Coordinator>,
    private readonly source: TaskEventSource,
  ) {
    this.commands = client.commands;
    this.queries = client.queries;
  }

  /**
   * Connects the typed client.
   * @returns the client, once it follows the group's leader notices
   * @throws ConfigError, SubjectTokenError for bad options (as connectClient does)
   */
  static async connect(options: CoordinatorClientOptions): Promise<CoordinatorClient> {
    const { stream, jetStream, observeConsistency = 'linearizable', ...clientOptions } = options;
    const client = await connectClient<Coordinator>(clientOptions);
    const { connection, cluster, group } = clientOptions;
    const source: TaskEventSource = {
      history: async (task, after) => {
        const r = await client.query('history', [task, after], { consistency: observeConsistency });
        return { page: r.value, appliedIndex: r.appliedIndex };
      },
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
    };
    return new CoordinatorClient(client, source);
  }

  /**
   * The ordered stream of a task's events: grants (the new epoch, its
   * coordinator and the cause), ends (why), checkpoints, designations,
   * approvals, pauses and resumptions, as they are committed, each once;
   * `{ fromIndex }` resumes after an event's `index`. Stop it with break,
   * return() or options.signal. See observeTask for the whole contract.
   * @returns an AsyncIterable of ObservedEvents
   * @throws ConfigError at once for a bad option; HistoryTruncatedError from the iteration
   */
  observe(task: string, options: ObserveOptions = {}): AsyncGenerator<ObservedEvent, void, undefined> {
    return observeTask(this.source, task, options);
  }

  /** Stops the typed client (its leader notices). The connection stays open. */
  close(): void {
    this.client.close();
  }
}
