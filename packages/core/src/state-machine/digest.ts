/**
 * A canonical digest of plain data: SHA-256 over an encoding in which equal
 * content gives equal bytes, whatever the order it was built in.
 *
 * Canonical means: object keys are taken in sorted order, Map entries in the
 * order of their encoded keys, Set elements in the order of their encoded
 * values (arrays and typed arrays keep theirs); -0 counts as 0 and every NaN
 * as one NaN; a Buffer counts as the Uint8Array it is. So a replica that
 * restored its state from a snapshot (or rebuilt a Map in another order in
 * restoreState()) digests as one that applied the whole log. Insertion order
 * is deliberately left out: a divergence in order alone shows once it makes
 * a value differ.
 *
 * Values must be plain data (as for snapshots): primitives, arrays, plain
 * objects, Map, Set, Date, typed arrays; no functions, symbols, class
 * instances or cycles.
 */
import { createHash, type Hash } from 'node:crypto';
import { types } from 'node:util';
import { describeValue, isMap, isPlainObject, isSet } from './tree';

// One tag byte per kind of value, so that no two kinds encode alike.
const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const NUMBER = 4;
const NAN = 5;
const BIGINT = 6;
const STRING = 7;
const DATE = 8;
const TYPED = 9;
const ARRAY = 10;
const OBJECT = 11;
const MAP = 12;
const SET = 13;

/** Bytes gathered before they go to the hash. */
const FLUSH_BYTES = 64 * 1024;

