// Same answer everywhere: for many random contexts, the client SDK (a
// snapshot, then the committed stream) evaluates every flag as the replicas'
// evaluate query does, and as the replicas and a new client do after the
// whole group restarted (from snapshots and the log after them: the replicas
// snapshot every few commands). The flags use every operator, segments,
// rollouts by the targeting key and by another attribute, and object
// variants; random writes change them while the client follows.
import fc from 'fast-check';
import {
  FlagClient,
  type EvaluationContext,
  type EvaluationDetails,
  type FlagDefinition,
  type SegmentDefinition,
} from '../src/index';
import { Group } from './support/group';
import { AUTHOR } from './support/harness';

jest.setTimeout(60_000);

const RUNS = Number(process.env.FEATURE_FLAGS_SAME_ANSWER_RUNS ?? 400);

const split = (on: number, by?: string): FlagDefinition['rules'] => [
  {
    serve: {
      rollout: {
        split: [
          { variant: 'on', weight: on },
          { variant: 'off', weight: 100 - on },
        ],
        ...(by ? { by } : {}),
      },
    },
  },
];

const bool = (rules: FlagDefinition['rules'], enabled = true): FlagDefinition => ({
  type: 'boolean',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  enabled,
  rules,
});

const SEGMENTS: Record<string, SegmentDefinition> = {
  staff: { when: { attribute: 'email', op: 'endsWith', value: '@acme.io' } },
  modern: {
    when: {
      all: [
        { attribute: 'app.version', op: 'semver', compare: '>=', value: '2.1.0' },
        { not: { attribute: 'country', op: 'in', values: ['KP', 'IR'] } },
      ],
    },
  },
};

const FLAGS: Record<string, FlagDefinition> = {
  checkout: bool([
    { when: { segment: 'staff' }, serve: { variant: 'on' } },
    { when: { attribute: 'plan', op: 'equals', value: 'free' }, serve: { default: true } },
    ...split(10)!,
  ]),
  'by-org': bool(split(35, 'user.org')),
  banner: {
    type: 'string',
    variants: { red: 'red', blue: 'blue', green: 'green' },
    defaultVariant: 'blue',
    enabled: true,
    rules: [
      {
        when: { attribute: 'name', op: 'matches', pattern: '^[a-c].*z$', flags: 'i' },
        serve: { variant: 'red' },
      },
      { when: { attribute: 'tags', op: 'contains', value: 'beta' }, serve: { variant: 'green' } },
      {
        when: { any: [{ attribute: 'name', op: 'startsWith', value: 'x' }, { segment: 'modern' }] },
        serve: { variant: 'red' },
      },
    ],
  },
  limit: {
    type: 'number',
    variants: { low: 10, mid: 50, high: 100 },
    defaultVariant: 'mid',
    enabled: true,
    rules: [
      { when: { attribute: 'age', op: 'lt', value: 18 }, serve: { variant: 'low' } },
      {
        when: {
          all: [
            { attribute: 'age', op: 'gte', value: 65 },
            { attribute: 'vip', op: 'exists' },
          ],
        },
        serve: { variant: 'high' },
      },
      {
        serve: {
          rollout: {
            split: [
              { variant: 'low', weight: 33.33 },
              { variant: 'mid', weight: 33.33 },
              { variant: 'high', weight: 33.34 },
            ],
          },
        },
      },
    ],
  },
  layout: {
    type: 'object',
    variants: { grid: { cols: 3, dense: true }, list: { cols: 1, items: ['a', 'b'] } },
    defaultVariant: 'list',
    enabled: true,
    rules: [{ when: { segment: 'modern' }, serve: { variant: 'grid' } }],
  },
};

const KEYS = [...Object.keys(FLAGS), 'absent'];

/** Random writes: rollout percentages, kill switches, a segment redefined, a flag deleted and re-created. */
const writes = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('rollout' as const), on: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ kind: fc.constant('kill' as const), enabled: fc.boolean() }),
    fc.record({ kind: fc.constant('staff' as const), domain: fc.constantFrom('@acme.io', '@x.io', '.io') }),
    fc.record({ kind: fc.constant('recreate' as const) }),
  ),
  { minLength: 20, maxLength: 20 },
);

