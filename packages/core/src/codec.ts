import { Packr } from 'msgpackr';
import { DecodeError } from './errors';

/**
 * The one msgpackr configuration raftline uses for log payloads, snapshots
 * and wire frames: Maps, Sets, Dates and typed arrays round-trip, records are
 * off so that every payload decodes on its own.
 */
const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: false, structuredClone: false });

/** Encodes a value. Throws a TypeError for values msgpack cannot hold (functions, symbols). */
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
