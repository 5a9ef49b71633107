import { CommandRejectedError } from '@raftline/core';
import fc from 'fast-check';
import {
  FlagEvaluator,
  InvalidFlagdDocumentError,
  UnsupportedTargetingError,
  flagErrorName,
  fromFlagd,
  toFlagd,
  type EvaluationContext,
  type FlagDefinition,
  type FlagRecord,
  type SegmentRecord,
} from '../src/index';
import { AUTHOR, Harness, boolFlag, record } from './support/harness';

/** An evaluator of what fromFlagd made of doc (as the store would hold it). */
function imported(doc: unknown): FlagEvaluator {
  const { flags, segments } = fromFlagd(doc);
  const e = new FlagEvaluator('prod');
  for (const [name, definition] of Object.entries(segments))
    e.setSegment({ name, version: 1, definition, createdAt: 0, updatedAt: 0, updatedBy: 'import' });
  for (const [key, def] of Object.entries(flags)) e.setFlag(record(key, def));
  return e;
}

const suits = { clubs: 'clubs', diamonds: 'diamonds', hearts: 'hearts', spades: 'spades', wild: 'wild' };
const quarters = [
  ['clubs', 25],
  ['diamonds', 25],
  ['hearts', 25],
  ['spades', 25],
];

// Flags and expected answers of the flagd testbed (custom-ops.json, targeting.feature, fractional v2).
const testbed = {
  flags: {
    'fractional-flag': {
      state: 'ENABLED',
      variants: suits,
      defaultVariant: 'wild',
      targeting: { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'user.name' }] }, ...quarters] },
    },
    'fractional-single-entry-flag': {
      state: 'ENABLED',
      variants: { single: 'single', fallback: 'fallback' },
      defaultVariant: 'fallback',
      targeting: { fractional: [['single', 1]] },
    },
    'fractional-flag-shorthand': {
      state: 'ENABLED',
      variants: { heads: 'heads', tails: 'tails', draw: 'draw' },
      defaultVariant: 'draw',
      targeting: { fractional: [['heads'], ['tails', 1]] },
    },
    'fractional-flag-A-shared-seed': {
      state: 'ENABLED',
      variants: suits,
      defaultVariant: 'wild',
      targeting: { fractional: [{ cat: ['shared-seed', { var: 'user.name' }] }, ...quarters] },
    },
    'fractional-hash-edge-flag': {
      state: 'ENABLED',
      variants: { lower: 'lower', upper: 'upper' },
      defaultVariant: 'lower',
      targeting: { fractional: [{ var: 'targetingKey' }, ['lower', 50], ['upper', 50]] },
    },
    'major-minor-version-flag': {
      state: 'ENABLED',
      variants: { minor: 'minor', major: 'major', none: 'none' },
      defaultVariant: 'none',
      targeting: {
        if: [
          { sem_ver: [{ var: 'version' }, '~', '3.0.0'] },
          'minor',
          { if: [{ sem_ver: [{ var: 'version' }, '^', '3.0.0'] }, 'major', 'none'] },
        ],
      },
    },
    'semver-v-prefix-flag': {
      state: 'ENABLED',
      variants: { match: 'match', 'no-match': 'no-match' },
      defaultVariant: 'no-match',
      targeting: { if: [{ sem_ver: [{ var: 'version' }, '=', 'v1.0.0'] }, 'match', 'no-match'] },
    },
    'semver-partial-version-flag': {
      state: 'ENABLED',
      variants: { match: 'match', 'no-match': 'no-match' },
      defaultVariant: 'no-match',
      targeting: { if: [{ sem_ver: [{ var: 'version' }, '^', '1'] }, 'match', 'no-match'] },
    },
    'semver-build-metadata-flag': {
      state: 'ENABLED',
      variants: { match: 'match', 'no-match': 'no-match' },
      defaultVariant: 'no-match',
      targeting: { if: [{ sem_ver: [{ var: 'version' }, '=', '1.0.0+build'] }, 'match', 'no-match'] },
    },
  },
};

