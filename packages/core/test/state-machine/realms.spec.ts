import { runInNewContext } from 'node:vm';
import { pack, unpack } from '../../src/index';
import { canonicalDigest } from '../../src/state-machine/digest';
import { decodeTree, encodeTree } from '../../src/state-machine/tree';

// Values made in another realm (a vm context; structuredClone() under jest)
// have other Map, Set, Date and Object.prototype objects than this realm's.
const foreign = (): unknown =>
  runInNewContext(`({
    name: 'n',
    counts: new Map([['a', 1], ['b', { nested: [1, 2] }]]),
    tags: new Set(['x', 'y']),
    at: new Date(1700000000000),
    bytes: new Uint8Array([1, 2, 3]),
  })`);

const local = (): unknown => ({
  name: 'n',
  counts: new Map<string, unknown>([
    ['a', 1],
    ['b', { nested: [1, 2] }],
  ]),
  tags: new Set(['x', 'y']),
  at: new Date(1700000000000),
  bytes: new Uint8Array([1, 2, 3]),
});

describe('state trees - values from another realm are plain data too', () => {
  it('a snapshot of Maps, Sets, Dates and bytes made in another realm round-trips as this realm would', () => {
    const v = foreign();
    expect(v instanceof Object).toBe(false); // really another realm
    const back = decodeTree(unpack(pack(encodeTree(v, 'state', 'hint'))));
    expect(back).toEqual(local());
  });

  it('digests a foreign value exactly as the same value made here', () => {
    expect(canonicalDigest(foreign(), 'state')).toBe(canonicalDigest(local(), 'state'));
  });

  it('still refuses a class instance, whatever its realm', () => {
    const instance = runInNewContext('new (class Foo { constructor() { this.a = 1; } })()');
    expect(() => encodeTree({ x: instance }, 'state', 'hint')).toThrow(/state\.x holds an instance of Foo/);
    expect(() => canonicalDigest({ x: instance }, 'state')).toThrow(/Foo/);
  });
});
