// The OpenFeature provider (@raftline/feature-flags/openfeature) on a
// FlagClient over an in-process group, through OpenFeature's own server API.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OpenFeature, ProviderEvents, type EventDetails } from '@openfeature/server-sdk';
import { RaftlineProvider } from '@raftline/feature-flags/openfeature';
import { FlagClient, type FlagDefinition } from '../src/index';
import { Group } from './support/group';
import { AUTHOR, boolFlag, rollout } from './support/harness';

jest.setTimeout(30_000);

const typed = (
  type: FlagDefinition['type'],
  variants: FlagDefinition['variants'],
  def: string,
): FlagDefinition => ({
  type,
  variants,
  defaultVariant: def,
  enabled: true,
  rules: [],
  metadata: { team: 'checkout' },
});

describe('feature flags - the OpenFeature provider', () => {
  const group = new Group();
  let client: FlagClient;
  let provider: RaftlineProvider;
  const domain = 'raftline-test';

  beforeAll(async () => {
    await group.start();
    await group.commands.setFlag(
      'prod',
      'on',
      boolFlag([{ when: { attribute: 'plan', op: 'equals', value: 'pro' }, serve: { variant: 'on' } }]),
      AUTHOR,
    );
    await group.commands.setFlag(
      'prod',
      'color',
      typed('string', { red: 'red', blue: 'blue' }, 'blue'),
      AUTHOR,
    );
    await group.commands.setFlag('prod', 'limit', typed('number', { low: 10, high: 100 }, 'high'), AUTHOR);
    await group.commands.setFlag(
      'prod',
      'layout',
      typed('object', { a: { cols: 2 }, b: { cols: 3 } }, 'a'),
      AUTHOR,
    );
    const last = await group.commands.setFlag('prod', 'half', rollout(50), AUTHOR);
    client = await FlagClient.open({ source: group.source('n1'), environment: 'prod' });
    await client.waitFor(last.version);
    provider = new RaftlineProvider({ client, closeClient: true });
    await OpenFeature.setProviderAndWait(domain, provider);
  });

  afterAll(async () => {
    await OpenFeature.close();
    expect(client.closed).toBe(true); // closeClient: the provider closed it
    await group.stop();
  });

  it('resolves boolean, string, number and object flags with reason, variant and flagMetadata', async () => {
    const of = OpenFeature.getClient(domain);
    const pro = await of.getBooleanDetails('on', false, { plan: 'pro' });
    expect(pro).toMatchObject({ value: true, variant: 'on', reason: 'TARGETING_MATCH' });
    expect(pro.flagMetadata).toMatchObject({ environment: 'prod', appliedIndex: client.appliedIndex });
    expect(pro.flagMetadata.version).toBe(client.getFlag('on')!.version);
    expect(await of.getBooleanDetails('on', true, { plan: 'free' })).toMatchObject({
      value: false,
      variant: 'off',
      reason: 'DEFAULT',
    });
    expect(await of.getStringDetails('color', 'x')).toMatchObject({
      value: 'blue',
      variant: 'blue',
      reason: 'STATIC',
    });
    expect((await of.getStringDetails('color', 'x')).flagMetadata).toMatchObject({ team: 'checkout' });
    expect(await of.getNumberValue('limit', 0)).toBe(100);
    expect(await of.getObjectValue('layout', {})).toEqual({ cols: 2 });
    expect((await of.getBooleanDetails('half', false, { targetingKey: 'user-1' })).reason).toBe('SPLIT');
  });

  it('answers errors with the caller’s default and OpenFeature’s error codes', async () => {
    const of = OpenFeature.getClient(domain);
    expect(await of.getBooleanDetails('missing', true)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
    });
    expect(await of.getNumberDetails('color', 7)).toMatchObject({
      value: 7,
      reason: 'ERROR',
      errorCode: 'TYPE_MISMATCH',
    });
    expect(await of.getBooleanDetails('half', true, {})).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
    });
    const notReady = new RaftlineProvider({
      connect: { connection: undefined as never, cluster: 'c', group: 'g', environment: 'prod' },
    });
    expect(await notReady.resolveBooleanEvaluation('on', false, {})).toMatchObject({
      value: false,
      errorCode: 'PROVIDER_NOT_READY',
    });
  });

  it('emits ConfigurationChanged with the flags a committed change touched, and evaluates the new state', async () => {
    const of = OpenFeature.getClient(domain);
    const events: EventDetails[] = [];
    const handler = (e?: EventDetails): void => void (e && events.push(e));
    of.addHandler(ProviderEvents.ConfigurationChanged, handler);
    const w = await group.commands.setFlag(
      'prod',
      'color',
      typed('string', { red: 'red', blue: 'blue' }, 'red'),
      AUTHOR,
    );
    await client.waitFor(w.version);
    await new Promise((r) => setImmediate(r));
    expect(events.map((e) => e.flagsChanged)).toEqual([['color']]);
    expect(await of.getStringValue('color', 'x')).toBe('red');
    of.removeHandler(ProviderEvents.ConfigurationChanged, handler);
  });
});

describe('feature flags - OpenFeature is an optional peer', () => {
  it('the package entry loads no @openfeature module; the openfeature subpath does', () => {
    const loaded = (entry: string): boolean => {
      const script = `require(${JSON.stringify(entry)}); console.log(Object.keys(require.cache).some((k) => k.includes('@openfeature')));`;
      const run = spawnSync(
        process.execPath,
        ['-r', join(__dirname, '../../../scripts/ts-register.js'), '-e', script],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(run.stderr).toBe('');
      return run.stdout.trim() === 'true';
    };
    expect(loaded('@raftline/feature-flags')).toBe(false);
    expect(loaded('@raftline/feature-flags/openfeature')).toBe(true);
  });
});