describe('feature flags - flagd import', () => {
  const e = imported(testbed);
  const value = (key: string, ctx: EvaluationContext): unknown => e.evaluate(key, ctx).value;

  it.each([
    ['jack', 'hearts'],
    ['queen', 'spades'],
    ['ten', 'clubs'],
    ['nine', 'diamonds'],
    ['3', 'clubs'],
  ])('fractional by flag key and user.name puts %s in %s, as flagd does', (name, expected) => {
    expect(value('fractional-flag', { user: { name } })).toBe(expected);
  });

  it.each([
    ['seven', 'hearts'],
    ['eight', 'diamonds'],
    ['nine', 'clubs'],
    ['two', 'spades'],
  ])('fractional with a shared seed puts %s in %s, as flagd does', (name, expected) => {
    expect(value('fractional-flag-A-shared-seed', { user: { name } })).toBe(expected);
  });

  it('fractional without a bucketing value hashes flag key + targetingKey, with weight 1 by default', () => {
    expect(value('fractional-flag-shorthand', { targetingKey: 'jon@company.com' })).toBe('heads');
    expect(value('fractional-flag-shorthand', { targetingKey: 'jane@company.com' })).toBe('tails');
    expect(value('fractional-single-entry-flag', {})).toBe('single');
  });

  it.each([
    ['ejOoVL', 'lower'],
    ['bY9fO-', 'lower'],
    ['SI7p-', 'lower'],
    ['6LvT0', 'upper'],
    ['ceQdGm', 'upper'],
  ])('the hash edge vector %s lands in %s', (targetingKey, expected) => {
    expect(value('fractional-hash-edge-flag', { targetingKey })).toBe(expected);
  });

  it.each([
    ['major-minor-version-flag', '3.0.1', 'minor'],
    ['major-minor-version-flag', '3.1.0', 'major'],
    ['major-minor-version-flag', '4.0.0', 'none'],
    ['semver-v-prefix-flag', '1.0.0', 'match'],
    ['semver-v-prefix-flag', 'v1.0.0', 'match'],
    ['semver-v-prefix-flag', 'V1.0.0', 'match'],
    ['semver-v-prefix-flag', '2.0.0', 'no-match'],
    ['semver-partial-version-flag', '1.0', 'match'],
    ['semver-partial-version-flag', '1', 'match'],
    ['semver-partial-version-flag', 1, 'match'],
    ['semver-partial-version-flag', '2.0.0', 'no-match'],
    ['semver-build-metadata-flag', '1.0.0+other', 'match'],
  ])('%s with version %p serves %s', (key, version, expected) => {
    expect(value(key, { version })).toBe(expected);
  });

  it('imports state, variants, default, metadata, $evaluators as segments and $ref as segment conditions', () => {
    const { flags, segments } = fromFlagd({
      flags: {
        banner: {
          state: 'DISABLED',
          variants: { on: true, off: false },
          defaultVariant: 'off',
          targeting: { if: [{ $ref: 'staff' }, 'on', null] },
          metadata: { description: 'New banner', tags: 'ui, growth', owner: 'web' },
        },
      },
      $evaluators: { staff: { in: ['@acme.io', { var: 'email' }] } },
    });
    expect(segments).toEqual({ staff: { when: { attribute: 'email', op: 'contains', value: '@acme.io' } } });
    expect(flags.banner).toEqual({
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      enabled: false,
      rules: [{ when: { segment: 'staff' }, serve: { variant: 'on' } }],
      description: 'New banner',
      tags: ['ui', 'growth'],
      metadata: { owner: 'web' },
    });
  });

  it('translates nested if chains into ordered rules that give the same answers', () => {
    const doc = {
      flags: {
        tier: {
          state: 'ENABLED',
          variants: { gold: 'gold', silver: 'silver', bronze: 'bronze', tin: 'tin' },
          defaultVariant: 'tin',
          targeting: {
            if: [
              {
                and: [
                  { '>=': [{ var: 'spend' }, 1000] },
                  { '!': { in: [{ var: 'country' }, ['XX', 'YY']] } },
                ],
              },
              { if: [{ '==': [{ var: 'vip' }, true] }, 'gold', null] },
              { '<': [10, { var: 'spend' }, 1000] },
              'silver',
              { starts_with: [{ var: 'email' }, 'test'] },
              null,
              { or: [{ ends_with: [{ var: 'email' }, '.gov'] }, { '!=': [{ var: 'partner' }, null] }] },
              'gold',
              'bronze',
            ],
          },
        },
      },
    };
    const ev = imported(doc);
    const v = (ctx: EvaluationContext) => [ev.evaluate('tier', ctx).value, ev.evaluate('tier', ctx).reason];
    expect(v({ spend: 5000, vip: true })).toEqual(['gold', 'TARGETING_MATCH']);
    // The inner if's null serves the default, and no later branch is tried.
    expect(v({ spend: 5000, vip: false, email: 'a@x.gov' })).toEqual(['tin', 'DEFAULT']);
    expect(v({ spend: 5000, vip: true, country: 'XX' })).toEqual(['bronze', 'TARGETING_MATCH']);
    expect(v({ spend: 50 })).toEqual(['silver', 'TARGETING_MATCH']);
    expect(v({ spend: 10 })).toEqual(['bronze', 'TARGETING_MATCH']);
    expect(v({ email: 'test@x.gov' })).toEqual(['tin', 'DEFAULT']);
    expect(v({ email: 'a@x.gov' })).toEqual(['gold', 'TARGETING_MATCH']);
    expect(v({ partner: 'p' })).toEqual(['gold', 'TARGETING_MATCH']);
    expect(v({})).toEqual(['bronze', 'TARGETING_MATCH']);
  });

  it('a condition as the whole targeting selects the variant named "true" or "false"', () => {
    const ev = imported({
      flags: {
        f: {
          state: 'ENABLED',
          variants: { true: 'yes', false: 'no' },
          defaultVariant: 'false',
          targeting: { in: ['@example.com', { var: 'email' }] },
        },
      },
    });
    expect(ev.evaluate('f', { email: 'a@example.com' }).value).toBe('yes');
    expect(ev.evaluate('f', { email: 'a@other.com' }).value).toBe('no');
  });

  it.each<[string, unknown, string, string]>([
    ['an unknown operation', { merge: [[1], [2]] }, 'merge', 'flags.f.targeting'],
    [
      'a variable with a default',
      { if: [{ '==': [{ var: ['plan', 'free'] }, 'pro'] }, 'on', 'off'] },
      'var',
      'flags.f.targeting.if[0].==[0]',
    ],
    [
      'flagd evaluation properties',
      { if: [{ '>': [{ var: '$flagd.timestamp' }, 0] }, 'on', 'off'] },
      'var',
      'flags.f.targeting.if[0].>[0]',
    ],
    [
      'a non-string operand of ends_with',
      { if: [{ ends_with: [{ var: 'id' }, 3] }, 'on', 'off'] },
      'ends_with',
      'flags.f.targeting.if[0]',
    ],
    [
      'two variables compared',
      { if: [{ '==': [{ var: 'a' }, { var: 'b' }] }, 'on', 'off'] },
      '==',
      'flags.f.targeting.if[0]',
    ],
    [
      'a bare variable as a condition',
      { if: [{ var: 'beta' }, 'on', 'off'] },
      'var',
      'flags.f.targeting.if[0]',
    ],
    [
      'a constant bucketing value',
      { fractional: ['email', ['on', 50], ['off', 50]] },
      'string',
      'flags.f.targeting.fractional[0]',
    ],
    [
      'weights finer than 0.01 %',
      {
        fractional: [
          ['on', 1],
          ['off', 2],
        ],
      },
      'fractional',
      'flags.f.targeting.fractional',
    ],
    [
      'a computed variant in a share',
      {
        fractional: [
          [{ var: 'color' }, 50],
          ['off', 50],
        ],
      },
      'fractional',
      'flags.f.targeting.fractional[0]',
    ],
  ])(
    'refuses %s with UnsupportedTargetingError naming the operator and its path',
    (_what, targeting, operator, path) => {
      const doc = {
        flags: {
          f: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting },
        },
      };
      let err: unknown;
      try {
        fromFlagd(doc);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedTargetingError);
      expect(err).toMatchObject({ operator, path });
    },
  );

  it('refuses what is not a flagd document with InvalidFlagdDocumentError naming the field', () => {
    expect(() => fromFlagd('{ not json')).toThrow(InvalidFlagdDocumentError);
    expect(() =>
      fromFlagd({ flags: { f: { state: 'ON', variants: { a: 1 }, defaultVariant: 'a' } } }),
    ).toThrow('flags.f.state: must be ENABLED or DISABLED');
    expect(() =>
      fromFlagd({ flags: { f: { state: 'ENABLED', variants: { a: 1, b: 'x' }, defaultVariant: 'a' } } }),
    ).toThrow('flags.f.variants: variants mix number and string');
    expect(() =>
      fromFlagd({
        flags: { f: { state: 'ENABLED', variants: { a: 1 }, defaultVariant: 'a', targeting: 'b' } },
      }),
    ).toThrow('flags.f.targeting: targeting returns "b", which is not a variant');
    expect(() =>
      fromFlagd({
        flags: {
          f: {
            state: 'ENABLED',
            variants: { a: 1 },
            defaultVariant: 'a',
            targeting: { if: [{ $ref: 'x' }, 'a', null] },
          },
        },
      }),
    ).toThrow('$ref to x, which $evaluators does not define');
  });
});

