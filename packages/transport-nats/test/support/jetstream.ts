import type { CommandOutcome, CommittedEvent, OutcomeFilter } from '@raftline/core';
import {
  COMMITTED_HEADERS,
  decodeCommittedRecord,
  type CommittedRecord,
  type MirrorSource,
} from '../../src/index';
import { jetstreamModule, type NatsConnection } from '../../src/nats';

/** One message of a committed stream as an ordinary consumer sees it. */
export interface StreamEntry {
  readonly seq: number;
  readonly msgId: string;
  readonly record: CommittedRecord;
  /** The outcome headers the message carries (Raftline-Outcome, -Duplicate-Of, -Error), by name. */
  readonly outcomeHeaders: Record<string, string>;
}

/**
 * Reads a stream with an ordinary (ordered) JetStream consumer, from stream
 * sequence fromSeq up to the last sequence the stream had when called.
 * @throws Error when the messages do not all arrive within 10 s
 */
export async function readStream(nc: NatsConnection, stream: string, fromSeq = 1): Promise<StreamEntry[]> {
  const js = jetstreamModule.jetstream(nc);
  const jsm = await jetstreamModule.jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const out: StreamEntry[] = [];
  if (last < fromSeq) return out;
  const consumer = await js.consumers.get(stream, {
    opt_start_seq: fromSeq,
    deliver_policy: 'by_start_sequence',
  });
  const deadline = Date.now() + 10_000;
  while (out.length === 0 || out[out.length - 1]!.seq < last) {
    if (Date.now() > deadline)
      throw new Error(`read ${out.length} messages of ${stream}, not up to seq ${last}`);
    const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
    for await (const m of batch) {
      out.push({
        seq: m.seq,
        msgId: m.headers?.get('Nats-Msg-Id') ?? '',
        record: decodeCommittedRecord(m.data),
        outcomeHeaders: Object.fromEntries(
          [COMMITTED_HEADERS.outcome, COMMITTED_HEADERS.duplicateOf, COMMITTED_HEADERS.error].flatMap((h) =>
            m.headers?.has(h) ? [[h, m.headers.get(h)]] : [],
          ),
        ),
      });
      if (m.seq >= last) break;
    }
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

/** Deletes a stream if it exists. */
export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamModule.jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => undefined);
}

/**
 * A replica stand-in for the mirror: a committed history the test extends
 * with add(), and a leadership flag it sets.
 */
export class ScriptedSource implements MirrorSource {
  leader = true;
  /** Every floor the mirror set (retainFrom), in order. */
  readonly floors: number[] = [];
  private readonly events: CommittedEvent[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly id: string) {}

  isLeader(): boolean {
    return this.leader;
  }

  retainFrom(index: number): void {
    this.floors.push(index);
  }

  /** Appends committed commands (indices must increase); the term, args and outcome (default applied) come from the caller. */
  add(...events: { index: number; term: number; key: string; outcome?: CommandOutcome }[]): void {
    for (const e of events) {
      const command = { name: 'inc', args: [e.key], time: 0 };
      this.events.push({ index: e.index, term: e.term, command, outcome: e.outcome ?? { kind: 'applied' } });
    }
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  async *committed(
    options: { fromIndex?: number; outcomes?: OutcomeFilter } = {},
  ): AsyncGenerator<CommittedEvent> {
    let next = options.fromIndex ?? 1;
    for (;;) {
      const e = this.events.find((x) => x.index >= next);
      if (!e) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      next = e.index + 1;
      if (options.outcomes === 'all' || e.outcome.kind === 'applied') yield e;
    }
  }
}
