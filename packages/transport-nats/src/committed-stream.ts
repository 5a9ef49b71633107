import { ConfigError, type CommittedEvent } from '@raftline/core';
import {
  COMMITTED_HEADERS,
  decodeCommittedPosition,
  encodeCommittedRecord,
  outcomeHeaders,
  recordOutcome,
} from './committed';
import { CommittedStreamError } from './errors';
import {
  jetstreamModule,
  natsCoreModule,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamOptions,
  type NatsConnection,
  type StreamConfig,
  type StreamInfo,
} from './nats';

/** JetStream API error codes: wrong last sequence, stream not found, stream name already in use. */
const WRONG_LAST_SEQUENCE = 10071;
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

/** The stream's last message: its sequence, and the log index and term of the command it holds (all 0 when empty). */
export interface StreamTail {
  readonly seq: number;
  readonly index: number;
  readonly term: number;
}

/**
 * A conditional append was refused because the stream's last message is not
 * the one the writer expected (another writer stored first), or the index was
 * already stored. Nothing was appended; the writer reads the tail again.
 */
export class StreamConflict extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamConflict';
  }
}

/** Where a group's committed stream lives and how to reach it. */
export interface CommittedStreamOptions {
  readonly connection: NatsConnection;
  readonly name: string;
  readonly subject: string;
  /** Settings when the stream is created; name and subjects are fixed. */
  readonly config?: Partial<StreamConfig>;
  readonly jetStream?: JetStreamOptions;
  /** How long one append waits for its ack. */
  readonly publishTimeoutMs: number;
}

/**
 * The JetStream side of a committed stream: creating it, reading its tail,
 * and appending one command (with its outcome, in the payload and the
 * headers) on condition that the stream's last sequence is the one expected
 * (`Nats-Expected-Last-Sequence`), with the log index as `Nats-Msg-Id`.
 */
export class CommittedStream {
  private constructor(
    private readonly options: CommittedStreamOptions,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * Creates the stream when missing (file storage, one replica, deny_delete,
   * deny_purge, under options.config), or checks that the existing one
   * captures the subject.
   * @returns the stream, ready to append to
   * @throws ConfigError when an existing stream of that name does not capture the subject
   * @throws the nats.js JetStream error when JetStream is not reachable
   */
  static async open(options: CommittedStreamOptions): Promise<CommittedStream> {
    const jsm = await jetstreamModule.jetstreamManager(options.connection, options.jetStream);
    const js = jetstreamModule.jetstream(options.connection, options.jetStream);
    const stream = new CommittedStream(options, js, jsm);
    await stream.ensure();
    return stream;
  }

  /**
   * Reads the stream's last message.
   * @throws CommittedStreamError when that message is gone (deleted or expired by a limit) or does not decode
   */
  async tail(): Promise<StreamTail> {
    const { name } = this.options;
    const seq = (await this.jsm.streams.info(name)).state.last_seq;
    if (seq === 0) return { seq: 0, index: 0, term: 0 };
    const msg = await this.jsm.streams.getMessage(name, { seq });
    if (!msg) {
      throw new CommittedStreamError(
        name,
        `its last message (seq ${seq}) is gone (deleted or expired by a limit): cannot tell where to resume`,
      );
    }
    try {
      const { index, term } = decodeCommittedPosition(msg.data);
      return { seq, index, term };
    } catch (err) {
      throw new CommittedStreamError(name, `its last message (seq ${seq}) does not decode`, { cause: err });
    }
  }

  /**
   * Appends one committed command if the stream's last sequence is expectedLast.
   * @returns the sequence it was stored at (expectedLast + 1)
   * @throws StreamConflict when the stream's last sequence differs or the index is already stored
   * @throws the nats.js error on a timeout or when JetStream is unreachable (it may or may not be stored)
   */
  async append(event: CommittedEvent, expectedLast: number): Promise<number> {
    const h = natsCoreModule.headers();
    h.set(COMMITTED_HEADERS.index, String(event.index));
    h.set(COMMITTED_HEADERS.term, String(event.term));
    h.set(COMMITTED_HEADERS.command, event.command.name);
    for (const [key, value] of outcomeHeaders(recordOutcome(event))) h.set(key, value);
    let ack;
    try {
      ack = await this.js.publish(this.options.subject, encodeCommittedRecord(event), {
        msgID: String(event.index),
        expect: { lastSequence: expectedLast },
        headers: h,
        timeout: this.options.publishTimeoutMs,
      });
    } catch (err) {
      if (apiCode(err) !== WRONG_LAST_SEQUENCE) throw err;
      throw new StreamConflict(`index ${event.index}: the last sequence is not ${expectedLast}`, {
        cause: err,
      });
    }
    // A duplicate skips the expectation check: another writer stored this index.
    if (ack.duplicate) throw new StreamConflict(`index ${event.index} is already stored (seq ${ack.seq})`);
    if (ack.seq !== expectedLast + 1) {
      throw new StreamConflict(`index ${event.index} stored at seq ${ack.seq}, not ${expectedLast + 1}`);
    }
    return ack.seq;
  }

  private async ensure(): Promise<void> {
    const { name, subject } = this.options;
    let info = await this.info();
    if (!info) {
      const config = {
        storage: 'file' as const,
        num_replicas: 1,
        deny_delete: true,
        deny_purge: true,
        ...this.options.config,
        name,
        subjects: [subject],
      };
      try {
        info = await this.jsm.streams.add(config);
      } catch (err) {
        // Another replica created it meanwhile, with other settings: use it if it fits.
        if (apiCode(err) !== STREAM_NAME_IN_USE) throw err;
        info = await this.info();
      }
    }
    if (!info?.config.subjects?.includes(subject)) {
      throw new ConfigError([
        `stream (${name}) exists but does not capture the committed subject ${subject}; pass another stream name`,
      ]);
    }
  }

  private async info(): Promise<StreamInfo | undefined> {
    try {
      return await this.jsm.streams.info(this.options.name);
    } catch (err) {
      if (apiCode(err) === STREAM_NOT_FOUND) return undefined;
      throw err;
    }
  }
}

/** The JetStream API error code of err, if it is one. */
function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
