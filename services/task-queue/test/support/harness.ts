// A TaskQueue behind a MachineHost, driven by hand: each command is
// validated as before replication, then applied at the next log index and
// at the time the test sets, and the indexes are audited after it.
import { MachineHost, StateMachine, type CommandsOf, type QueriesOf } from '@raftline/core';
import { TaskQueue, type TaskQueueOptions } from '../../src/index';

/** A TaskQueue that exposes its audit to tests (same machine name, so snapshots are interchangeable). */
@StateMachine('task-queue')
export class AuditedTaskQueue extends TaskQueue {
  audit(): string[] {
    return this.auditState();
  }
}

type Sync<F> = { [K in keyof F]: F[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : never };

export class Harness {
  readonly machine: AuditedTaskQueue;
  readonly host: MachineHost;
  /** Log index of the last command applied. */
  index = 0;
  /** Replicated time the next command is applied at. */
  time = 0;
  /** Commands, applied synchronously: h.cmd.enqueue('q', payload). */
  readonly cmd: Sync<Omit<CommandsOf<TaskQueue>, QueryName>>;
  /** Queries, answered from local state: h.q.stats('q'). */
  readonly q: Sync<Pick<QueriesOf<TaskQueue>, QueryName>>;

  constructor(options?: TaskQueueOptions, machine?: AuditedTaskQueue) {
    this.machine = machine ?? new AuditedTaskQueue(options);
    this.host = new MachineHost(this.machine);
    this.cmd = proxy((name, args) => this.apply(name, args));
    this.q = proxy((name, args) => this.host.query(name, args));
  }

  /** Sets the replicated time of the following commands. */
  at(time: number): this {
    this.time = time;
    return this;
  }

  /** Applies a command to another queue: it takes a log index, as traffic would between two claims. */
  enqueueNoise(): void {
    this.cmd.enqueue('noise', null);
  }

  /**
   * Validates and applies one command.
   * @returns its result
   * @throws CommandRejectedError (validation), CommandFailedError (the handler threw),
   *   Error when the audit finds a broken index
   */
  apply(name: string, args: readonly unknown[]): unknown {
    this.host.validate({ name, args });
    const result = this.host.apply(
      { name, args, time: this.time },
      { index: ++this.index, term: 1, time: this.time },
    );
    if (!result.ok) throw result.error;
    const problems = this.machine.audit();
    if (problems.length > 0)
      throw new Error(`audit after ${name} at index ${this.index}: ${problems.join('; ')}`);
    return result.value;
  }
}

type QueryName = 'stats' | 'queues' | 'settings' | 'getJob' | 'listJobs';

function proxy<T>(call: (name: string, args: unknown[]) => unknown): T {
  return new Proxy(
    {},
    { get: (_t, name) => (typeof name === 'string' ? (...args: unknown[]) => call(name, args) : undefined) },
  ) as T;
}
