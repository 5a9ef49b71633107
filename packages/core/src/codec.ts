import { C1, Packr } from 'msgpackr';
import { DecodeError } from './errors';

/**
 * The one msgpackr configuration raftline uses for log payloads and wire
 * frames: plain objects, arrays, strings, numbers, booleans, null, Sets, Dates
 * and typed arrays round-trip; a Map comes back as a plain object (msgpack has
 * one map type), so state that needs Maps goes through the state-machine
 * layer's snapshot encoding. Records are off so every payload decodes alone.
 */
const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });

/** Encodes a value. Functions and symbols encode as undefined/null: pass plain data only. */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decodes a value.
 * @throws DecodeError when the bytes are not one complete msgpack value
 */
export function unpack(data: Uint8Array): unknown {
  let value: unknown;
  try {
    value = packr.unpack(data);
  } catch (cause) {
    throw new DecodeError(`malformed payload (${data.byteLength} bytes)`, { cause });
  }
  // 0xc1 is msgpack's never-used byte: msgpackr decodes it to a marker rather
  // than failing. pack() never writes it, so a marker anywhere means the bytes
  // were not ours. The byte scan is native; the walk runs only when it finds one.
  if (data.indexOf(0xc1) >= 0 && holdsNeverUsed(value, 0)) {
    throw new DecodeError(`malformed payload (${data.byteLength} bytes): msgpack's never-used byte 0xc1`);
  }
  return value;
}

/** Whether value holds msgpackr's 0xc1 marker, at any depth (a depth past 1000 counts as holding it). */
function holdsNeverUsed(value: unknown, depth: number): boolean {
  if (value === C1) return true;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  if (depth > 1000) return true;
  const children = value instanceof Set ? [...value] : Object.values(value as object);
  return children.some((child) => holdsNeverUsed(child, depth + 1));
}
