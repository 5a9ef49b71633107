// The client SDK on an in-process group (test/support/group.ts): a snapshot,
// then the committed stream; read-your-writes with waitFor; change events;
// a stream that breaks or cannot continue; close.
import { ConfigError } from '@raftline/core';
import { CommittedStreamError } from '@raftline/transport-nats';
import {
  EnvironmentView,
  FlagClient,
  FlagClientClosedError,
  flagErrorName,
  ViewOutOfDateError,
  WaitTimeoutError,
  type CommittedChange,
  type FlagChange,
} from '../src/index';
import { Group } from './support/group';
import { AUTHOR, boolFlag, rollout } from './support/harness';

jest.setTimeout(30_000);

const staff = boolFlag([{ when: { segment: 'staff' }, serve: { variant: 'on' } }]);

describe('feature flags - the client SDK', () => {
  const group = new Group();
  const clients: FlagClient[] = [];
  const open = async (id = 'n2', wrap = {}): Promise<FlagClient> => {
    const c = await FlagClient.open({ source: group.source(id, wrap), environment: 'prod', retryMs: 10 });
    clients.push(c);
    return c;
  };

  beforeAll(() => group.start());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => group.stop());

  it('evaluates a snapshot, then every committed change after it: read-your-writes with waitFor(version)', async () => {
    const before = await group.commands.setFlag('prod', 'a', rollout(100), AUTHOR);
    const client = await open();
    expect(client.appliedIndex).toBeGreaterThanOrEqual(before.version);
    expect(client.evaluate('a', { targetingKey: 'u' }).value).toBe(true);

    const changes: FlagChange[] = [];
    client.on('change', (c) => changes.push(c));
    const w = await client.setFlag('a', rollout(0), { ...AUTHOR, expectedVersion: before.version });
    expect(await client.waitFor(w.version)).toBeGreaterThanOrEqual(w.version);
    expect(client.appliedIndex).toBe(w.version);
    expect(client.evaluate('a', { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'SPLIT' });
    expect(client.evaluate('a', {}).flagMetadata).toMatchObject({ version: w.version, environment: 'prod' });
    expect(changes).toEqual([
      { environment: 'prod', index: w.version, cause: 'setFlag', flags: ['a'], segments: [] },
    ]);
    // The same answer as the replica's evaluate query, and the same record.
    expect(await group.query('n3', 'evaluate', ['prod', 'a', { targetingKey: 'u' }])).toEqual(
      client.evaluate('a', { targetingKey: 'u' }),
    );
    expect(client.getFlag('a')).toEqual(await group.query('n1', 'getFlag', ['prod', 'a']));
  });

  it('a write refused by compare-and-set reaches the caller and changes nothing locally', async () => {
    const client = await open();
    const v = await client.setFlag('cas', rollout(50), { ...AUTHOR, expectedVersion: 0 });
    const refused = await client
      .setFlag('cas', rollout(60), { ...AUTHOR, expectedVersion: 0 })
      .catch((e) => e);
    expect(flagErrorName(refused)).toBe('VersionConflictError');
    const marker = await client.setFlag('after', rollout(1), AUTHOR);
    await client.waitFor(marker.version);
    expect(client.getFlag('cas')?.version).toBe(v.version);
  });

  it('a segment change reports the flags that use it; other environments are not this client’s', async () => {
    const client = await open('n1');
    await client.setSegment(
      'staff',
      { when: { attribute: 'email', op: 'endsWith', value: '@acme.io' } },
      AUTHOR,
    );
    const f = await client.setFlag('beta', staff, AUTHOR);
    await client.waitFor(f.version);
    expect(client.evaluate('beta', { email: 'a@acme.io' }).value).toBe(true);
    const changes: FlagChange[] = [];
    client.on('change', (c) => changes.push(c));
    const s = await client.setSegment(
      'staff',
      { when: { attribute: 'email', op: 'endsWith', value: '@x.io' } },
      AUTHOR,
    );
    const other = await group.commands.setFlag('dev', 'beta', rollout(100), AUTHOR);
    await client.waitFor(other.version);
    expect(client.evaluate('beta', { email: 'a@acme.io' }).value).toBe(false);
    expect(changes).toEqual([
      { environment: 'prod', index: s.version, cause: 'setSegment', flags: ['beta'], segments: ['staff'] },
    ]);
    expect(client.appliedIndex).toBe(other.version);
  });

  it('a flagd import and the kill switch apply as on the replicas', async () => {
    const client = await open('n3');
    const doc = {
      flags: {
        color: { state: 'ENABLED', variants: { red: 'red', blue: 'blue' }, defaultVariant: 'red' },
      },
    };
    const imported = await client.importFlagd(doc, AUTHOR);
    await client.waitFor(imported.version);
    expect(client.evaluate('color', {}, 'string')).toMatchObject({ value: 'red', reason: 'STATIC' });
    const off = await client.setEnabled('color', false, AUTHOR);
    await client.waitFor(off.version);
    expect(client.evaluate('color', {}).reason).toBe('DISABLED');
    expect(client.snapshot()).toEqual(await group.query('n2', 'environmentSnapshot', ['prod']));
  });

  it('waitFor resolves at once for an index held, and fails with WaitTimeoutError or FlagClientClosedError', async () => {
    const client = await open();
    await expect(client.waitFor(1)).resolves.toBe(client.appliedIndex);
    await expect(client.waitFor(client.appliedIndex + 1000, { timeoutMs: 50 })).rejects.toBeInstanceOf(
      WaitTimeoutError,
    );
    const pending = client.waitFor(client.appliedIndex + 1000);
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(FlagClientClosedError);
    await expect(client.waitFor(client.appliedIndex + 1)).rejects.toBeInstanceOf(FlagClientClosedError);
    expect(() => client.setFlag('x', rollout(1), AUTHOR)).toThrow(FlagClientClosedError);
    expect(client.evaluate('a', { targetingKey: 'u' }).flagKey).toBe('a'); // still answers from the last state
  });

  it('a stream that breaks is read again from where it stopped; nothing is skipped or applied twice', async () => {
    let calls = 0;
    const froms: number[] = [];
    const errors: Error[] = [];
    const client = await open('n2', {
      committed: async function* (fromIndex: number, signal: AbortSignal) {
        froms.push(fromIndex);
        let n = 0;
        for await (const c of group.replica('n2').committed({ fromIndex, outcomes: 'all', signal })) {
          yield c;
          if (++n === 2 && calls++ < 3) throw new Error('connection lost');
        }
      },
    });
    client.on('error', (e) => errors.push(e));
    const versions: number[] = [];
    for (let i = 0; i < 8; i++)
      versions.push((await client.setFlag('loop', rollout(i * 10), AUTHOR)).version);
    await client.waitFor(versions.at(-1)!);
    expect(client.getFlag('loop')?.definition).toEqual(
      ((await group.query('n1', 'getFlag', ['prod', 'loop'])) as { definition: unknown }).definition,
    );
    expect(errors.map((e) => e.message)).toEqual(['connection lost', 'connection lost', 'connection lost']);
    expect(froms.length).toBe(4);
    for (let i = 1; i < froms.length; i++) expect(froms[i]).toBeGreaterThan(froms[i - 1]!);
  });

  it('a stream that cannot continue (its messages removed) makes the client reload a snapshot', async () => {
    let removedUpTo = 0;
    const client = await open('n2', {
      committed: async function* (fromIndex: number, signal: AbortSignal) {
        if (removedUpTo === 0) {
          // A write lands, then its message is gone from the stream: only a snapshot holds it.
          removedUpTo = (await group.commands.setFlag('prod', 'gap', rollout(100), AUTHOR)).version;
          throw new CommittedStreamError('s', 'messages before seq 9 were removed (a limit or a delete)');
        }
        for await (const c of group.replica('n2').committed({ fromIndex, outcomes: 'all', signal }))
          if (c.index > removedUpTo) yield c;
      },
    });
    const changes: FlagChange[] = [];
    client.on('change', (c) => changes.push(c));
    const after = await group.commands.setFlag('prod', 'after-gap', rollout(100), AUTHOR);
    await client.waitFor(after.version);
    expect(client.getFlag('gap')?.version).toBe(removedUpTo);
    expect(client.evaluate('gap', { targetingKey: 'k' }).value).toBe(true);
    expect(changes[0]?.cause).toBe('snapshot');
    expect(changes[0]?.flags).toContain('gap');
  });

  it('waitFor an index that never shows on the stream (not a command) resolves by reloading a snapshot', async () => {
    const client = await FlagClient.open({
      source: group.source('n1', {
        // A stream that brings nothing until the client closes.
        committed: (_from: number, signal: AbortSignal) => ({
          [Symbol.asyncIterator]: () => ({
            next: () =>
              new Promise<IteratorResult<CommittedChange>>((resolve) =>
                signal.addEventListener('abort', () => resolve({ done: true, value: undefined })),
              ),
          }),
        }),
      }),
      environment: 'prod',
      refreshAfterMs: 20,
    });
    clients.push(client);
    const w = await group.commands.setFlag('prod', 'silent', rollout(100), AUTHOR);
    expect(client.getFlag('silent')).toBeUndefined();
    await client.waitFor(w.version);
    expect(client.getFlag('silent')?.version).toBe(w.version);
  });

  it('refuses unknown or bad options with ConfigError naming them', async () => {
    const source = group.source('n1');
    await expect(
      FlagClient.open({ source, environment: '', retryMs: 0, colour: 1 } as never),
    ).rejects.toThrow(ConfigError);
    const err = (await FlagClient.open({ source, environment: '', retryMs: 0 }).catch(
      (e) => e,
    )) as ConfigError;
    expect(err.problems).toEqual([
      'FlagClient options: environment must be a non-empty string',
      'FlagClient options: retryMs (0) must be at least 1',
    ]);
  });
});

