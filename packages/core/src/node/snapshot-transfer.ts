import { pack, unpack } from '../codec';
import { DecodeError } from '../errors';
import type { Logger } from '../logger';
import type { Cancel, Clock } from '../ports/clock';
import type { SnapshotStore, SnapshotWriter } from '../ports/snapshot-store';
import type { Message, NodeId, SnapshotChunk, SnapshotChunkResponse, SnapshotInfo } from '../protocol/types';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3) of data, continuing from a previous result `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const FORMAT = 1;

/**
 * A stored snapshot is [format, membership, state-machine bytes, outcomes?]:
 * the configuration travels with the state it belongs to (§7), so the stores
 * only ever see opaque bytes. `outcomes` are the committed stream's outcome
 * marks for the entries the writer's log retained up to the snapshot
 * (node-specific bookkeeping, not state; absent in older snapshots).
 */
export function wrapSnapshot(info: SnapshotInfo, app: Uint8Array, outcomes?: Uint8Array): Uint8Array {
  return pack(outcomes ? [FORMAT, info.membership, app, outcomes] : [FORMAT, info.membership, app]);
}

/**
 * Splits stored snapshot bytes into the membership, the state machine's bytes and the outcome marks (if any).
 * @throws DecodeError for bytes that are not a snapshot of this format
 */
export function unwrapSnapshot(blob: Uint8Array): {
  membership: SnapshotInfo['membership'];
  app: Uint8Array;
  outcomes?: Uint8Array;
} {
  const v = unpack(blob);
  if (!Array.isArray(v) || v[0] !== FORMAT || !(v[2] instanceof Uint8Array)) {
    throw new DecodeError('stored snapshot has an unknown format');
  }
  const m = v[1] as { voters?: unknown; outgoing?: unknown; learners?: unknown };
  const list = (x: unknown): string[] =>
    Array.isArray(x) ? x.filter((y): y is string => typeof y === 'string') : [];
  return {
    membership: { voters: list(m?.voters), outgoing: list(m?.outgoing), learners: list(m?.learners) },
    app: v[2],
    ...(v[3] instanceof Uint8Array ? { outcomes: v[3] } : {}),
  };
}

/** Reads the newest snapshot's bytes into one buffer. */
export async function readSnapshot(store: SnapshotStore): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of store.read()) {
    chunks.push(c);
    size += c.byteLength;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Writes the state machine's bytes, wrapped with the membership (and outcome marks), as a new snapshot in chunks, and commits it. */
export async function writeSnapshot(
  store: SnapshotStore,
  info: SnapshotInfo,
  app: Uint8Array,
  chunkBytes: number,
  outcomes?: Uint8Array,
): Promise<void> {
  const data = wrapSnapshot(info, app, outcomes);
  const meta = { index: info.index, term: info.term, voters: info.membership.voters, size: data.byteLength };
  const writer = await store.create(meta);
  try {
    for (let at = 0; at < data.byteLength; at += chunkBytes)
      await writer.write(data.subarray(at, at + chunkBytes));
    await writer.commit();
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}

export interface TransferDeps {
  readonly id: NodeId;
  readonly store: SnapshotStore;
  readonly clock: Clock;
  readonly send: (m: Message) => void;
  readonly logger: Logger;
  readonly chunkBytes: number;
  readonly chunkTimeoutMs: number;
}

const MAX_RETRIES = 8;

/**
 * The offset a follower acknowledges for a snapshot it already holds (a
 * re-sent one, or one whose last ack was lost): beyond any snapshot's size,
 * so the sender takes the whole snapshot as delivered.
 */
export const SNAPSHOT_HELD_OFFSET = Number.MAX_SAFE_INTEGER;

/**
 * The leader's side of one InstallSnapshot (§7) to one follower: sends the
 * newest snapshot in chunks, one at a time, each acknowledged with the next
 * offset the follower expects; a lost chunk or ack is resent from that offset
 * after chunkTimeoutMs. Calls onDone once the follower acknowledged the
 * whole snapshot (or said it holds it already); gives up (calls onFail)
 * after repeated silence. Exactly one of the two is called, unless stopped.
 */
export class SnapshotSender {
  private data: Uint8Array | undefined;
  private info: SnapshotInfo | undefined;
  private checksum = 0;
  private offset = 0;
  private retries = 0;
  private cancelTimer: Cancel = () => {};
  private done = false;

  constructor(
    private readonly deps: TransferDeps,
    readonly to: NodeId,
    private readonly term: number,
    private readonly onFail: () => void,
    private readonly onDone: () => void,
  ) {}

  /** Loads the snapshot and sends the first chunk. */
  async start(): Promise<void> {
    const meta = await this.deps.store.latest();
    if (!meta) {
      this.fail('no snapshot in the store');
      return;
    }
    this.data = await readSnapshot(this.deps.store);
    this.info = { index: meta.index, term: meta.term, membership: unwrapSnapshot(this.data).membership };
    this.checksum = crc32(this.data);
    this.sendChunk();
  }

  /** Handles the follower's acknowledgement. */
  onResponse(m: SnapshotChunkResponse): void {
    if (this.done || !this.data || !this.info || m.index !== this.info.index) return;
    this.cancelTimer();
    this.retries = 0;
    this.offset = m.reject ? 0 : m.offset;
    if (this.offset >= this.data.byteLength && !m.reject) {
      this.done = true; // delivered: the protocol probes the follower's log, in case its append-resp is lost
      this.onDone();
      return;
    }
    this.sendChunk();
  }

  stop(): void {
    this.done = true;
    this.cancelTimer();
  }

  private sendChunk(): void {
    const data = this.data!;
    const chunk = data.subarray(this.offset, this.offset + this.deps.chunkBytes);
    const last = this.offset + chunk.byteLength >= data.byteLength;
    const m: SnapshotChunk = {
      type: 'snapshot-chunk',
      from: this.deps.id,
      to: this.to,
      term: this.term,
      snapshot: this.info!,
      offset: this.offset,
      data: chunk,
      last,
      checksum: last ? this.checksum : 0,
    };
    this.deps.send(m);
    this.cancelTimer = this.deps.clock.setTimeout(() => {
      if (this.done) return;
      if (++this.retries > MAX_RETRIES) this.fail(`no acknowledgement after ${MAX_RETRIES} retries`);
      else this.sendChunk();
    }, this.deps.chunkTimeoutMs);
  }

  private fail(reason: string): void {
    this.stop();
    this.deps.logger.warn({ node: this.deps.id, to: this.to, reason }, 'snapshot transfer failed');
    this.onFail();
  }
}

/**
 * The follower's side: writes chunks in order into the SnapshotStore, asks
 * for a resend from the right offset when one is missing, checks the CRC on
 * the last chunk and then hands the installed snapshot to `onComplete`. A
 * chunk of a snapshot the node already holds is answered by held().
 */
export class SnapshotReceiver {
  private current: { info: SnapshotInfo; writer: SnapshotWriter; offset: number; crc: number } | undefined;
  /** Chunks are handled strictly one after another (store writes are async). */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: TransferDeps,
    private readonly onComplete: (from: NodeId, term: number, info: SnapshotInfo) => void,
  ) {}

  onChunk(m: SnapshotChunk): void {
    this.queue = this.queue
      .then(() => this.handle(m))
      .catch((err: unknown) => {
        this.deps.logger.error({ node: this.deps.id, err }, 'snapshot chunk could not be stored');
        this.reply(m, 0, true);
        void this.discard();
      });
  }

  /**
   * Answers a chunk of a snapshot this node already holds: the whole
   * snapshot is here (SNAPSHOT_HELD_OFFSET), so the sender stops resending.
   * A partial transfer of that snapshot or an older one is dropped.
   */
  held(m: SnapshotChunk): void {
    this.queue = this.queue
      .then(async () => {
        if (this.current && this.current.info.index <= m.snapshot.index) await this.discard();
        this.reply(m, SNAPSHOT_HELD_OFFSET, false);
      })
      .catch((err: unknown) =>
        this.deps.logger.error({ node: this.deps.id, err }, 'snapshot chunk not answered'),
      );
  }

  private async handle(m: SnapshotChunk): Promise<void> {
    if (
      m.offset === 0 &&
      (!this.current || this.current.info.index !== m.snapshot.index || this.current.offset > 0)
    ) {
      await this.discard();
      const { index, term, membership } = m.snapshot;
      const writer = await this.deps.store.create({ index, term, voters: membership.voters, size: 0 });
      this.current = { info: m.snapshot, writer, offset: 0, crc: 0 };
    }
    const cur = this.current;
    if (!cur || cur.info.index !== m.snapshot.index || m.offset !== cur.offset) {
      this.reply(m, cur && cur.info.index === m.snapshot.index ? cur.offset : 0, false);
      return;
    }
    await cur.writer.write(m.data);
    cur.offset += m.data.byteLength;
    cur.crc = crc32(m.data, cur.crc);
    if (!m.last) {
      this.reply(m, cur.offset, false);
      return;
    }
    this.current = undefined;
    if (cur.crc !== m.checksum) {
      await cur.writer.abort();
      this.deps.logger.warn({ node: this.deps.id, index: m.snapshot.index }, 'snapshot checksum mismatch');
      this.reply(m, 0, true);
      return;
    }
    await cur.writer.commit();
    this.reply(m, cur.offset, false);
    this.onComplete(m.from, m.term, m.snapshot);
  }

  private reply(m: SnapshotChunk, offset: number, reject: boolean): void {
    this.deps.send({
      type: 'snapshot-chunk-resp',
      from: this.deps.id,
      to: m.from,
      term: m.term,
      index: m.snapshot.index,
      offset,
      reject,
    });
  }

  private async discard(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    if (cur) await cur.writer.abort().catch(() => undefined);
  }
}
