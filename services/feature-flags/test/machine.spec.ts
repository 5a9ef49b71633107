import { CommandFailedError, CommandRejectedError, ConfigError } from '@raftline/core';
import { SimCluster } from '@raftline/testing';
import {
  FeatureFlags,
  FlagEvaluator,
  flagErrorName,
  type FlagDefinition,
  type HistoryEntry,
  type WriteResult,
} from '../src/index';
import { AUTHOR, Harness, boolFlag, rollout } from './support/harness';

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the command to fail');
}

describe('feature flags - versioned writes', () => {
  it('a write returns its version, the log index of the command, and the version it replaced', () => {
    const h = new Harness();
    expect(h.cmd.setFlag('prod', 'checkout', boolFlag(), AUTHOR)).toEqual({
      environment: 'prod',
      key: 'checkout',
      version: 1,
      previousVersion: 0,
    });
    h.cmd.setFlag('prod', 'other', boolFlag(), AUTHOR);
    expect(h.cmd.setFlag('prod', 'checkout', rollout(10), { ...AUTHOR, expectedVersion: 1 })).toMatchObject({
      version: 3,
      previousVersion: 1,
    });
    expect(h.q.getFlag('prod', 'checkout')).toMatchObject({ version: 3, updatedBy: 'alice' });
  });

  it('a write whose expectedVersion moved fails with VersionConflictError and changes nothing', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'checkout', boolFlag(), AUTHOR);
    h.cmd.setFlag('prod', 'checkout', rollout(10), { author: 'bob', expectedVersion: 1 });
    const err = failure(() =>
      h.cmd.setFlag('prod', 'checkout', rollout(50), { ...AUTHOR, expectedVersion: 1 }),
    );
    expect(err).toBeInstanceOf(CommandFailedError);
    expect(flagErrorName(err)).toBe('VersionConflictError');
    expect((err as CommandFailedError).errorName).toBe('VersionConflictError');
    expect(err.message).toBe(
      'command setFlag failed while applying: VersionConflictError: ' +
        'flag prod/checkout is at version 2, not 1: someone else changed it first',
    );
    expect(h.q.getFlag('prod', 'checkout')).toMatchObject({
      version: 2,
      definition: rollout(10),
      updatedBy: 'bob',
    });
    expect(h.q.history('prod', 'checkout').map((e: HistoryEntry) => e.version)).toEqual([1, 2]);
  });

  it("flagErrorName reads the flag-store error's name from what a remote client rebuilds, and nothing else", () => {
    expect(
      flagErrorName(
        new CommandFailedError('setFlag', 'flag p/k is at version 2, not 1', 'VersionConflictError'),
      ),
    ).toBe('VersionConflictError');
    expect(
      flagErrorName(new CommandRejectedError('setFlag', 'InvalidDefinitionError: flag p/k is invalid: …')),
    ).toBe('InvalidDefinitionError');
    expect(flagErrorName(new CommandFailedError('setFlag', 'boom', 'TypeError'))).toBeUndefined();
    expect(flagErrorName(new CommandRejectedError('setFlag', 'SessionExpiredError: nope'))).toBeUndefined();
    expect(flagErrorName(new Error('VersionConflictError: not a command error'))).toBeUndefined();
  });

  it('expectedVersion 0 creates a flag only if it does not exist', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'k', boolFlag(), { ...AUTHOR, expectedVersion: 0 });
    expect(
      flagErrorName(failure(() => h.cmd.setFlag('prod', 'k', boolFlag(), { ...AUTHOR, expectedVersion: 0 }))),
    ).toBe('VersionConflictError');
  });

  it('a write without expectedVersion applies whatever the current version', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'k', boolFlag(), AUTHOR);
    h.cmd.setFlag('prod', 'k', rollout(5), AUTHOR);
    expect(h.q.getFlag('prod', 'k')).toMatchObject({ version: 2 });
  });

  it('versions strictly increase across a delete and a re-creation, so a stale version never matches again', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'k', boolFlag(), AUTHOR);
    expect(h.cmd.deleteFlag('prod', 'k', { ...AUTHOR, expectedVersion: 1 })).toMatchObject({
      version: 2,
      previousVersion: 1,
    });
    expect(h.q.getFlag('prod', 'k')).toBeNull();
    h.cmd.setFlag('prod', 'k', boolFlag(), { ...AUTHOR, expectedVersion: 0 });
    expect(
      flagErrorName(failure(() => h.cmd.deleteFlag('prod', 'k', { ...AUTHOR, expectedVersion: 1 }))),
    ).toBe('VersionConflictError');
    expect(h.q.history('prod', 'k').map((e: HistoryEntry) => [e.version, e.action])).toEqual([
      [1, 'created'],
      [2, 'deleted'],
      [3, 'created'],
    ]);
  });

  it('deleting a flag that does not exist fails with FlagNotFoundError', () => {
    const h = new Harness();
    expect(flagErrorName(failure(() => h.cmd.deleteFlag('prod', 'nope', AUTHOR)))).toBe('FlagNotFoundError');
  });

  it('setEnabled is the kill switch: it keeps the definition and serves the default variant', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'k', rollout(100), AUTHOR);
    expect(h.q.evaluate('prod', 'k', { targetingKey: 'u' })).toMatchObject({ value: true });
    h.cmd.setEnabled('prod', 'k', false, { author: 'oncall', reason: 'incident 42' });
    expect(h.q.evaluate('prod', 'k', { targetingKey: 'u' })).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
    expect(h.q.getFlag('prod', 'k')!.definition).toEqual({ ...rollout(100), enabled: false });
    expect(h.q.history('prod', 'k')[1]).toMatchObject({
      author: 'oncall',
      reason: 'incident 42',
      action: 'updated',
      changes: [{ path: 'enabled', before: true, after: false }],
    });
  });

  it('environments are independent', () => {
    const h = new Harness();
    h.cmd.setFlag('staging', 'k', rollout(100), AUTHOR);
    h.cmd.setFlag('prod', 'k', rollout(0), AUTHOR);
    expect(h.q.evaluate('staging', 'k', { targetingKey: 'u' }).value).toBe(true);
    expect(h.q.evaluate('prod', 'k', { targetingKey: 'u' }).value).toBe(false);
    expect(h.q.evaluate('dev', 'k', {})).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' });
    expect(h.q.listEnvironments()).toEqual(['prod', 'staging']);
  });
});

