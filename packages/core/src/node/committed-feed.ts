import { CompactedError, DecodeError } from '../errors';
import type { Entry } from '../protocol/types';
import type { ApplyResult } from './applier';
import { decodeCommand, type CommandEnvelope } from './command';

/** One committed command, as the committed stream yields it. */
export interface CommittedEvent {
  readonly index: number;
  readonly term: number;
  readonly command: CommandEnvelope;
  /** The handler's outcome, when this process applied the entry recently (within streamResultWindow entries). */
  readonly result?: ApplyResult;
}

const READ_BATCH = 256;

/**
 * Serves the committed stream: iterators pull entries in log order from the
 * node's retained log, so a slow consumer holds at most one batch in memory
 * and never delays the node. Results of the last `window` commands are kept
 * to attach to events.
 */
export class CommittedFeed {
  private readonly results = new Map<
    number,
    { command: CommandEnvelope; outcome: ApplyResult | undefined }
  >();
  private applied = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly window: number,
    private readonly readLog: (lo: number, hi: number) => Entry[],
  ) {}

  /** Records that entry e was applied (with its decoded command and outcome), waking iterators. */
  push(e: Entry, command: CommandEnvelope | undefined, outcome: ApplyResult | undefined): void {
    this.applied = e.index;
    if (command) this.results.set(e.index, { command, outcome });
    this.results.delete(e.index - this.window);
    this.wake();
  }

  /**
   * The state jumped to a snapshot at `index`: entries up to it are not in
   * the log any more; iterators still behind it fail with CompactedError.
   */
  skipTo(index: number): void {
    if (index <= this.applied) return;
    this.applied = index;
    this.results.clear();
    this.wake();
  }

  /** Ends every iterator once it has caught up. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * Yields committed commands with index ≥ from, waiting for new ones.
   * @throws CompactedError when `from` is no longer retained
   */
  async *iterate(from: number, signal?: AbortSignal): AsyncGenerator<CommittedEvent> {
    const onAbort = (): void => this.wake();
    signal?.addEventListener('abort', onAbort);
    try {
      yield* this.pull(Math.max(1, from), signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async *pull(from: number, signal: AbortSignal | undefined): AsyncGenerator<CommittedEvent> {
    let next = from;
    while (true) {
      if (signal?.aborted) return;
      if (next > this.applied) {
        if (this.closed) return;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const batch = this.readLog(next, Math.min(this.applied, next + READ_BATCH - 1));
      if (batch.length === 0 || batch[0]!.index !== next)
        throw new CompactedError(next, batch[0]?.index ?? this.applied + 1);
      for (const e of batch) {
        next = e.index + 1;
        const event = this.event(e);
        if (event) yield event;
      }
    }
  }

  private event(e: Entry): CommittedEvent | undefined {
    if (e.type !== 'normal') return undefined;
    const cached = this.results.get(e.index);
    let command = cached?.command;
    if (!command) {
      try {
        command = decodeCommand(e.data);
      } catch (err) {
        if (err instanceof DecodeError) return undefined; // it failed to apply too; nothing to stream
        throw err;
      }
    }
    return { index: e.index, term: e.term, command, ...(cached?.outcome ? { result: cached.outcome } : {}) };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
