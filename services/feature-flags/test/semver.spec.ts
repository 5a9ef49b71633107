import { compareSemver, parseSemver } from '../src/index';

const v = (s: string) => {
  const parsed = parseSemver(s);
  if (!parsed) throw new Error(`${s} did not parse`);
  return parsed;
};

describe('feature flags - semantic versions', () => {
  it('orders versions by SemVer 2.0.0 precedence (spec §11)', () => {
    const chain = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
      '10.0.0',
    ];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        expect([chain[i], chain[j], compareSemver(v(chain[i]!), v(chain[j]!))]).toEqual([
          chain[i],
          chain[j],
          Math.sign(i - j),
        ]);
      }
    }
  });

  it('reads v and V prefixes, the MAJOR and MAJOR.MINOR shorthands, and ignores build metadata', () => {
    expect(compareSemver(v('v1.2.3'), v('1.2.3'))).toBe(0);
    expect(compareSemver(v('V1.2.3'), v('1.2.3'))).toBe(0);
    expect(compareSemver(v('1'), v('1.0.0'))).toBe(0);
    expect(compareSemver(v('1.2'), v('1.2.0'))).toBe(0);
    expect(compareSemver(v('1.0.0+build.5'), v('1.0.0+other'))).toBe(0);
  });

  it.each([
    '',
    '1.2.3.4',
    '01.2.3',
    '1.02.3',
    '1.2-rc.1',
    'a.b.c',
    '1.2.3-',
    '1.2.3-01',
    '1.2.3+',
    `${'9'.repeat(20)}.0.0`,
  ])('refuses %p', (s) => {
    expect(parseSemver(s)).toBeUndefined();
  });
});