describe('feature flags - validation before replication', () => {
  function rejection(h: Harness, ...args: unknown[]): CommandRejectedError {
    const err = failure(() => h.apply('setFlag', args));
    expect(err).toBeInstanceOf(CommandRejectedError);
    expect(h.index).toBe(0); // nothing was applied
    return err as CommandRejectedError;
  }

  it('a rollout not summing to 100 is refused, naming the rule', () => {
    const bad: FlagDefinition = boolFlag([
      {
        serve: {
          rollout: {
            split: [
              { variant: 'on', weight: 10 },
              { variant: 'off', weight: 80 },
            ],
          },
        },
      },
    ]);
    const err = rejection(new Harness(), 'prod', 'k', bad, AUTHOR);
    expect(flagErrorName(err)).toBe('InvalidDefinitionError');
    expect(err.reason).toContain('rules[0].serve.rollout.split: weights sum to 90 %, not 100 %');
  });

  it('a variant of another type than the flag is refused', () => {
    const err = rejection(
      new Harness(),
      'prod',
      'k',
      { ...boolFlag(), variants: { on: true, off: 'no' } },
      AUTHOR,
    );
    expect(err.reason).toContain("variants.off: a boolean flag's variant must be true or false");
  });

  it('an unknown segment is refused by a leader that has applied a command of its term', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'other', boolFlag(), AUTHOR);
    const err = failure(() =>
      h.apply('setFlag', [
        'prod',
        'k',
        boolFlag([{ when: { segment: 'beta' }, serve: { variant: 'on' } }]),
        AUTHOR,
      ]),
    );
    expect(err).toBeInstanceOf(CommandRejectedError);
    expect((err as CommandRejectedError).reason).toContain('rules[0].when.segment: unknown segment beta');
  });

  it('a segment acknowledged just before is never refused as unknown, even by a leader elected a moment ago', async () => {
    // Validation runs only on a leader that has applied an entry of its term (the framework's), so
    // the flag store needs no guard of its own: a new leader holds the command until it caught up.
    const def = boolFlag([{ when: { segment: 'beta' }, serve: { variant: 'on' } }]);
    for (let seed = 1; seed <= 20; seed++) {
      const c = await SimCluster.create({ nodes: 3, seed, stateMachine: () => new FeatureFlags() });
      await c.advance(1000);
      const segment = { when: { attribute: 'plan', op: 'equals', value: 'beta' } };
      await c.propose({ name: 'setSegment', args: ['prod', 'beta', segment, AUTHOR] });
      c.crash(c.leader()!); // the next leader is elected with the segment in its log, maybe not yet applied
      const w = (await c.propose({
        name: 'setFlag',
        args: ['prod', `k${seed}`, def, AUTHOR],
      })) as WriteResult;
      expect(w.version).toBeGreaterThan(0);
      await c.stop();
    }
  });

  it('apply still refuses a segment that is gone (a command in flight deleted it): nothing is written', () => {
    const h = new Harness();
    const def = boolFlag([{ when: { segment: 'beta' }, serve: { variant: 'on' } }]);
    const result = h.host.apply(
      { name: 'setFlag', args: ['prod', 'k', def, AUTHOR], time: h.time },
      { index: ++h.index, term: 1, time: h.time },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBeInstanceOf(CommandFailedError);
    expect(!result.ok && (result.error as CommandFailedError).reason).toContain('unknown segment beta');
    expect(h.q.getFlag('prod', 'k')).toBeNull();
  });

  it('a rule that cannot be evaluated is refused with every problem named by its field', () => {
    const err = rejection(
      new Harness(),
      'prod',
      'k',
      {
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'maybe',
        enabled: 'yes',
        rules: [
          { when: { attribute: 'email', op: 'like', value: '%@x' }, serve: { variant: 'on' } },
          { when: { attribute: 'v', op: 'semver', compare: '>=', value: 'one' }, serve: { variant: 'on' } },
          { when: { attribute: 'email', op: 'matches', pattern: '(a)\\1' }, serve: { variant: 'on' } },
          { when: { attribute: 'n', op: 'gt', value: '5' }, serve: { variant: 'nope' } },
          { serve: { variant: 'on' }, condition: {} },
          { serve: { variant: 'off' } },
        ],
      },
      AUTHOR,
    );
    for (const part of [
      'defaultVariant: "maybe" is not one of the variants (on, off)',
      'enabled: must be true or false',
      'rules[0].when.op: unknown operator like',
      'rules[1].when.value: must be a semantic version',
      'rules[2].when.pattern: pattern "(a)\\\\1" at 3: backreferences (\\1) are not supported',
      'rules[3].when.value: must be a finite number',
      'rules[3].serve.variant: "nope" is not one of the variants',
      'rules[4].condition: unknown field',
      'rules[5]: unreachable: rules[4] has no when and serves every context',
    ]) {
      expect(err.reason).toContain(part);
    }
  });

  it('malformed names and options are refused before replication', () => {
    const h = new Harness();
    expect(rejection(h, 'prod env', 'k', boolFlag(), AUTHOR).reason).toContain(
      'environment "prod env" may hold only',
    );
    expect(rejection(h, 'prod', 'k', boolFlag(), {}).reason).toContain(
      'options.author: must be a non-empty string',
    );
    expect(rejection(h, 'prod', 'k', boolFlag(), { ...AUTHOR, expectedVersion: -1 }).reason).toContain(
      'options.expectedVersion: must be a non-negative integer',
    );
    expect(rejection(h, 'prod', 'k', boolFlag()).reason).toContain('expected at least 4 arguments');
  });

  it('a definition valid at validation but not when applied fails there and changes nothing', () => {
    const h = new Harness();
    h.cmd.setSegment('prod', 'beta', { when: { attribute: 'beta', op: 'equals', value: true } }, AUTHOR);
    const def = boolFlag([{ when: { segment: 'beta' }, serve: { variant: 'on' } }]);
    h.host.validate({ name: 'setFlag', args: ['prod', 'k', def, AUTHOR] });
    h.cmd.deleteSegment('prod', 'beta', AUTHOR);
    const result = h.host.apply(
      { name: 'setFlag', args: ['prod', 'k', def, AUTHOR], time: h.time },
      { index: ++h.index, term: 1, time: h.time },
    );
    expect(result.ok).toBe(false);
    expect(flagErrorName(!result.ok && result.error)).toBe('InvalidDefinitionError');
    expect(h.q.getFlag('prod', 'k')).toBeNull();
  });

  it('unknown store options are refused', () => {
    expect(() => new Harness({ historyPerKey: 10, keep: 3 } as never)).toThrow(ConfigError);
    expect(() => new Harness({ historyPerKey: -1 })).toThrow(ConfigError);
  });
});

