/**
 * The hash rollouts bucket by: MurmurHash3 x86_32 (Austin Appleby's
 * reference; the one flagd's `fractional` uses, so imported flags keep
 * their assignment) over the UTF-8 bytes of a string, seed 0. Pure and
 * stable: every replica, every SDK and every restart computes the same
 * bucket for the same string.
 */

/** Buckets of a rollout: weights are percentages in steps of 0.01, so 100 % is 10 000 buckets. */
export const BUCKETS = 10_000;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/**
 * MurmurHash3 x86_32 of bytes[0, length).
 * @returns the hash as an unsigned 32-bit integer
 */
export function murmur3Bytes(bytes: Uint8Array, length: number = bytes.length, seed = 0): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h ^= mixK(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[blocks]!;
    if (tail > 1) k |= bytes[blocks + 1]! << 8;
    if (tail > 2) k |= bytes[blocks + 2]! << 16;
    h ^= mixK(k);
  }
  return fmix(h, length);
}

/** The finalization mix, with the input's length in bytes. */
function fmix(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 of text's UTF-8 encoding (a lone surrogate encodes as
 * U+FFFD, as TextEncoder does).
 * @returns the hash as an unsigned 32-bit integer
 */
export function murmur3(text: string, seed = 0): number {
  const n = text.length;
  // ASCII (the common case: ids, emails) is its own UTF-8: hash the code units without encoding.
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (!ascii) {
    if (n * 3 > scratch.length) scratch = new Uint8Array(n * 3);
    const { written } = encoder.encodeInto(text, scratch);
    return murmur3Bytes(scratch, written, seed);
  }
  let h = seed >>> 0;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h ^= mixK(
      text.charCodeAt(i) |
        (text.charCodeAt(i + 1) << 8) |
        (text.charCodeAt(i + 2) << 16) |
        (text.charCodeAt(i + 3) << 24),
    );
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = text.charCodeAt(blocks);
    if (tail > 1) k |= text.charCodeAt(blocks + 1) << 8;
    if (tail > 2) k |= text.charCodeAt(blocks + 2) << 16;
    h ^= mixK(k);
  }
  return fmix(h, n);
}

/**
 * The state of MurmurHash3 x86_32 after a prefix (a rollout's salt), so that
 * hashing salt + value does not build the concatenation: the prefix's whole
 * 4-byte blocks are mixed once, its last 0 to 3 bytes wait in `k`.
 */
export interface HashPrefix {
  readonly text: string;
  readonly h: number;
  readonly k: number;
  /** Bytes waiting in k (0 to 3). */
  readonly pending: number;
  /** Bytes of the prefix. */
  readonly length: number;
}

/** @returns the hash state after text's UTF-8 bytes (seed 0) */
export function hashPrefix(text: string): HashPrefix {
  const bytes = encoder.encode(text);
  let h = 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h ^= mixK(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let i = blocks; i < bytes.length; i++) k |= bytes[i]! << (8 * (i - blocks));
  return { text, h, k, pending: bytes.length - blocks, length: bytes.length };
}

/**
 * murmur3(prefix.text + text), without concatenating.
 * @returns the hash as an unsigned 32-bit integer
 */
export function murmur3After(prefix: HashPrefix, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 0x7f) return murmur3(prefix.text + text);
  let { h, k, pending } = prefix;
  for (let i = 0; i < n; i++) {
    k |= text.charCodeAt(i) << (8 * pending);
    if (++pending === 4) {
      h ^= mixK(k);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      k = 0;
      pending = 0;
    }
  }
  if (pending > 0) h ^= mixK(k);
  return fmix(h, prefix.length + n);
}

/** The rollout bucket of prefix.text + text (see bucketOf). */
export function bucketAfter(prefix: HashPrefix, text: string): number {
  return Math.floor((murmur3After(prefix, text) * BUCKETS) / 4294967296);
}

/**
 * The rollout bucket of text: floor(murmur3(text) × 10 000 / 2³²), in
 * [0, 10 000). A share of cumulative weight W % holds the buckets below
 * W × 100; flagd's `(hash × totalWeight) >> 32` picks the same share for
 * weights that are whole multiples of 0.01 % of the total.
 */
export function bucketOf(text: string): number {
  return Math.floor((murmur3(text) * BUCKETS) / 4294967296);
}
