// A Coordinator behind the test host (host.ts) as a TaskEventSource: every
// command applied is appended to an in-memory committed log that committed()
// follows, and history() reads the machine at its applied index. Failures
// can be injected into either.
import type { CommittedCommand, HistoryAnswer, HistoryPage, TaskEventSource } from '../../src/index';
import type { CoordinatorOptions } from '../../src/index';
import { Machine } from './host';

export class Feed implements TaskEventSource {
  readonly m: Machine;
  readonly log: CommittedCommand[] = [];
  /** history() calls so far. */
  reads = 0;
  /** The next this many history() calls fail. */
  failReads = 0;
  /** The next this many committed() iterations fail after this many commands. */
  failStreams = 0;
  failStreamAfter = 0;
  private readonly wakers = new Set<() => void>();

  constructor(options: CoordinatorOptions = {}) {
    this.m = new Machine(options);
  }

  /** Applies one command (as Machine.cmd) and appends it to the committed log. */
  cmd<T = { readonly ok: boolean; readonly [key: string]: unknown }>(name: string, ...args: unknown[]): T {
    const result = this.m.cmd<T>(name, ...args);
    this.log.push({
      index: this.m.host.appliedIndex,
      command: { name, args, time: this.m.time },
      outcome: { kind: 'applied' },
    });
    for (const wake of this.wakers) wake();
    return result;
  }

  history(task: string, after: number): Promise<HistoryAnswer> {
    this.reads += 1;
    if (this.failReads > 0) {
      this.failReads -= 1;
      return Promise.reject(new Error('history: no replica answered'));
    }
    const page = this.m.query<HistoryPage | null>('history', task, after);
    return Promise.resolve({ page, appliedIndex: this.m.host.appliedIndex });
  }

  async *committed(fromIndex: number, signal: AbortSignal): AsyncGenerator<CommittedCommand> {
    let at = this.log.findIndex((c) => c.index >= fromIndex);
    if (at < 0) at = this.log.length;
    let served = 0;
    const failing = this.failStreams > 0;
    if (failing) this.failStreams -= 1;
    while (!signal.aborted) {
      while (at < this.log.length) {
        if (failing && served === this.failStreamAfter) throw new Error('committed stream: connection lost');
        served += 1;
        yield this.log[at++]!;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.wakers.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.wakers.add(done);
        signal.addEventListener('abort', done);
      });
    }
  }

  /** The task's whole kept history. */
  events(task: string): HistoryPage['events'] {
    return this.m.query<HistoryPage | null>('history', task)?.events ?? [];
  }
}