describe('feature flags - flagd export', () => {
  const segments: SegmentRecord[] = [
    {
      name: 'eu',
      version: 1,
      definition: { when: { attribute: 'country', op: 'in', values: ['FR', 'DE'] } },
      createdAt: 0,
      updatedAt: 0,
      updatedBy: 't',
    },
  ];

  it('exports rules as an if chain, rollouts as fractional, segments as $evaluators', () => {
    const flags = [
      record(
        'banner',
        boolFlag(
          [
            { when: { segment: 'eu' }, serve: { variant: 'on' } },
            {
              serve: {
                rollout: {
                  split: [
                    { variant: 'on', weight: 12.5 },
                    { variant: 'off', weight: 87.5 },
                  ],
                },
              },
            },
          ],
          { description: 'New banner', tags: ['ui'] },
        ),
      ),
    ];
    expect(toFlagd({ flags, segments })).toEqual({
      document: {
        $schema: 'https://flagd.dev/schema/v0/flags.json',
        flags: {
          banner: {
            state: 'ENABLED',
            variants: { on: true, off: false },
            defaultVariant: 'off',
            targeting: {
              if: [
                { $ref: 'eu' },
                'on',
                { fractional: [{ cat: ['banner/', { var: 'targetingKey' }] }, ['on', 1250], ['off', 8750]] },
              ],
            },
            metadata: { description: 'New banner', tags: 'ui' },
          },
        },
        $evaluators: { eu: { in: [{ var: 'country' }, ['FR', 'DE']] } },
      },
      skipped: [],
    });
  });

  it('leaves out, and lists, a flag flagd cannot express (a regular expression)', () => {
    const flags = [
      record(
        're',
        boolFlag([{ when: { attribute: 'email', op: 'matches', pattern: '@x$' }, serve: { variant: 'on' } }]),
      ),
    ];
    const out = toFlagd({ flags, segments: [] });
    expect(out.document.flags).toEqual({});
    expect(out.skipped).toEqual([
      {
        key: 're',
        reason: 'rules[0].when: matches is not supported: flagd has no regular-expression operation',
      },
    ]);
  });

  it('a flag exported to flagd and imported back answers every context as before', () => {
    const attribute = fc.constantFrom('plan', 'country', 'seats', 'version', 'user.org');
    const scalar = fc.oneof(
      fc.constantFrom('pro', 'free', 'FR', 'US', 'acme'),
      fc.integer({ min: 0, max: 20 }),
      fc.boolean(),
    );
    const condition: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      c: fc.oneof(
        { depthSize: 'small' },
        fc.record({ attribute, op: fc.constant('equals'), value: scalar }),
        fc.record({ attribute, op: fc.constant('in'), values: fc.array(scalar, { maxLength: 3 }) }),
        fc.record({ attribute, op: fc.constant('contains'), value: fc.constantFrom('r', 'o', 'ac') }),
        fc.record({
          attribute,
          op: fc.constantFrom('startsWith', 'endsWith'),
          value: fc.constantFrom('p', 'e', 'ac'),
        }),
        fc.record({
          attribute,
          op: fc.constantFrom('lt', 'lte', 'gt', 'gte'),
          value: fc.integer({ min: 0, max: 20 }),
        }),
        fc.record({
          attribute,
          op: fc.constant('semver'),
          compare: fc.constantFrom('=', '!=', '<', '<=', '>', '>=', '~', '^'),
          value: fc.constantFrom('1.2.3', '2.0.0', '1.2'),
        }),
        fc.record({ attribute, op: fc.constant('exists') }),
        fc.constant({ segment: 'eu' }),
        fc.record({ not: tie('c') }),
        fc.record({ all: fc.array(tie('c'), { maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('c'), { maxLength: 3 }) }),
      ),
    })).c;
    const serve = fc.oneof(
      fc.record({ variant: fc.constantFrom('a', 'b', 'c') }),
      fc.constant({ default: true }),
      fc.integer({ min: 0, max: 10_000 }).chain((x) =>
        fc.record({
          rollout: fc.record(
            {
              split: fc.constant([
                { variant: 'a', weight: x / 100 },
                { variant: 'b', weight: (10_000 - x) / 100 },
              ]),
              by: fc.constantFrom('targetingKey', 'plan'),
              salt: fc.constantFrom('', 'k', 'seed/'),
            },
            { requiredKeys: ['split'] },
          ),
        }),
      ),
    );
    const rules = fc.array(fc.record({ when: condition, serve }, { requiredKeys: ['serve'] }), {
      maxLength: 5,
    });
    const context = fc.record(
      {
        targetingKey: fc.string({ maxLength: 6 }),
        plan: fc.constantFrom('pro', 'free', 'promo'),
        country: fc.constantFrom('FR', 'US', 'acme'),
        seats: fc.integer({ min: 0, max: 20 }),
        version: fc.constantFrom('1.2.3', '1.2.4', '2.0.0', '1.2.3-rc.1', 'x'),
        user: fc.record({ org: fc.constantFrom('acme', 'pro') }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(rules, fc.array(context, { minLength: 1, maxLength: 20 }), (rawRules, contexts) => {
        // Keep the rules valid: only the last may lack a when.
        const ordered = rawRules.filter((r, i) => 'when' in r || i === rawRules.length - 1);
        const def = {
          type: 'string',
          variants: { a: 'A', b: 'B', c: 'C' },
          defaultVariant: 'c',
          enabled: true,
          rules: ordered,
        } as unknown as FlagDefinition;
        const native = new FlagEvaluator('prod');
        native.setSegment(segments[0]!);
        const rec: FlagRecord = record('k', def);
        native.setFlag(rec);
        const { document, skipped } = toFlagd({ flags: [rec], segments });
        expect(skipped).toEqual([]);
        const back = imported(JSON.parse(JSON.stringify(document)));
        return contexts.every((ctx) => native.evaluate('k', ctx).value === back.evaluate('k', ctx).value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('feature flags - importFlagd command', () => {
  const doc = {
    flags: {
      a: {
        state: 'ENABLED',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        targeting: { if: [{ $ref: 'beta' }, 'on', null] },
      },
      b: { state: 'ENABLED', variants: { x: 'x', y: 'y' }, defaultVariant: 'x' },
    },
    $evaluators: { beta: { '==': [{ var: 'beta' }, true] } },
  };

  it('imports every flag and segment of a document in one write; unchanged ones keep their version', () => {
    const h = new Harness();
    expect(h.cmd.importFlagd('prod', doc, AUTHOR)).toEqual({
      environment: 'prod',
      version: 1,
      flags: { created: ['a', 'b'], updated: [], unchanged: [], deleted: [] },
      segments: { created: ['beta'], updated: [], unchanged: [], deleted: [] },
    });
    expect(h.q.evaluate('prod', 'a', { beta: true })).toMatchObject({
      value: true,
      reason: 'TARGETING_MATCH',
    });
    const again = { ...doc, flags: { ...doc.flags, b: { ...doc.flags.b, defaultVariant: 'y' } } };
    expect(h.cmd.importFlagd('prod', JSON.stringify(again), AUTHOR)).toMatchObject({
      version: 2,
      flags: { created: [], updated: ['b'], unchanged: ['a'] },
      segments: { unchanged: ['beta'] },
    });
    expect(h.q.listFlags('prod').map((f) => [f.key, f.version])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('with prune, deletes the flags and segments the document does not define', () => {
    const h = new Harness();
    h.cmd.setSegment('prod', 'old', { when: { attribute: 'x', op: 'exists' } }, AUTHOR);
    h.cmd.setFlag(
      'prod',
      'legacy',
      boolFlag([{ when: { segment: 'old' }, serve: { variant: 'on' } }]),
      AUTHOR,
    );
    expect(h.cmd.importFlagd('prod', doc, { ...AUTHOR, prune: true })).toMatchObject({
      flags: { created: ['a', 'b'], deleted: ['legacy'] },
      segments: { created: ['beta'], deleted: ['old'] },
    });
    expect(h.q.listFlags('prod').map((f) => f.key)).toEqual(['a', 'b']);
    expect(h.q.listSegments('prod').map((s) => s.name)).toEqual(['beta']);
  });

  it('an unsupported document is refused before replication, naming the operator and path', () => {
    const h = new Harness();
    const bad = {
      flags: {
        f: {
          state: 'ENABLED',
          variants: { on: true },
          defaultVariant: 'on',
          targeting: { substr: [{ var: 'id' }, 1] },
        },
      },
    };
    let err: unknown;
    try {
      h.cmd.importFlagd('prod', bad, AUTHOR);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CommandRejectedError);
    expect(flagErrorName(err)).toBe('UnsupportedTargetingError');
    expect((err as CommandRejectedError).reason).toBe(
      'UnsupportedTargetingError: flags.f.targeting: substr is not supported',
    );
    expect(h.index).toBe(0);
  });

  it('the exportFlagd query gives a document that imports into another environment unchanged', () => {
    const h = new Harness();
    h.cmd.importFlagd('staging', doc, AUTHOR);
    const { document } = h.q.exportFlagd('staging');
    h.cmd.importFlagd('prod', document, AUTHOR);
    const strip = (fs: FlagRecord[]) => fs.map((f) => [f.key, f.definition]);
    expect(strip(h.q.listFlags('prod'))).toEqual(strip(h.q.listFlags('staging')));
  });
});
