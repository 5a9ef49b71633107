import { checkKnownKeys, ConfigError, unknownKeyProblems, type KnownKeys } from '../src/index';

interface Options {
  readonly url?: string;
  readonly timeoutMs?: number;
  readonly maxInFlight?: number;
}

const KEYS: KnownKeys<Options> = { url: true, timeoutMs: true, maxInFlight: true };

describe('checkKnownKeys - unknown option keys', () => {
  it('accepts known keys and an absent options object', () => {
    expect(unknownKeyProblems({ url: 'x', timeoutMs: undefined }, KEYS, 'Test options')).toEqual([]);
    expect(unknownKeyProblems(undefined, KEYS, 'Test options')).toEqual([]);
    expect(() => checkKnownKeys({ maxInFlight: 2 }, KEYS, 'Test options')).not.toThrow();
  });

  it('suggests the key a typo meant: another case, a dropped, added, changed or swapped letter', () => {
    const meant = (key: string) => unknownKeyProblems({ [key]: 1 }, KEYS, 'Test options')[0];
    expect(meant('URL')).toBe("Test options: unknown key 'URL' (did you mean 'url'?)");
    expect(meant('timeoutMS')).toBe("Test options: unknown key 'timeoutMS' (did you mean 'timeoutMs'?)");
    expect(meant('timeouMs')).toBe("Test options: unknown key 'timeouMs' (did you mean 'timeoutMs'?)");
    expect(meant('maxInFlights')).toBe(
      "Test options: unknown key 'maxInFlights' (did you mean 'maxInFlight'?)",
    );
    expect(meant('maxInFilght')).toBe(
      "Test options: unknown key 'maxInFilght' (did you mean 'maxInFlight'?)",
    );
    expect(meant('timeout')).toBe("Test options: unknown key 'timeout' (did you mean 'timeoutMs'?)");
  });

  it('suggests nothing for a key unlike any known one', () => {
    expect(unknownKeyProblems({ retries: 3, ur: 1 }, KEYS, 'Test options')).toEqual([
      "Test options: unknown key 'retries'",
      "Test options: unknown key 'ur' (did you mean 'url'?)",
    ]);
    expect(unknownKeyProblems({ x: 1 }, KEYS, 'Test options')).toEqual(["Test options: unknown key 'x'"]);
  });

  it('refuses options that are not an object', () => {
    expect(unknownKeyProblems(null, KEYS, 'Test options')).toEqual([
      'Test options must be an object (got null)',
    ]);
    expect(unknownKeyProblems([], KEYS, 'Test options')).toEqual([
      'Test options must be an object (got an array)',
    ]);
    expect(unknownKeyProblems('url', KEYS, 'Test options')).toEqual([
      'Test options must be an object (got string)',
    ]);
  });

  it('throws one ConfigError naming every unknown key', () => {
    try {
      checkKnownKeys({ url: 'x', urll: 1, timeOut: 2 }, KEYS, 'Test options');
      throw new Error('no ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        "Test options: unknown key 'urll' (did you mean 'url'?)",
        "Test options: unknown key 'timeOut' (did you mean 'timeoutMs'?)",
      ]);
    }
  });

  it('does not take inherited properties for known keys', () => {
    expect(unknownKeyProblems({ toString: 1 }, KEYS, 'Test options')).toEqual([
      "Test options: unknown key 'toString'",
    ]);
  });
});
