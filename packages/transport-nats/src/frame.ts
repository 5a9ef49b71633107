import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, DecodeError, pack, unpack, type Message, type NodeId } from '@raftline/core';
import { FrameRejection } from './drops';
import { SubjectTokenError } from './errors';
import { count, decodeMessage, encodeMessage, fields } from './messages';
import { checkToken } from './subjects';

/**
 * The wire protocol version every frame carries in `v`; frames of another
 * version are dropped (counted as `version`). 2: votes carry `transfer`,
 * heartbeats and their responses `context` and `sentAt`, and the
 * timeout-now, read-index, read-index-resp, snapshot, snapshot-chunk and
 * snapshot-chunk-resp messages exist.
 */
export const PROTOCOL_VERSION = 2;

/** Bytes of the HMAC-SHA256 trailer on an authenticated frame. */
export const MAC_BYTES = 32;

/** Peer ids up to this long are within FrameCodec.entryOverhead()'s bound. */
const MAX_PEER_ID_CHARS = 256;

/** What every frame's envelope says: who sends to whom, in which cluster and group, at which term. */
export interface FrameHeader {
  readonly cluster: string;
  readonly group: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** A raft frame: the highest term among its messages. A chunk: the term of the frame it carries. */
  readonly term: number;
}

/** A frame carrying the messages one send() addressed to one peer, in order. */
export interface RaftFrame extends FrameHeader {
  readonly type: 'raft';
  readonly messages: readonly Message[];
}

/** One piece of a frame too large for the server's max_payload. */
export interface ChunkFrame extends FrameHeader {
  readonly type: 'chunk';
  /** Unique per sender and chunked frame. */
  readonly id: string;
  readonly index: number;
  readonly count: number;
  /** Bytes [index × chunkSize, …) of the chunked frame's wire form. */
  readonly data: Uint8Array;
}

export type Frame = RaftFrame | ChunkFrame;

/** Who the codec speaks for. */
export interface FrameCodecOptions {
  readonly cluster: string;
  readonly group: string;
  readonly nodeId: NodeId;
  /** When set, frames carry an HMAC-SHA256 trailer under this key, and frames without a valid one are refused. */
  readonly clusterKey?: string | Uint8Array;
}

/**
 * Encodes and decodes the frames of one node. The wire form of a frame is the
 * msgpack envelope `{ v, c, g, f, t, term, type, body }`, followed, when a
 * cluster key is set, by HMAC-SHA256(key, envelope bytes). The MAC covers the
 * cluster id, the group, the sender, the recipient and the term.
 */
export class FrameCodec {
  private readonly key: Buffer | undefined;

  /** @throws ConfigError when clusterKey is given but empty */
  constructor(private readonly options: FrameCodecOptions) {
    const k = options.clusterKey;
    if (k !== undefined) {
      this.key = typeof k === 'string' ? Buffer.from(k, 'utf8') : Buffer.from(k);
      if (this.key.length === 0) throw new ConfigError(['clusterKey must not be empty']);
    }
  }

  /** Whether frames are authenticated. */
  get authenticated(): boolean {
    return this.key !== undefined;
  }

  /**
   * Encodes the messages for one peer as one frame.
   * @returns the wire bytes
   * @throws TypeError when a message holds a value msgpack cannot encode (a bug in the caller)
   */
  encodeRaft(to: NodeId, messages: readonly Message[]): Uint8Array {
    const term = messages.reduce((t, m) => Math.max(t, m.term), 0);
    return this.seal(this.envelope(to, term, 'raft', messages.map(encodeMessage)));
  }

  /**
   * Encodes one chunk of a frame's wire bytes.
   * @returns the chunk's own wire bytes
   */
  encodeChunk(
    to: NodeId,
    term: number,
    id: string,
    index: number,
    total: number,
    data: Uint8Array,
  ): Uint8Array {
    return this.seal(this.envelope(to, term, 'chunk', { id, i: index, n: total, d: data }));
  }

  /**
   * The most bytes a chunk frame adds around its data.
   * @returns an upper bound in bytes, whatever the chunk's index and count
   */
  chunkOverhead(to: NodeId, term: number, id: string): number {
    // Index and count as the largest msgpack uint32 (5 bytes each) bound every real chunk's header.
    const empty = this.encodeChunk(to, term, id, 0xffff_fffe, 0xffff_ffff, new Uint8Array(0));
    // A bin header grows from 2 to at most 5 bytes with the data; keep a little slack on top.
    return empty.byteLength + 8;
  }

