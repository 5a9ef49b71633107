import fc from 'fast-check';
import {
  FlagEvaluator,
  InvalidDefinitionError,
  type Condition,
  type EvaluationContext,
  type FlagDefinition,
  type SegmentRecord,
} from '../src/index';
import { boolFlag, record, rollout } from './support/harness';

function evaluatorWith(
  flags: Record<string, FlagDefinition>,
  segments: Record<string, Condition> = {},
): FlagEvaluator {
  const e = new FlagEvaluator('prod');
  for (const [name, when] of Object.entries(segments)) e.setSegment(segment(name, when));
  for (const [key, def] of Object.entries(flags)) e.setFlag(record(key, def));
  return e;
}

function segment(name: string, when: Condition, version = 1): SegmentRecord {
  return { name, version, definition: { when }, createdAt: 0, updatedAt: 0, updatedBy: 'test' };
}

/** Whether condition c holds for ctx, through a flag that serves on when it does. */
function holds(c: Condition, ctx: EvaluationContext, segments: Record<string, Condition> = {}): boolean {
  const e = evaluatorWith({ f: boolFlag([{ when: c, serve: { variant: 'on' } }]) }, segments);
  return e.evaluate('f', ctx).value === true;
}

describe('feature flags - evaluation reasons', () => {
  it('a flag without rules serves its default variant with reason STATIC', () => {
    const d = evaluatorWith({ f: boolFlag() }).evaluate('f', { targetingKey: 'u1' });
    expect(d).toEqual({
      flagKey: 'f',
      value: false,
      variant: 'off',
      reason: 'STATIC',
      flagMetadata: { version: 1, environment: 'prod' },
    });
  });

  it('a disabled flag serves its default variant with reason DISABLED, whatever its rules', () => {
    const e = evaluatorWith({ f: boolFlag([{ serve: { variant: 'on' } }], { enabled: false }) });
    expect(e.evaluate('f', {})).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED' });
  });

  it('rules are tried in order and the first that matches serves, with reason TARGETING_MATCH and its index', () => {
    const e = evaluatorWith({
      f: {
        type: 'string',
        variants: { a: 'A', b: 'B', c: 'C' },
        defaultVariant: 'c',
        enabled: true,
        rules: [
          { when: { attribute: 'plan', op: 'equals', value: 'pro' }, serve: { variant: 'a' } },
          { when: { attribute: 'country', op: 'in', values: ['FR', 'DE'] }, serve: { variant: 'b' } },
        ],
      },
    });
    expect(e.evaluate('f', { plan: 'pro', country: 'FR' })).toMatchObject({
      value: 'A',
      reason: 'TARGETING_MATCH',
      ruleIndex: 0,
    });
    expect(e.evaluate('f', { plan: 'free', country: 'FR' })).toMatchObject({ value: 'B', ruleIndex: 1 });
    expect(e.evaluate('f', { plan: 'free', country: 'US' })).toMatchObject({
      value: 'C',
      variant: 'c',
      reason: 'DEFAULT',
    });
    expect(e.evaluate('f', { plan: 'free' }).ruleIndex).toBeUndefined();
  });

  it('a rule serving { default: true } stops there with reason DEFAULT', () => {
    const e = evaluatorWith({
      f: boolFlag([
        { when: { attribute: 'blocked', op: 'equals', value: true }, serve: { default: true } },
        { serve: { variant: 'on' } },
      ]),
    });
    expect(e.evaluate('f', { blocked: true })).toMatchObject({
      value: false,
      reason: 'DEFAULT',
      ruleIndex: 0,
    });
    expect(e.evaluate('f', {})).toMatchObject({ value: true, reason: 'TARGETING_MATCH', ruleIndex: 1 });
  });

  it('a rollout serves with reason SPLIT', () => {
    expect(evaluatorWith({ f: rollout(50) }).evaluate('f', { targetingKey: 'u' })).toMatchObject({
      reason: 'SPLIT',
      ruleIndex: 0,
    });
  });

  it('an unknown flag answers FLAG_NOT_FOUND, a flag of another type TYPE_MISMATCH, both with a null value', () => {
    const e = evaluatorWith({ f: boolFlag() });
    expect(e.evaluate('nope', {})).toMatchObject({
      value: null,
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
    });
    expect(e.evaluate('f', {}, 'string')).toMatchObject({
      value: null,
      reason: 'ERROR',
      errorCode: 'TYPE_MISMATCH',
    });
    expect(e.evaluate('f', {}, 'boolean')).toMatchObject({ value: false, reason: 'STATIC' });
  });

  it('a rollout without its bucketing attribute answers an error with the default value', () => {
    const e = evaluatorWith({
      f: rollout(50),
      g: boolFlag([
        {
          serve: {
            rollout: {
              by: 'org',
              split: [
                { variant: 'on', weight: 50 },
                { variant: 'off', weight: 50 },
              ],
            },
          },
        },
      ]),
    });
    expect(e.evaluate('f', {})).toMatchObject({
      value: false,
      variant: 'off',
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
    });
    expect(e.evaluate('f', { targetingKey: { id: 1 } } as unknown as EvaluationContext)).toMatchObject({
      errorCode: 'TARGETING_KEY_MISSING',
    });
    expect(e.evaluate('g', { targetingKey: 'u' })).toMatchObject({
      value: false,
      errorCode: 'INVALID_CONTEXT',
    });
  });

  it('a share of 100 % is served without reading the bucketing attribute', () => {
    const e = evaluatorWith({ f: rollout(100) });
    expect(e.evaluate('f', {})).toMatchObject({ value: true, reason: 'SPLIT' });
  });

  it('a context that is not an object answers INVALID_CONTEXT; evaluate never throws', () => {
    const e = evaluatorWith({ f: rollout(50) });
    expect(e.evaluate('f', 'user-1' as unknown as EvaluationContext)).toMatchObject({
      reason: 'ERROR',
      errorCode: 'INVALID_CONTEXT',
      value: false,
    });
    const hostile = {
      get targetingKey(): string {
        throw new Error('boom');
      },
    };
    expect(e.evaluate('f', hostile)).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL', value: false });
  });

  it('answers are frozen and carry the flag metadata with its version and environment', () => {
    const e = evaluatorWith({ f: boolFlag([], { metadata: { owner: 'payments', ticket: 12 } }) });
    const d = e.evaluate('f', {});
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.flagMetadata)).toBe(true);
    expect(d.flagMetadata).toEqual({ owner: 'payments', ticket: 12, version: 1, environment: 'prod' });
  });

  it('object variants are served frozen, so a caller cannot change the next answer', () => {
    const e = evaluatorWith({
      f: { type: 'object', variants: { v1: { limits: { rps: 10 } } }, defaultVariant: 'v1', enabled: true },
    });
    const value = e.evaluate('f', {}).value as { limits: { rps: number } };
    expect(() => {
      value.limits.rps = 99;
    }).toThrow(TypeError);
    expect(e.evaluate('f', {}).value).toEqual({ limits: { rps: 10 } });
  });
});