describe('feature flags - segments', () => {
  it('a segment in use cannot be deleted; once no flag uses it, it can', () => {
    const h = new Harness();
    h.cmd.setSegment(
      'prod',
      'staff',
      { when: { attribute: 'email', op: 'endsWith', value: '@acme.io' } },
      AUTHOR,
    );
    h.cmd.setFlag('prod', 'a', boolFlag([{ when: { segment: 'staff' }, serve: { variant: 'on' } }]), AUTHOR);
    h.cmd.setFlag(
      'prod',
      'b',
      boolFlag([{ when: { not: { segment: 'staff' } }, serve: { variant: 'on' } }]),
      AUTHOR,
    );
    const err = failure(() => h.cmd.deleteSegment('prod', 'staff', AUTHOR));
    expect(flagErrorName(err)).toBe('SegmentInUseError');
    expect((err as CommandFailedError).reason).toContain('used by a, b');
    h.cmd.setFlag('prod', 'a', boolFlag(), AUTHOR);
    h.cmd.deleteFlag('prod', 'b', AUTHOR);
    h.cmd.deleteSegment('prod', 'staff', AUTHOR);
    expect(h.q.listSegments('prod')).toEqual([]);
  });

  it('segments are versioned like flags: a stale expectedVersion is refused', () => {
    const h = new Harness();
    h.cmd.setSegment('prod', 's', { when: { attribute: 'a', op: 'exists' } }, AUTHOR);
    h.cmd.setSegment(
      'prod',
      's',
      { when: { attribute: 'b', op: 'exists' } },
      { ...AUTHOR, expectedVersion: 1 },
    );
    const err = failure(() =>
      h.cmd.setSegment(
        'prod',
        's',
        { when: { attribute: 'c', op: 'exists' } },
        { ...AUTHOR, expectedVersion: 1 },
      ),
    );
    expect(flagErrorName(err)).toBe('VersionConflictError');
    expect((err as CommandFailedError).reason).toMatch(/^segment prod\/s is at version 2, not 1/);
    expect(h.q.history('prod', 's', 'segment').map((e: HistoryEntry) => e.changes)).toEqual([
      [{ path: '', after: { when: { attribute: 'a', op: 'exists' } } }],
      [{ path: 'when.attribute', before: 'a', after: 'b' }],
    ]);
  });

  it('a segment cannot use another segment', () => {
    const h = new Harness();
    const err = failure(() => h.cmd.setSegment('prod', 's', { when: { segment: 't' } }, AUTHOR));
    expect((err as CommandRejectedError).reason).toContain(
      'when.segment: a segment cannot use another segment (t)',
    );
  });
});