describe('feature flags - the client’s copy of an environment (EnvironmentView)', () => {
  const snapshot = { environment: 'prod', appliedIndex: 4, flags: [], segments: [] };
  const at = (
    index: number,
    name: string,
    args: unknown[],
    kind: 'applied' | 'failed' = 'applied',
  ): CommittedChange => ({
    index,
    command: { name, args, time: 1000 + index },
    outcome: { kind },
  });

  it('applies writes of its environment; failed commands and other environments only move the index', () => {
    const v = new EnvironmentView(snapshot);
    expect(v.apply(at(3, 'setFlag', ['prod', 'old', rollout(1), AUTHOR]))).toBeUndefined(); // already held
    expect(v.appliedIndex).toBe(4);
    expect(v.apply(at(5, 'setFlag', ['prod', 'k', rollout(100), AUTHOR]))?.flags).toEqual(['k']);
    expect(v.apply(at(6, 'setFlag', ['prod', 'k', rollout(0), AUTHOR], 'failed'))).toBeUndefined();
    expect(v.apply(at(7, 'setFlag', ['dev', 'k', rollout(0), AUTHOR]))).toBeUndefined();
    expect(v.appliedIndex).toBe(7);
    expect(v.evaluator.appliedIndex).toBe(7);
    expect(v.getFlag('k')).toMatchObject({ version: 5, createdAt: 1005 });
    expect(v.evaluator.evaluate('k', { targetingKey: 'x' }).value).toBe(true);
  });

  it('an applied command it cannot apply is ViewOutOfDateError, and the view stays as it was', () => {
    const v = new EnvironmentView(snapshot);
    expect(() => v.apply(at(5, 'renameFlag', ['prod', 'k']))).toThrow(ViewOutOfDateError);
    expect(() => v.apply(at(6, 'deleteFlag', ['prod', 'missing', AUTHOR]))).toThrow(
      /cannot apply command deleteFlag at index 6 locally: refused here though the replicas applied it/,
    );
    expect(v.appliedIndex).toBe(4);
  });
});
