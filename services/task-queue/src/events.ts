/**
 * Job events from the committed stream: what a UI or an audit log follows
 * (enqueued, claimed, completed, failed, dead, released, retried, removed).
 *
 * The committed stream holds the machine's commands and their outcomes, not
 * what each did to which job: a claim names a queue, not the jobs it
 * leased; a refused ack is an applied command; a lease that expires moves
 * a job with no command of its own. So JobEventFeed does what every replica
 * does: it applies the commands, in log order, to a TaskQueue of its own
 * (deterministic, so it makes exactly the replicas' moves) and reports each
 * move. It reads from the group's first command on, since its state is the
 * whole queue's: from `replica.committed({ outcomes: 'all' })` in a replica's
 * process, or from `readCommitted({ outcomes: 'all' })` over the JetStream
 * mirror anywhere else.
 */
import {
  CommandFailedError,
  FRAMEWORK_COMMAND_PREFIX,
  MachineHost,
  RaftlineError,
  type CommandEnvelope,
} from '@raftline/core';
import { observeMoves, TaskQueue, type TaskQueueOptions } from './machine';
import type { JobEvent, JobMove } from './types';

/**
 * One committed command as the feed reads it: the shape both
 * `RaftNode.committed()` / `Replica.committed()` events and `readCommitted()`
 * records have.
 */
export interface CommittedCommand {
  readonly index: number;
  readonly term: number;
  readonly command: CommandEnvelope;
  readonly outcome:
    | { readonly kind: 'applied' }
    | { readonly kind: 'failed'; readonly error: { readonly name: string } }
    | { readonly kind: 'duplicate' };
}

/**
 * The feed cannot follow the stream: a command out of log order, or one
 * whose outcome here differs from the replicas' (the feed was built with
 * other TaskQueue options than the group, or reads another machine's stream).
 */
export class JobEventsError extends RaftlineError {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/**
 * Folds a task queue group's committed commands into job events.
 *
 * Contract: apply() must see the group's commands in log order from its
 * first one (a snapshot() taken here, then restore(), resumes after its
 * index), each once. Give it every outcome (`outcomes: 'all'`): failed
 * commands that ran their handler are applied here too, as on the
 * replicas; duplicates (session retries) are skipped. With only applied
 * commands the events are the same, save that a move a failed command's
 * time made due is reported at the next command.
 *
 * Build it with the options the group's TaskQueue was built with (the
 * queue defaults decide attempts and pruning).
 *
 * Limit: the machine's time is the largest command time so far; the
 * framework's own entries (session registrations) are not in the stream,
 * so if one of them carried a later time than the commands after it (a
 * leader change to a replica whose clock is behind), this feed may judge
 * an expiry a little later than the replicas did.
 */
export class JobEventFeed {
  private readonly host: MachineHost;
  private readonly moves: JobMove[] = [];
  private last = 0;

  /** @throws ConfigError for invalid TaskQueue options */
  constructor(private readonly options: TaskQueueOptions = {}) {
    const machine = new TaskQueue(options);
    observeMoves(machine, (move) => this.moves.push(move));
    this.host = new MachineHost(machine);
  }

  /** Log index of the last command folded (0 before any). */
  get index(): number {
    return this.last;
  }

  /**
   * Folds one committed command.
   * @returns the moves it made, in order, each with the command's index
   * @throws JobEventsError when event.index is not after the last one
   *   folded, or the outcome here differs from the event's
   */
  apply(event: CommittedCommand): JobEvent[] {
    const { index, term, command, outcome } = event;
    if (index <= this.last) {
      throw new JobEventsError(
        `command at index ${index} is not after the last one folded (${this.last})`,
        index,
      );
    }
    this.last = index;
    if (command.name.startsWith(FRAMEWORK_COMMAND_PREFIX) || outcome.kind === 'duplicate') return [];
    // A failure other than CommandFailedError (an unknown command, an expired session) ran no handler.
    if (outcome.kind === 'failed' && outcome.error.name !== CommandFailedError.name) return [];
    const { name, args, time } = command;
    this.moves.length = 0;
    const result = this.host.apply({ name, args, time }, { index, term, time });
    if (result.ok !== (outcome.kind === 'applied')) {
      const here = result.ok ? 'applied' : `failed (${result.error.message})`;
      throw new JobEventsError(
        `command ${name} at index ${index} was ${outcome.kind} on the replicas but ${here} here: ` +
          'is the feed built with the group’s TaskQueue options, on a task queue’s stream?',
        index,
      );
    }
    return this.moves.map((move) => ({ ...move, index }) as JobEvent);
  }

  /** The feed's state (its queue and index), for restore(). */
  snapshot(): Uint8Array {
    return this.host.snapshot();
  }

  /**
   * A feed that resumes where the one that took `data` stood: fold from
   * its `index` + 1.
   * @throws DecodeError when data is not a feed snapshot
   */
  static restore(data: Uint8Array, options: TaskQueueOptions = {}): JobEventFeed {
    const feed = new JobEventFeed(options);
    feed.host.restore(data);
    feed.last = feed.host.appliedIndex;
    return feed;
  }
}

/**
 * The job events of a committed stream, in order (see JobEventFeed for what
 * the stream must hold).
 * @returns an iterable that ends when source ends
 * @throws JobEventsError (from the iteration), as JobEventFeed.apply does,
 *   and whatever source throws
 */
export async function* jobEvents(
  source: AsyncIterable<CommittedCommand>,
  options: TaskQueueOptions = {},
  feed: JobEventFeed = new JobEventFeed(options),
): AsyncGenerator<JobEvent> {
  for await (const event of source) yield* feed.apply(event);
}