describe('feature flags - history', () => {
  it('history keeps who, when (replicated time), why and the changed fields of every write', () => {
    const h = new Harness();
    h.at(5_000).cmd.setFlag('prod', 'k', rollout(10), { author: 'alice', reason: 'start the rollout' });
    h.at(9_000).cmd.setFlag('prod', 'k', rollout(20), {
      author: 'bob',
      reason: 'no errors',
      expectedVersion: 1,
    });
    expect(h.q.history('prod', 'k')).toEqual([
      {
        version: 1,
        time: 5_000,
        author: 'alice',
        reason: 'start the rollout',
        action: 'created',
        changes: [{ path: '', after: rollout(10) }],
      },
      {
        version: 2,
        time: 9_000,
        author: 'bob',
        reason: 'no errors',
        action: 'updated',
        changes: [
          { path: 'rules[0].serve.rollout.split[0].weight', before: 10, after: 20 },
          { path: 'rules[0].serve.rollout.split[1].weight', before: 90, after: 80 },
        ],
      },
    ]);
    expect(h.q.getFlag('prod', 'k')).toMatchObject({ createdAt: 5_000, updatedAt: 9_000 });
  });

  it('each flag keeps at most historyPerKey entries, the oldest dropped first', () => {
    const h = new Harness({ historyPerKey: 3 });
    for (let p = 1; p <= 5; p++) h.cmd.setFlag('prod', 'k', rollout(p), AUTHOR);
    expect(h.q.history('prod', 'k').map((e: HistoryEntry) => e.version)).toEqual([3, 4, 5]);
  });

  it('deleted flags keep their history up to deletedHistories per environment, the longest deleted dropped first', () => {
    const h = new Harness({ deletedHistories: 2 });
    for (const k of ['a', 'b', 'c']) h.cmd.setFlag('prod', k, boolFlag(), AUTHOR);
    for (const k of ['a', 'b', 'c']) h.cmd.deleteFlag('prod', k, AUTHOR);
    expect(h.q.history('prod', 'a')).toEqual([]);
    expect(h.q.history('prod', 'b').map((e: HistoryEntry) => e.action)).toEqual(['created', 'deleted']);
    expect(h.q.history('prod', 'c').map((e: HistoryEntry) => e.action)).toEqual(['created', 'deleted']);
    h.cmd.setFlag('prod', 'b', boolFlag(), AUTHOR); // re-created: its history is a live flag's again
    h.cmd.setFlag('prod', 'd', boolFlag(), AUTHOR);
    h.cmd.deleteFlag('prod', 'd', AUTHOR);
    expect(h.q.history('prod', 'b')).toHaveLength(3);
    expect(h.q.history('prod', 'c')).toHaveLength(2);
  });
});