describe('feature flags - conditions', () => {
  const ctx = {
    targetingKey: 'u-1',
    email: 'ada@example.com',
    plan: 'pro',
    seats: 12,
    beta: true,
    version: '2.3.1-rc.1',
    groups: ['admins', 'staff'],
    user: { org: { id: 'acme' } },
  };
  const cases: [string, Condition, boolean][] = [
    ['equals is strict', { attribute: 'seats', op: 'equals', value: 12 }, true],
    ['equals does not coerce', { attribute: 'seats', op: 'equals', value: '12' }, false],
    ['equals a boolean', { attribute: 'beta', op: 'equals', value: true }, true],
    ['in a list', { attribute: 'plan', op: 'in', values: ['team', 'pro'] }, true],
    ['not in a list', { attribute: 'plan', op: 'in', values: ['free'] }, false],
    ['contains a substring', { attribute: 'email', op: 'contains', value: '@example' }, true],
    ['contains an element of an array', { attribute: 'groups', op: 'contains', value: 'admins' }, true],
    ['startsWith', { attribute: 'email', op: 'startsWith', value: 'ada@' }, true],
    ['endsWith', { attribute: 'email', op: 'endsWith', value: '.org' }, false],
    ['lt', { attribute: 'seats', op: 'lt', value: 12 }, false],
    ['lte', { attribute: 'seats', op: 'lte', value: 12 }, true],
    ['gt', { attribute: 'seats', op: 'gt', value: 11.5 }, true],
    ['gte on a string attribute is false', { attribute: 'plan', op: 'gte', value: 0 }, false],
    [
      'semver >= with a pre-release below its release',
      { attribute: 'version', op: 'semver', compare: '>=', value: '2.3.1' },
      false,
    ],
    ['semver > an older minor', { attribute: 'version', op: 'semver', compare: '>', value: '2.2' }, true],
    ['semver ~ same minor', { attribute: 'version', op: 'semver', compare: '~', value: '2.3.0' }, true],
    ['semver ^ same major', { attribute: 'version', op: 'semver', compare: '^', value: 'v3.0.0' }, false],
    [
      'matches a pattern',
      { attribute: 'email', op: 'matches', pattern: '^[a-z]+@example\\.(com|org)$' },
      true,
    ],
    ['matches is case-sensitive', { attribute: 'email', op: 'matches', pattern: 'ADA' }, false],
    ['matches with i ignores case', { attribute: 'email', op: 'matches', pattern: 'ADA', flags: 'i' }, true],
    ['exists', { attribute: 'beta', op: 'exists' }, true],
    ['a missing attribute does not exist', { attribute: 'nope', op: 'exists' }, false],
    ['a nested path', { attribute: 'user.org.id', op: 'equals', value: 'acme' }, true],
    ['a missing nested path', { attribute: 'user.team.id', op: 'exists' }, false],
    ['inherited properties are not attributes', { attribute: 'constructor', op: 'exists' }, false],
    ['inherited properties are not nested attributes', { attribute: 'user.toString', op: 'exists' }, false],
    [
      'every condition on a missing attribute is false',
      { attribute: 'nope', op: 'in', values: ['x'] },
      false,
    ],
    ['not', { not: { attribute: 'nope', op: 'equals', value: 'x' } }, true],
    [
      'all',
      {
        all: [
          { attribute: 'beta', op: 'exists' },
          { attribute: 'seats', op: 'gt', value: 100 },
        ],
      },
      false,
    ],
    [
      'any',
      {
        any: [
          { attribute: 'nope', op: 'exists' },
          { attribute: 'seats', op: 'gt', value: 10 },
        ],
      },
      true,
    ],
    ['all of nothing holds', { all: [] }, true],
    ['any of nothing does not', { any: [] }, false],
  ];
  it.each(cases)('%s', (_name, c, expected) => {
    expect(holds(c, ctx)).toBe(expected);
  });

  it('segments are reused across flags, and a changed segment changes every flag that uses it', () => {
    const e = evaluatorWith(
      {
        a: boolFlag([{ when: { segment: 'staff' }, serve: { variant: 'on' } }]),
        b: boolFlag([{ when: { not: { segment: 'staff' } }, serve: { variant: 'on' } }]),
      },
      { staff: { attribute: 'email', op: 'endsWith', value: '@acme.io' } },
    );
    const bob = { email: 'bob@acme.io' };
    expect([e.evaluate('a', bob).value, e.evaluate('b', bob).value]).toEqual([true, false]);
    e.setSegment(segment('staff', { attribute: 'email', op: 'endsWith', value: '@acme.com' }, 2));
    expect([e.evaluate('a', bob).value, e.evaluate('b', bob).value]).toEqual([false, true]);
  });

  it('a flag naming a segment the evaluator does not hold is refused with InvalidDefinitionError', () => {
    const e = new FlagEvaluator('prod');
    expect(() =>
      e.setFlag(record('f', boolFlag([{ when: { segment: 'ghost' }, serve: { variant: 'on' } }]))),
    ).toThrow(InvalidDefinitionError);
  });
});

