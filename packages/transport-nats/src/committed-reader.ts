import { ConfigError, OUTCOME_FILTERS, type OutcomeFilter } from '@raftline/core';
import { decodeCommittedPosition, decodeCommittedRecord, type CommittedRecord } from './committed';
import { CommittedStreamError } from './errors';
import {
  jetstreamModule,
  type JetStreamManager,
  type JetStreamOptions,
  type JsMsg,
  type NatsConnection,
} from './nats';
import { committedStreamName } from './subjects';

/** Where and what readCommitted reads. */
export interface ReadCommittedOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /** The stream's name, when the mirror was given one (default committedStreamName(cluster, group)). */
  readonly stream?: string;
  readonly jetStream?: JetStreamOptions;
  /** First log index to yield (default 1): resume with the index after the last one processed. */
  readonly fromIndex?: number;
  /**
   * Which commands to yield: 'applied' (default) only those whose outcome is
   * applied, so that a projection folds each command once; 'all' every
   * committed command, failed and duplicate ones included. The same names
   * as RaftNode.committed().
   */
  readonly outcomes?: OutcomeFilter;
  /**
   * Keep waiting for new messages (default true); false ends the iteration
   * at the message that was last in the stream when reading started.
   */
  readonly follow?: boolean;
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
}

/** One message of a committed stream as readCommitted yields it: the record and its stream sequence. */
export interface CommittedMessage extends CommittedRecord {
  /** The message's stream sequence (gap-free: 1, 2, 3, … over every committed command). */
  readonly seq: number;
}

/**
 * Reads a group's committed stream (the one JetStreamMirror writes) with an
 * ordered JetStream consumer: records in log order (strictly increasing
 * index), each once, from the first one with index ≥ fromIndex, filtered by
 * outcome on this side (the stream itself holds every committed command).
 * @returns the records; the iteration throws what the options below say
 * @throws ConfigError at once for a bad fromIndex or outcomes
 * @throws CommittedStreamError (from the iteration) when the stream is
 *   missing, when messages at or after fromIndex were removed from it (a
 *   limit, or a delete), or when a message is not a committed record of this
 *   version or breaks log order
 */
export function readCommitted(options: ReadCommittedOptions): AsyncIterable<CommittedMessage> {
  const outcomes = options.outcomes ?? 'applied';
  const fromIndex = options.fromIndex ?? 1;
  const problems: string[] = [];
  if (!OUTCOME_FILTERS.includes(outcomes)) {
    problems.push(`outcomes (${String(outcomes)}) must be one of ${OUTCOME_FILTERS.join(', ')}`);
  }
  if (!Number.isSafeInteger(fromIndex) || fromIndex < 1) {
    problems.push(`fromIndex (${String(fromIndex)}) must be a positive integer`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return read({ ...options, fromIndex, outcomes });
}

async function* read(
  o: ReadCommittedOptions & { fromIndex: number; outcomes: OutcomeFilter },
): AsyncGenerator<CommittedMessage> {
  const stream = o.stream ?? committedStreamName(o.cluster, o.group);
  const jsm = await jetstreamModule.jetstreamManager(o.connection, o.jetStream);
  const bounds = await streamBounds(jsm, stream);
  const startSeq = await seqOfIndex(jsm, stream, bounds, o.fromIndex);
  const endSeq = o.follow === false ? bounds.last : Infinity;
  if (startSeq > endSeq || o.signal?.aborted) return;
  const js = jetstreamModule.jetstream(o.connection, o.jetStream);
  const consumer = await js.consumers.get(stream, {
    deliver_policy: jetstreamModule.DeliverPolicy.StartSequence,
    opt_start_seq: startSeq,
  });
  const messages = await consumer.consume();
  const stop = (): void => void messages.close();
  o.signal?.addEventListener('abort', stop);
  let lastIndex = 0;
  try {
    for await (const m of messages) {
      const record = decode(stream, m);
      if (record.index <= lastIndex) {
        throw new CommittedStreamError(stream, `seq ${m.seq} holds index ${record.index} after ${lastIndex}`);
      }
      lastIndex = record.index;
      if (record.index >= o.fromIndex && (o.outcomes === 'all' || record.outcome.kind === 'applied')) {
        yield { ...record, seq: m.seq };
      }
      if (m.seq >= endSeq || o.signal?.aborted) break;
    }
  } finally {
    o.signal?.removeEventListener('abort', stop);
    await messages.close();
  }
}

function decode(stream: string, m: JsMsg): CommittedRecord {
  try {
    return decodeCommittedRecord(m.data);
  } catch (err) {
    throw new CommittedStreamError(stream, `seq ${m.seq} is not a committed record`, { cause: err });
  }
}

/** The stream's first and last sequence (last < first when it holds nothing). */
async function streamBounds(jsm: JetStreamManager, stream: string): Promise<{ first: number; last: number }> {
  try {
    const { first_seq, last_seq } = (await jsm.streams.info(stream)).state;
    return { first: Math.max(1, first_seq), last: last_seq };
  } catch (err) {
    throw new CommittedStreamError(stream, 'cannot read its state (does it exist?)', { cause: err });
  }
}

/**
 * The sequence of the first message with index ≥ fromIndex (last + 1 when
 * there is none yet), by binary search: indices increase with sequences.
 * @throws CommittedStreamError when messages that may hold such an index were removed
 */
async function seqOfIndex(
  jsm: JetStreamManager,
  stream: string,
  { first, last }: { first: number; last: number },
  fromIndex: number,
): Promise<number> {
  if (last < first) {
    if (first > 1) throw removed(stream, first, undefined); // emptied by a limit or a purge
    return first;
  }
  const indexAt = async (seq: number): Promise<number> => {
    const msg = await jsm.streams.getMessage(stream, { seq });
    if (!msg) throw new CommittedStreamError(stream, `its message at seq ${seq} is gone`);
    return decodeCommittedPosition(msg.data).index;
  };
  const firstIndex = await indexAt(first);
  if (fromIndex <= firstIndex) {
    // Removed messages held indices below firstIndex, possibly some ≥ fromIndex.
    if (first > 1 && fromIndex < firstIndex) throw removed(stream, first, firstIndex);
    return first;
  }
  let lo = first + 1;
  let hi = last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await indexAt(mid)) >= fromIndex) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function removed(stream: string, first: number, firstIndex: number | undefined): CommittedStreamError {
  const held = firstIndex === undefined ? 'none is left' : `the first left is index ${firstIndex}`;
  return new CommittedStreamError(
    stream,
    `messages before seq ${first} were removed (a limit or a delete), so it cannot be read from there; ${held}`,
  );
}