describe('feature flags - snapshots and queries', () => {
  function populated(): Harness {
    const h = new Harness();
    h.cmd.setSegment(
      'prod',
      'eu',
      { when: { attribute: 'country', op: 'in', values: ['FR', 'DE', 'IT'] } },
      AUTHOR,
    );
    h.cmd.setFlag(
      'prod',
      'banner',
      {
        type: 'string',
        variants: { old: 'old', new: 'new', eu: 'new-eu' },
        defaultVariant: 'old',
        enabled: true,
        rules: [
          { when: { segment: 'eu' }, serve: { variant: 'eu' } },
          {
            serve: {
              rollout: {
                split: [
                  { variant: 'new', weight: 25 },
                  { variant: 'old', weight: 75 },
                ],
              },
            },
          },
        ],
      },
      AUTHOR,
    );
    h.cmd.setFlag('prod', 'dark-mode', rollout(40), AUTHOR);
    return h;
  }

  const contexts = Array.from({ length: 300 }, (_, i) => ({
    targetingKey: `u${i}`,
    country: ['FR', 'US', 'JP'][i % 3]!,
  }));

  it('an evaluator built from the environment snapshot answers as the replica does', () => {
    const h = populated();
    const snapshot = h.q.environmentSnapshot('prod');
    expect(snapshot).toMatchObject({ environment: 'prod', appliedIndex: 3 });
    expect(snapshot.flags.map((f) => f.key)).toEqual(['banner', 'dark-mode']);
    const sdk = FlagEvaluator.fromSnapshot(snapshot);
    expect(sdk.appliedIndex).toBe(3);
    for (const key of ['banner', 'dark-mode'])
      for (const ctx of contexts) expect(sdk.evaluate(key, ctx)).toEqual(h.q.evaluate('prod', key, ctx));
  });

  it('a replica restored from a snapshot answers as before, and holds the same state', () => {
    const h = populated();
    const copy = h.restored();
    for (const key of ['banner', 'dark-mode'])
      for (const ctx of contexts)
        expect(copy.q.evaluate('prod', key, ctx)).toEqual(h.q.evaluate('prod', key, ctx));
    expect(copy.host.digest()).toBe(h.host.digest());
    // It goes on writing from there as the original does.
    copy.cmd.setFlag('prod', 'dark-mode', rollout(50), { ...AUTHOR, expectedVersion: 3 });
    h.cmd.setFlag('prod', 'dark-mode', rollout(50), { ...AUTHOR, expectedVersion: 3 });
    expect(copy.host.digest()).toBe(h.host.digest());
    expect(copy.q.history('prod', 'dark-mode')).toEqual(h.q.history('prod', 'dark-mode'));
  });

  it('records read through a query are frozen: a caller cannot change the store', () => {
    const h = populated();
    const f = h.q.getFlag('prod', 'dark-mode')!;
    expect(Object.isFrozen(f)).toBe(true);
    expect(Object.isFrozen(f.definition.rules)).toBe(true);
  });
});