  /**
   * The most bytes a raft frame carrying one append adds around its entry's
   * data, for peer ids of up to MAX_PEER_ID_CHARS characters.
   * @returns an upper bound in bytes, whatever the entry's index and term
   */
  entryOverhead(): number {
    const n = Number.MAX_SAFE_INTEGER;
    const to = 'x'.repeat(MAX_PEER_ID_CHARS);
    const entry = { index: n, term: n, type: 'normal' as const, data: new Uint8Array(0) };
    const append: Message = {
      type: 'append',
      from: this.options.nodeId,
      to,
      term: n,
      prevIndex: n,
      prevTerm: n,
      commit: n,
      entries: [entry],
    };
    // The data's bin header grows from 2 to at most 5 bytes with its length; keep a little slack on top.
    return this.encodeRaft(to, [append]).byteLength + 8;
  }

  /**
   * Authenticates, decodes and validates a frame addressed to this node.
   * @returns the frame; a raft frame's messages carry the envelope's from and to
   * @throws FrameRejection naming the reason the frame must be dropped ('malformed'
   *   when the sender is not a legal node id: one subject token, see checkToken)
   */
  decode(wire: Uint8Array): Frame {
    const f = fields(this.unpackVerified(wire), 'frame');
    const v = f.get('v');
    if (v !== PROTOCOL_VERSION) throw new FrameRejection('version', `protocol version ${String(v)}`);
    const { cluster, group, nodeId } = this.options;
    if (f.get('c') !== cluster) throw new FrameRejection('cluster', `cluster ${String(f.get('c'))}`);
    if (f.get('g') !== group) throw new FrameRejection('group', `group ${String(f.get('g'))}`);
    const from = f.get('f');
    if (typeof from !== 'string' || from.length === 0) throw new FrameRejection('malformed', 'no sender');
    const illegal = senderProblem(from);
    if (illegal)
      throw new FrameRejection('malformed', `sender ${JSON.stringify(from)} is not a node id: ${illegal}`);
    if (f.get('t') !== nodeId) throw new FrameRejection('recipient', `recipient ${String(f.get('t'))}`);
    const header = { cluster, group, from, to: nodeId, term: count(f, 'term') };
    const type = f.get('type');
    if (type === 'raft') return this.decodeRaft(header, f.get('body'));
    if (type === 'chunk') return decodeChunk(header, f.get('body'));
    throw new FrameRejection('type', `frame type ${String(type)}`);
  }

  private decodeRaft(header: FrameHeader, body: unknown): RaftFrame {
    if (!Array.isArray(body) || body.length === 0)
      throw new FrameRejection('malformed', 'raft body is not a list');
    const messages = body.map((raw) => decodeMessage(raw, header.from, header.to));
    const top = messages.reduce((t, m) => Math.max(t, m.term), 0);
    if (top !== header.term)
      throw new FrameRejection('malformed', `envelope term ${header.term} ≠ highest term ${top}`);
    return { ...header, type: 'raft', messages };
  }

  private envelope(to: NodeId, term: number, type: Frame['type'], body: unknown): Uint8Array {
    const { cluster, group, nodeId } = this.options;
    return pack({ v: PROTOCOL_VERSION, c: cluster, g: group, f: nodeId, t: to, term, type, body });
  }

  private seal(bytes: Uint8Array): Uint8Array {
    if (!this.key) return bytes;
    const out = new Uint8Array(bytes.byteLength + MAC_BYTES);
    out.set(bytes, 0);
    out.set(this.mac(bytes), bytes.byteLength);
    return out;
  }

  private unpackVerified(wire: Uint8Array): unknown {
    let body = wire;
    if (this.key) {
      if (wire.byteLength <= MAC_BYTES) throw new FrameRejection('auth', 'frame too short to carry a MAC');
      body = wire.subarray(0, wire.byteLength - MAC_BYTES);
      const mac = wire.subarray(wire.byteLength - MAC_BYTES);
      if (!timingSafeEqual(this.mac(body), mac)) throw new FrameRejection('auth', 'bad MAC');
    }
    try {
      return unpack(body);
    } catch (err) {
      if (err instanceof DecodeError) throw new FrameRejection('decode', err.message);
      throw err;
    }
  }

  private mac(bytes: Uint8Array): Buffer {
    return createHmac('sha256', this.key!).update(bytes).digest();
  }
}

/** Why a frame's sender cannot be a node id (no node could have that subject), or undefined when it can. */
function senderProblem(from: string): string | undefined {
  try {
    checkToken('sender', from);
    return undefined;
  } catch (err) {
    if (err instanceof SubjectTokenError) return err.problem;
    throw err;
  }
}

function decodeChunk(header: FrameHeader, body: unknown): ChunkFrame {
  const f = fields(body, 'chunk body');
  const id = f.get('id');
  const data = f.get('d');
  const index = count(f, 'i');
  const total = count(f, 'n');
  if (typeof id !== 'string' || id.length === 0) throw new FrameRejection('malformed', 'chunk id');
  if (!(data instanceof Uint8Array) || data.byteLength === 0)
    throw new FrameRejection('malformed', 'chunk data');
  if (total < 2 || index >= total) throw new FrameRejection('malformed', `chunk ${index} of ${total}`);
  return { ...header, type: 'chunk', id, index, count: total, data };
}
