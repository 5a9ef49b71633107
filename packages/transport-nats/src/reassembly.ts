import type { NodeId } from '@raftline/core';
import { FrameRejection, type DropReason } from './drops';
import type { ChunkFrame } from './frame';

/** Bounds on the frames being reassembled from chunks. */
export interface ReassemblyLimits {
  /** A partial frame whose chunks have not all arrived within this time is discarded. */
  readonly timeoutMs: number;
  /** Most chunk bytes held at once, across every partial frame. */
  readonly maxBytes: number;
  /** Most partial frames held at once. */
  readonly maxFrames: number;
  /** Largest frame accepted; a partial frame that would exceed it is refused as oversize. */
  readonly maxFrameBytes: number;
}

const MAX_REFUSED = 1024;

interface PartialFrame {
  readonly count: number;
  readonly chunks: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  readonly deadline: number;
}

/**
 * Joins the chunks of large frames. Memory is bounded by `maxBytes` and
 * `maxFrames`, and a partial frame lives at most `timeoutMs`, so lost chunks
 * or a misbehaving peer never grow the buffer without bound.
 */
export class Reassembler {
  private readonly partials = new Map<string, PartialFrame>();
  /** Frames refused part-way, so their later chunks are dropped quietly (the frame was counted once). */
  private readonly refused = new Map<string, number>();
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param onExpired called with the number of partial frames a sweep discarded
   */
  constructor(
    private readonly limits: ReassemblyLimits,
    private readonly onExpired: (frames: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Partial frames and chunk bytes held now. */
  get size(): { frames: number; bytes: number } {
    return { frames: this.partials.size, bytes: this.heldBytes };
  }

  /**
   * Adds one chunk; a duplicate chunk is ignored.
   * @returns the whole frame's wire bytes once its last chunk arrived, else undefined (also for
   *   a chunk of a frame refused earlier, which is dropped without being counted again)
   * @throws FrameRejection 'oversize' when the frame would exceed maxFrameBytes (its partial is discarded),
   *   'reassembly-full' when the buffer cannot take the chunk, 'malformed' when it contradicts earlier chunks
   */
  add(from: NodeId, chunk: ChunkFrame): Uint8Array | undefined {
    this.sweep();
    const key = `${from}\u0000${chunk.id}`;
    if (this.refused.has(key)) return undefined;
    const size = chunk.data.byteLength;
    if (chunk.index < chunk.count - 1 && (chunk.count - 1) * size > this.limits.maxFrameBytes) {
      this.refuse(key, 'oversize', `chunked frame of about ${chunk.count * size} bytes`);
    }
    let p = this.partials.get(key);
    if (!p) {
      if (this.partials.size >= this.limits.maxFrames) {
        this.refuse(key, 'reassembly-full', `${this.partials.size} partial frames held`);
      }
      p = {
        count: chunk.count,
        chunks: new Array<Uint8Array | undefined>(chunk.count),
        received: 0,
        bytes: 0,
        deadline: this.now() + this.limits.timeoutMs,
      };
      this.partials.set(key, p);
      this.arm();
    }
    if (p.count !== chunk.count) this.refuse(key, 'malformed', `chunk count ${chunk.count} ≠ ${p.count}`);
    if (p.chunks[chunk.index]) return undefined;
    if (p.bytes + size > this.limits.maxFrameBytes) {
      this.refuse(key, 'oversize', `chunked frame over ${this.limits.maxFrameBytes} bytes`);
    }
    if (this.heldBytes + size > this.limits.maxBytes)
      this.refuse(key, 'reassembly-full', `${this.heldBytes} bytes held`);
    // Copy: the chunk is a view into the inbound message, which must not be pinned while waiting.
    p.chunks[chunk.index] = new Uint8Array(chunk.data);
    p.received++;
    p.bytes += size;
    this.heldBytes += size;
    if (p.received < p.count) return undefined;
    this.discard(key);
    return join(p.chunks as Uint8Array[], p.bytes);
  }

  /**
   * Discards partial frames past their deadline.
   * @returns how many were discarded (also reported to onExpired)
   */
  sweep(): number {
    const now = this.now();
    for (const [key, until] of this.refused) if (until <= now) this.refused.delete(key);
    let expired = 0;
    for (const [key, p] of this.partials) {
      if (p.deadline > now) continue;
      this.discard(key);
      expired++;
    }
    if (this.partials.size === 0 && this.refused.size === 0) this.disarm();
    if (expired > 0) this.onExpired(expired);
    return expired;
  }

  /** Drops every partial frame and stops the sweep timer. */
  clear(): void {
    this.partials.clear();
    this.refused.clear();
    this.heldBytes = 0;
    this.disarm();
  }

  /**
   * Discards the partial frame and remembers the refusal for the reassembly timeout (at most
   * MAX_REFUSED of them).
   * @throws FrameRejection always, with reason
   */
  private refuse(key: string, reason: DropReason, message: string): never {
    this.discard(key);
    this.refused.set(key, this.now() + this.limits.timeoutMs);
    if (this.refused.size > MAX_REFUSED) this.refused.delete(this.refused.keys().next().value as string);
    this.arm();
    throw new FrameRejection(reason, message);
  }

  private discard(key: string): void {
    const p = this.partials.get(key);
    if (!p) return;
    this.partials.delete(key);
    this.heldBytes -= p.bytes;
    if (this.partials.size === 0 && this.refused.size === 0) this.disarm();
  }

  /** Runs sweep() periodically while partial frames are held; the timer never keeps the process alive. */
  private arm(): void {
    if (this.timer) return;
    const every = Math.max(10, Math.ceil(this.limits.timeoutMs / 2));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function join(chunks: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
