import { Packr } from 'msgpackr';
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
  try {
    return packr.unpack(data);
  } catch (cause) {
    throw new DecodeError(`malformed payload (${data.byteLength} bytes)`, { cause });
  }
}