const context: fc.Arbitrary<EvaluationContext> = fc.record(
  {
    targetingKey: fc.oneof(fc.string(), fc.uuid(), fc.integer().map(String)),
    email: fc.oneof(fc.emailAddress(), fc.constantFrom('ann@acme.io', 'bob@x.io', 'c@acme.io.evil')),
    plan: fc.constantFrom('free', 'pro', 'team'),
    age: fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constant('42')),
    vip: fc.oneof(fc.boolean(), fc.constant(null)),
    country: fc.constantFrom('FR', 'DE', 'KP', 'US'),
    name: fc.oneof(fc.string(), fc.constantFrom('abcz', 'Buzz', 'xavier', 'czz')),
    tags: fc.array(fc.constantFrom('beta', 'alpha', 'gamma'), { maxLength: 3 }),
    app: fc.record({ version: fc.constantFrom('2.1.0', '2.0.9', '3.0.0-rc.1', 'v2.2', '10.0.0', 'junk') }),
    user: fc.record({ org: fc.oneof(fc.string(), fc.integer()) }),
  },
  { requiredKeys: [] },
);

describe('feature flags - the same answer in the SDK, a replica query and after a restart', () => {
  const group = new Group(8); // a snapshot every 8 commands: the restart loads one, then the log after it
  const clients: FlagClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await group.stop();
  });

  it(`${RUNS} random contexts × every flag: SDK = replica query = after a restart`, async () => {
    await group.start();
    for (const [name, def] of Object.entries(SEGMENTS))
      await group.commands.setSegment('prod', name, def, AUTHOR);
    await group.commands.setFlag('prod', 'checkout', FLAGS.checkout!, AUTHOR);
    const client = await FlagClient.open({ source: group.source('n2'), environment: 'prod', retryMs: 10 });
    clients.push(client);
    let last = 0;
    for (const [key, def] of Object.entries(FLAGS))
      last = (await group.commands.setFlag('prod', key, def, AUTHOR)).version;
    const [plan] = fc.sample(writes, { seed: 12, numRuns: 1 });
    for (const w of plan!) {
      if (w.kind === 'rollout')
        last = (
          await group.commands.setFlag(
            'prod',
            'checkout',
            bool([FLAGS.checkout!.rules![0]!, FLAGS.checkout!.rules![1]!, ...split(w.on)!]),
            AUTHOR,
          )
        ).version;
      else if (w.kind === 'kill')
        last = (await group.commands.setEnabled('prod', 'by-org', w.enabled, AUTHOR)).version;
      else if (w.kind === 'staff')
        last = (
          await group.commands.setSegment(
            'prod',
            'staff',
            { when: { attribute: 'email', op: 'endsWith', value: w.domain } },
            AUTHOR,
          )
        ).version;
      else {
        await group.commands.deleteFlag('prod', 'layout', AUTHOR);
        last = (await group.commands.setFlag('prod', 'layout', FLAGS.layout!, AUTHOR)).version;
      }
    }
    await client.waitFor(last);
    expect(client.appliedIndex).toBe(last);
    expect(client.snapshot()).toEqual(await group.query('n1', 'environmentSnapshot', ['prod']));

    const seen: [EvaluationContext, EvaluationDetails[]][] = [];
    await fc.assert(
      fc.asyncProperty(context, async (ctx) => {
        const local = KEYS.map((k) => client.evaluate(k, ctx));
        const remote = await Promise.all(
          KEYS.map((k) => group.query(k.length % 2 ? 'n1' : 'n3', 'evaluate', ['prod', k, ctx])),
        );
        expect(remote).toEqual(local);
        seen.push([ctx, local]);
      }),
      { numRuns: RUNS, seed: 7 },
    );
    // The answers were not all alike: the contexts reached rules, rollouts and errors.
    const reasons = new Set(seen.flatMap(([, ds]) => ds.map((d) => d.reason)));
    for (const r of ['TARGETING_MATCH', 'SPLIT', 'DEFAULT', 'ERROR']) expect(reasons).toContain(r);

    // The whole group restarts (snapshot + log); the same contexts give the same answers there and in a new client.
    await client.close();
    await group.stop();
    await group.start();
    const after = await FlagClient.open({ source: group.source('n3'), environment: 'prod' });
    clients.push(after);
    expect(after.appliedIndex).toBeGreaterThanOrEqual(last);
    for (const [ctx, before] of seen) {
      expect(KEYS.map((k) => after.evaluate(k, ctx))).toEqual(before);
      expect(await Promise.all(KEYS.map((k) => group.query('n2', 'evaluate', ['prod', k, ctx])))).toEqual(
        before,
      );
    }
  });
});