describe('feature flags - rollouts', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

  it('a rollout gives each share about its weight of 20 000 keys', () => {
    const e = evaluatorWith({
      f: {
        type: 'string',
        variants: { a: 'a', b: 'b', c: 'c' },
        defaultVariant: 'a',
        enabled: true,
        rules: [
          {
            serve: {
              rollout: {
                split: [
                  { variant: 'a', weight: 10 },
                  { variant: 'b', weight: 30.5 },
                  { variant: 'c', weight: 59.5 },
                ],
              },
            },
          },
        ],
      },
    });
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (const k of keys) counts[e.evaluate('f', { targetingKey: k }).variant!]! += 1;
    expect(counts.a! / keys.length).toBeCloseTo(0.1, 1);
    expect(counts.b! / keys.length).toBeCloseTo(0.305, 1);
    expect(counts.c! / keys.length).toBeCloseTo(0.595, 1);
  });

  it('a rollout raised from 10 % to 20 % keeps the first 10 % (and lowering it only removes)', () => {
    // For any two percentages of one flag, every context served `on` at the lower one is served `on` at the higher one.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.string(), { maxLength: 100 }),
        (x, y, targetingKeys) => {
          const lower = evaluatorWith({ f: rollout(Math.min(x, y) / 100) });
          const higher = evaluatorWith({ f: rollout(Math.max(x, y) / 100) });
          return targetingKeys.every(
            (k) =>
              lower.evaluate('f', { targetingKey: k }).value !== true ||
              higher.evaluate('f', { targetingKey: k }).value === true,
          );
        },
      ),
      { numRuns: 200 },
    );
    const at10 = evaluatorWith({ f: rollout(10) });
    const at20 = evaluatorWith({ f: rollout(20) });
    const in10 = keys.filter((k) => at10.evaluate('f', { targetingKey: k }).value === true);
    const in20 = new Set(keys.filter((k) => at20.evaluate('f', { targetingKey: k }).value === true));
    expect(in10.length).toBeGreaterThan(1_800);
    expect(in20.size).toBeGreaterThan(3_600);
    expect(in10.filter((k) => !in20.has(k))).toEqual([]);
  });

  it('two flags at 10 % do not pick the same contexts', () => {
    const e = evaluatorWith({ f: rollout(10), g: rollout(10) });
    const both = keys.filter(
      (k) =>
        e.evaluate('f', { targetingKey: k }).value === true &&
        e.evaluate('g', { targetingKey: k }).value === true,
    );
    // Independent picks overlap on about 1 % of keys, not 10 %.
    expect(both.length / keys.length).toBeLessThan(0.02);
  });

  it('a number bucketing attribute is hashed as its text', () => {
    const e = evaluatorWith({
      f: boolFlag([
        {
          serve: {
            rollout: {
              by: 'org',
              split: [
                { variant: 'on', weight: 50 },
                { variant: 'off', weight: 50 },
              ],
            },
          },
        },
      ]),
    });
    for (let i = 0; i < 50; i++)
      expect(e.evaluate('f', { org: i })).toEqual(e.evaluate('f', { org: String(i) }));
  });

  it('the same flag and context give the same answer every time and in every evaluator built from the same records', () => {
    const def: FlagDefinition = {
      type: 'number',
      variants: { low: 1, mid: 5, high: 10 },
      defaultVariant: 'low',
      enabled: true,
      rules: [
        { when: { attribute: 'country', op: 'in', values: ['FR', 'DE'] }, serve: { variant: 'high' } },
        {
          when: { segment: 'adults' },
          serve: {
            rollout: {
              split: [
                { variant: 'mid', weight: 33.33 },
                { variant: 'high', weight: 66.67 },
              ],
            },
          },
        },
      ],
    };
    const seg = { adults: { attribute: 'age', op: 'gte', value: 18 } as Condition };
    const first = evaluatorWith({ f: def }, seg);
    const context = fc.record(
      {
        targetingKey: fc.string(),
        country: fc.constantFrom('FR', 'DE', 'US', 'JP'),
        age: fc.integer({ min: 0, max: 99 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(context, (ctx) => {
        const second = evaluatorWith({ f: def }, seg);
        const a = first.evaluate('f', ctx);
        return (
          JSON.stringify(a) === JSON.stringify(first.evaluate('f', ctx)) &&
          JSON.stringify(a) === JSON.stringify(second.evaluate('f', ctx))
        );
      }),
      { numRuns: 300 },
    );
  });
});
