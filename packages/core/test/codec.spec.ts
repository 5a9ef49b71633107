import fc from 'fast-check';
import { DecodeError, pack, unpack } from '../src/index';

// unpack() returns one complete msgpack value of what pack() wrote, or
// throws DecodeError: never a half-decoded value, never msgpackr's marker
// for the never-used byte 0xc1.

describe('codec - pack and unpack', () => {
  it('refuses the never-used byte 0xc1 anywhere in a value', () => {
    for (const bytes of [[0xc1], [0x91, 0xc1], [0x81, 0xa1, 0x61, 0xc1], [0x92, 0x01, 0x91, 0xc1]]) {
      expect(() => unpack(Uint8Array.from(bytes))).toThrow(DecodeError);
    }
  });

  it('refuses empty and truncated input with DecodeError', () => {
    expect(() => unpack(new Uint8Array())).toThrow(DecodeError);
    expect(() => unpack(Uint8Array.of(0x92, 0x01))).toThrow(DecodeError); // an array of 2 with 1 item
  });

  it('round-trips plain data, also when its bytes hold 0xc1 inside strings, numbers and binary', () => {
    const value = { s: 'text', n: 0xc1c1, f: -193.25, b: Uint8Array.of(0xc1, 0xc1), list: [0xc1, 'x'] };
    expect(Buffer.from(pack(value)).includes(0xc1)).toBe(true);
    expect(unpack(pack(value))).toEqual(value);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // As JSON says it: msgpack, like JSON, has no -0 integer.
        expect(unpack(pack(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });
});
