/**
 * A lossless encoding of plain data for snapshots and stored results.
 *
 * The codec decodes every msgpack map as a Map (mapsAsObjects: false), so a
 * plain object and a Map would come back alike. encodeTree() therefore turns
 * every container into an array tagged with its kind, and leaves the leaves
 * (primitives, Date, typed arrays) to the codec; decodeTree() reverses it.
 * Every array in an encoded tree is a tagged container, so nothing is
 * ambiguous. Shared references are copied (a DAG comes back as a tree).
 *
 * The encoding keeps insertion order (of object keys, Map entries, Set
 * elements): it is part of the state, since a handler may iterate a Map, and
 * a restored replica must iterate as the others do. What compares replicas
 * is digest.ts, which ignores that order.
 */
import { types } from 'node:util';
import { DecodeError } from '../errors';

const ARRAY = 0;
const OBJECT = 1;
const MAP = 2;
const SET = 3;

/** An encoded value: a leaf or a tagged container. */
export type Tree = unknown;

/** Whether value is a leaf of a tree: a primitive, a Date or a typed array (not a DataView). */
export function isLeaf(value: unknown): boolean {
  const t = typeof value;
  if (
    value === null ||
    t === 'string' ||
    t === 'number' ||
    t === 'boolean' ||
    t === 'bigint' ||
    t === 'undefined'
  ) {
    return true;
  }
  return types.isDate(value) || (ArrayBuffer.isView(value) && !types.isDataView(value));
}

// The kind checks below hold for values made in another realm too (a vm
// context, or structuredClone() under jest, whose Map is not this realm's Map).

/** Whether value is a Map, of any realm. */
export const isMap = (value: unknown): value is Map<unknown, unknown> => types.isMap(value);

/** Whether value is a Set, of any realm. */
export const isSet = (value: unknown): value is Set<unknown> => types.isSet(value);

/** Whether value is a plain object: its prototype is null or some realm's Object.prototype. */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === null || proto === Object.prototype) return true;
  return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]';
}

/** A leaf as this realm's codec knows it: a Date or Uint8Array of another realm becomes this realm's. */
function localLeaf(value: unknown): unknown {
  if (types.isDate(value) && !(value instanceof Date)) return new Date(Date.prototype.getTime.call(value));
  if (types.isUint8Array(value) && !(value instanceof Uint8Array)) return new Uint8Array(value);
  return value;
}

/** Names what a value that is not plain data is, for error messages: 'a function', 'an instance of Foo'. */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor;
  return `an instance of ${ctor?.name || 'an unnamed class'}`;
}

/** How to name a value in an error message, built only when one is thrown (snapshots hold many values). */
type Path = () => string;

/** Whether a container's child goes as it is: a string, number or boolean (most of a snapshot's values). */
function plain(value: unknown): boolean {
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean';
}

function encodeAt(value: unknown, path: Path, hint: string, open: Set<object>): Tree {
  if (isLeaf(value)) return localLeaf(value);
  if (
    typeof value !== 'object' ||
    value === null ||
    !(Array.isArray(value) || isMap(value) || isSet(value) || isPlainObject(value))
  ) {
    throw new TypeError(
      `${path()} holds ${describeValue(value)}, which is not plain data ` +
        `(objects, arrays, Map, Set, Date, typed arrays, primitives): ${hint}`,
    );
  }
  if (open.has(value))
    throw new TypeError(`${path()} refers back to one of its parents; plain data cannot hold a cycle`);
  open.add(value);
  let out: unknown[];
  // Sized up front and filled by index; a child's path is made only for a child that is not plain.
  if (Array.isArray(value)) {
    out = new Array<unknown>(value.length + 1);
    out[0] = ARRAY;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out[i + 1] = plain(v) ? v : encodeAt(v, () => `${path()}[${i}]`, hint, open);
    }
  } else if (isMap(value)) {
    out = new Array<unknown>(2 * value.size + 1);
    out[0] = MAP;
    let i = 0;
    for (const [k, v] of value) {
      const at = i;
      out[2 * i + 1] = plain(k) ? k : encodeAt(k, () => `${path()}<key ${at}>`, hint, open);
      out[2 * i + 2] = plain(v) ? v : encodeAt(v, () => `${path()}.get(${String(k)})`, hint, open);
      i++;
    }
  } else if (isSet(value)) {
    out = new Array<unknown>(value.size + 1);
    out[0] = SET;
    let i = 0;
    for (const v of value) {
      const at = i++;
      out[at + 1] = plain(v) ? v : encodeAt(v, () => `${path()}<element ${at}>`, hint, open);
    }
  } else {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    out = new Array<unknown>(2 * keys.length + 1);
    out[0] = OBJECT;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const v = o[k];
      out[2 * i + 1] = k;
      out[2 * i + 2] = plain(v) ? v : encodeAt(v, () => `${path()}.${k}`, hint, open);
    }
  }
  open.delete(value);
  return out;
}

/**
 * Encodes plain data so that the codec round-trips it exactly.
 * @param path how to name the value in error messages, e.g. 'Counter.snapshotState()'
 * @param hint what to do about a value that is not plain data
 * @returns the encoded tree, ready for pack()
 * @throws TypeError naming the path of a function, symbol, class instance or cycle
 */
export function encodeTree(value: unknown, path: string, hint: string): Tree {
  return encodeAt(value, () => path, hint, new Set());
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a key "__proto__" must stay a plain key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Rebuilds the value encodeTree() encoded (after a pack/unpack round trip).
 * @returns the decoded value: plain objects, arrays, Maps and Sets as they were
 * @throws DecodeError when the input is not an encoded tree
 */
export function decodeTree(tree: Tree): unknown {
  if (!Array.isArray(tree)) {
    if (tree instanceof Map || tree instanceof Set)
      throw new DecodeError('snapshot tree holds an untagged container');
    return tree;
  }
  const [tag, ...items] = tree as unknown[];
  switch (tag) {
    case ARRAY:
      return items.map(decodeTree);
    case SET:
      return new Set(items.map(decodeTree));
    case MAP:
    case OBJECT: {
      if (items.length % 2 !== 0) throw new DecodeError('snapshot tree holds an odd-length map');
      const map = new Map<unknown, unknown>();
      const object: Record<string, unknown> = {};
      for (let i = 0; i < items.length; i += 2) {
        const k = decodeTree(items[i]);
        const v = decodeTree(items[i + 1]);
        if (tag === MAP) map.set(k, v);
        else if (typeof k === 'string') setOwn(object, k, v);
        else throw new DecodeError('snapshot tree holds an object with a non-string key');
      }
      return tag === MAP ? map : object;
    }
    default:
      throw new DecodeError(`snapshot tree holds an unknown container tag ${String(tag)}`);
  }
}
