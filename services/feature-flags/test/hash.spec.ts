import fc from 'fast-check';
import { BUCKETS, bucketOf, murmur3 } from '../src/index';
import { bucketAfter, hashPrefix, murmur3After } from '../src/hash';

describe('feature flags - rollout hash', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ])('murmur3_x86_32(%p, seed %d) is the reference value', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
  });

  it("puts flagd's hash edge vectors in the buckets flagd puts them (fractional v2: (hash × total) >> 32)", () => {
    // Keys whose hash is 0, 1, 2³¹ − 1, 2³¹ and 2³² − 1 (from the flagd testbed): a 50/50 split.
    expect([
      murmur3('ejOoVL'),
      murmur3('bY9fO-'),
      murmur3('SI7p-'),
      murmur3('6LvT0'),
      murmur3('ceQdGm'),
    ]).toEqual([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]);
    expect(
      ['ejOoVL', 'bY9fO-', 'SI7p-', '6LvT0', 'ceQdGm'].map((k) => (bucketOf(k) < 5_000 ? 'lower' : 'upper')),
    ).toEqual(['lower', 'lower', 'lower', 'upper', 'upper']);
    expect(bucketOf('ceQdGm')).toBe(BUCKETS - 1);
  });

  it('every bucket is an integer in [0, 10 000)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const b = bucketOf(s);
        return Number.isInteger(b) && b >= 0 && b < BUCKETS;
      }),
    );
  });

  it('hashes UTF-8: a lone surrogate hashes as U+FFFD, as TextEncoder encodes it', () => {
    expect(murmur3('a\uD800b')).toBe(murmur3('a\uFFFDb'));
    expect(murmur3('é')).not.toBe(murmur3('\u00e9'.normalize('NFD')));
  });

  it('hashing a salt then a value is hashing their concatenation', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite' }), fc.string(), (salt, value) => {
        const prefix = hashPrefix(salt);
        return (
          murmur3After(prefix, value) === murmur3(salt + value) &&
          bucketAfter(prefix, value) === bucketOf(salt + value)
        );
      }),
      { numRuns: 2_000 },
    );
  });
});
