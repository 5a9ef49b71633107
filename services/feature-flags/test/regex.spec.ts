import fc from 'fast-check';
import { LIMITS, UnsupportedPatternError, compileRegex } from '../src/index';

/** Patterns of the dialect over a small alphabet, so that random inputs often match. */
const pattern: fc.Arbitrary<string> = fc.letrec<{ alt: string; seq: string; atom: string }>((tie) => ({
  alt: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('seq'),
    fc.tuple(tie('seq'), tie('seq')).map(([a, b]) => `${a}|${b}`),
  ),
  seq: fc.array(tie('atom'), { minLength: 0, maxLength: 4 }).map((parts) => parts.join('')),
  atom: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(
      'a',
      'b',
      'c',
      'A',
      '.',
      '\\d',
      '\\w',
      '\\s',
      '\\.',
      '[ab]',
      '[^a]',
      '[a-c]',
      '[^]',
      '[]',
      '\\x61',
      '\\u0062',
      '1',
      ' ',
      '^',
      '$',
    ),
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom('a', 'b', '.', '[bc]'),
          tie('alt').map((x) => `(${x})`),
          tie('alt').map((x) => `(?:${x})`),
        ),
        fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '+?', '{0,2}?'),
      )
      .map(([a, q]) => a + q),
    tie('alt').map((x) => `(${x})`),
  ),
})).alt;

const input = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', 'A', 'B', '1', ' ', '.', '\n', '😀'),
  maxLength: 12,
});

describe('feature flags - bounded regular expressions', () => {
  it('agrees with RegExp (u flag) on every pattern of the dialect and every input', () => {
    fc.assert(
      fc.property(pattern, fc.array(input, { maxLength: 8 }), (p, inputs) => {
        const ours = compileRegex(p);
        const theirs = new RegExp(p, 'u');
        return inputs.every((s) => ours.test(s) === theirs.test(s));
      }),
      { numRuns: 1_500 },
    );
  });

  it('agrees with RegExp (iu flags) on ASCII patterns and inputs when case is ignored', () => {
    fc.assert(
      fc.property(pattern, fc.array(input, { maxLength: 8 }), (p, inputs) => {
        const ours = compileRegex(p, 'i');
        const theirs = new RegExp(p, 'iu');
        return inputs.every((s) => ours.test(s) === theirs.test(s));
      }),
      { numRuns: 800 },
    );
  });

  it.each([
    ['(a)\\1', 'backreferences (\\1) are not supported'],
    ['(?<n>a)\\k<n>', 'named groups (use (?:…)) is not supported'],
    ['a(?=b)', 'lookahead is not supported'],
    ['a(?!b)', 'lookahead is not supported'],
    ['(?<=a)b', 'lookbehind is not supported'],
    ['(?<!a)b', 'lookbehind is not supported'],
    ['\\bword\\b', 'word boundaries (\\b) are not supported'],
    ['\\p{L}', 'Unicode property escapes (\\p{…}) are not supported'],
    ['a{', 'a lone { (escape it as \\{)'],
    ['a]', 'a lone ] (escape it as \\])'],
    ['*a', 'nothing to repeat'],
    ['a**', 'nothing to repeat'],
    ['^*', 'an anchor cannot be repeated'],
    ['(ab', 'unterminated group'],
    ['ab)', 'unmatched )'],
    ['[z-a]', 'range out of order in character class'],
    ['\\q', 'unknown escape \\q'],
    ['a{1001}', `a repetition bound above ${LIMITS.repeatBound}`],
    ['a{3,2}', 'numbers out of order in {} quantifier'],
  ])('refuses %s: %s', (source, problem) => {
    expect(() => compileRegex(source)).toThrow(UnsupportedPatternError);
    expect(() => compileRegex(source)).toThrow(problem);
  });

  it('refuses a pattern that is too long, or too large once repetitions are expanded', () => {
    expect(() => compileRegex('a'.repeat(LIMITS.patternLength + 1))).toThrow('longer than');
    expect(() => compileRegex('(a{1000}){1000}')).toThrow(`more than ${LIMITS.patternStates} states`);
  });

  it('matches catastrophic-backtracking patterns in one pass over the input', () => {
    const evil = compileRegex('^(a+)+$');
    const input = 'a'.repeat(4_000) + 'b';
    expect(evil.test(input)).toBe(false);
    expect(evil.test('a'.repeat(4_000))).toBe(true);
    expect(compileRegex('(x+x+)+y').test('x'.repeat(4_000))).toBe(false);
  });

  it('an input longer than matchInputLength never matches', () => {
    expect(compileRegex('a').test('a'.repeat(LIMITS.matchInputLength + 1))).toBe(false);
  });

  it('a class ignores case before it is inverted, as RegExp does', () => {
    expect(compileRegex('[^a]', 'i').test('A')).toBe(false);
    expect(compileRegex('[^a]', 'i').test('b')).toBe(true);
  });

  it('astral code points are one character', () => {
    expect(compileRegex('^.$').test('😀')).toBe(true);
    expect(compileRegex('^[😀]$').test('😀')).toBe(true);
    expect(compileRegex('^\\u{1F600}$').test('😀')).toBe(true);
    expect(compileRegex('^\\uD83D\\uDE00$').test('😀')).toBe(true);
  });
});