/** A growable byte buffer; the top-level one streams into a hash as it fills. */
class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(
    private readonly sink?: Hash,
    size = 256,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.sink && this.len > 0) {
      this.flush();
      if (n <= this.buf.length) return;
    }
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Hands what is buffered to the sink. */
  flush(): void {
    if (!this.sink || this.len === 0) return;
    this.sink.update(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.len = this.buf.writeUInt32BE(v, this.len);
  }

  f64(v: number): void {
    this.ensure(8);
    this.len = this.buf.writeDoubleBE(v, this.len);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    if (this.sink && this.len >= FLUSH_BYTES) this.flush();
  }

  /** A length-prefixed UTF-8 string. */
  str(s: string): void {
    this.ensure(4 + 3 * s.length);
    const written = this.buf.write(s, this.len + 4, 'utf8');
    this.buf.writeUInt32BE(written, this.len);
    this.len += 4 + written;
    if (this.sink && this.len >= FLUSH_BYTES) this.flush();
  }

  /** Forgets what was written (for reuse as scratch space). */
  reset(): void {
    this.len = 0;
  }

  /** A copy of the bytes written (only for writers without a sink). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** Scratch space for encoding Map keys and Set elements alone, to sort them. */
let scratch: ByteWriter | undefined;

/** Encodes value alone, for sorting. @returns a copy of its bytes */
function encodedAlone(value: unknown, path: string, open: Set<object>): Buffer {
  const outer = scratch;
  const w = outer ?? new ByteWriter(undefined, 4096);
  scratch = undefined; // a nested Map or Set encodes into its own
  try {
    w.reset();
    write(w, value, path, open);
    return w.copy();
  } finally {
    scratch = w;
  }
}

/**
 * The order in which a Map's keys or a Set's elements are hashed: when all
 * are strings (or all non-NaN numbers), their natural order; otherwise the
 * order of their encodings. Either is a total order on any one collection,
 * and the same collection always takes the same one.
 */
function sortedForDigest<T>(
  items: T[],
  keyOf: (item: T) => unknown,
  encode: (item: T, i: number) => Buffer,
): {
  readonly items: readonly T[];
  readonly encoded?: readonly Buffer[];
} {
  if (items.every((x) => typeof keyOf(x) === 'string')) {
    return { items: items.sort((a, b) => compareStrings(keyOf(a) as string, keyOf(b) as string)) };
  }
  if (items.every((x) => typeof keyOf(x) === 'number' && !Number.isNaN(keyOf(x)))) {
    return { items: items.sort((a, b) => (keyOf(a) as number) - (keyOf(b) as number)) };
  }
  const pairs = items.map((x, i) => [encode(x, i), x] as const);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  return { items: pairs.map((p) => p[1]), encoded: pairs.map((p) => p[0]) };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(w: ByteWriter, value: unknown, path: string, open: Set<object>): void {
  switch (typeof value) {
    case 'undefined':
      return w.u8(UNDEFINED);
    case 'boolean':
      return w.u8(value ? TRUE : FALSE);
    case 'number':
      return writeNumber(w, value);
    case 'bigint':
      w.u8(BIGINT);
      return w.str(value.toString());
    case 'string':
      w.u8(STRING);
      return w.str(value);
    case 'object':
      if (value === null) return w.u8(NULL);
      return writeObject(w, value, path, open);
    default:
      throw notPlain(path, value);
  }
}

function writeNumber(w: ByteWriter, v: number): void {
  if (Number.isNaN(v)) return w.u8(NAN);
  w.u8(NUMBER);
  w.f64(v === 0 ? 0 : v); // -0 → 0: the codec does the same
}

function writeObject(w: ByteWriter, value: object, path: string, open: Set<object>): void {
  if (types.isDate(value)) {
    w.u8(DATE);
    return writeNumber(w, value.getTime());
  }
  if (ArrayBuffer.isView(value) && !types.isDataView(value)) {
    w.u8(TYPED);
    w.str((value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]); // a Buffer says Uint8Array
    w.u32(value.byteLength);
    return w.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  }
  if (!(Array.isArray(value) || isMap(value) || isSet(value) || isPlainObject(value)))
    throw notPlain(path, value);
  if (open.has(value))
    throw new TypeError(`${path} refers back to one of its parents; plain data cannot hold a cycle`);
  open.add(value);
  if (Array.isArray(value)) {
    w.u8(ARRAY);
    w.u32(value.length);
    value.forEach((v, i) => write(w, v, `${path}[${i}]`, open));
  } else if (isMap(value)) {
    const { items, encoded } = sortedForDigest(
      [...value],
      ([k]) => k,
      ([k], i) => encodedAlone(k, `${path}<key ${i}>`, open),
    );
    w.u8(MAP);
    w.u32(items.length);
    items.forEach(([k, v], i) => {
      if (encoded) w.bytes(encoded[i]!);
      else write(w, k, `${path}<key>`, open);
      write(w, v, `${path}.get(${String(k)})`, open);
    });
  } else if (isSet(value)) {
    const { items, encoded } = sortedForDigest(
      [...value],
      (v) => v,
      (v, i) => encodedAlone(v, `${path}<element ${i}>`, open),
    );
    w.u8(SET);
    w.u32(items.length);
    items.forEach((v, i) => {
      if (encoded) w.bytes(encoded[i]!);
      else write(w, v, `${path}<element>`, open);
    });
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    w.u8(OBJECT);
    w.u32(keys.length);
    for (const k of keys) {
      w.str(k);
      write(w, record[k], `${path}.${k}`, open);
    }
  }
  open.delete(value);
}

function notPlain(path: string, value: unknown): TypeError {
  return new TypeError(
    `${path} holds ${describeValue(value)}, which is not plain data ` +
      '(objects, arrays, Map, Set, Date, typed arrays, primitives): override digestState() or snapshotState()',
  );
}

/**
 * The canonical digest of value (see the file comment for what "canonical" ignores).
 * @param path how to name the value in error messages, e.g. 'Counter.digestState()'
 * @returns SHA-256 of the canonical encoding, as 64 lowercase hex digits
 * @throws TypeError naming the path of a function, symbol, class instance or cycle
 */
export function canonicalDigest(value: unknown, path: string): string {
  const hash = createHash('sha256');
  const w = new ByteWriter(hash);
  write(w, value, path, new Set());
  w.flush();
  return hash.digest('hex');
}
