import { ConfigError } from '@raftline/core';
import { createPostgresStores, type PostgresStoresOptions } from '../src/index';

/** The problems of the ConfigError that opening with `options` rejects with (nothing is connected to). */
async function problemsOf(options: unknown): Promise<readonly string[]> {
  const err: unknown = await createPostgresStores(options as PostgresStoresOptions).then(
    () => new Error('opened, expected a ConfigError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('createPostgresStores - unknown option keys', () => {
  it("a misspelt option is a ConfigError naming it, with 'did you mean'", async () => {
    expect(await problemsOf({ groupId: 'g', nodeId: 'n', url: 'postgres://x', tailcapacity: 10 })).toEqual([
      "createPostgresStores options: unknown key 'tailcapacity' (did you mean 'tailCapacity'?)",
    ]);
  });

  it('a misspelt key inside embedded is a ConfigError naming it', async () => {
    expect(await problemsOf({ groupId: 'g', nodeId: 'n', embedded: { datadir: '/tmp/x' } })).toEqual([
      "createPostgresStores options.embedded: unknown key 'datadir' (did you mean 'dataDir'?)",
    ]);
  });

  it('unknown keys are listed with every other problem', async () => {
    expect(await problemsOf({ groupId: 'g', nodeId: '', database: 'x' })).toEqual([
      "createPostgresStores options: unknown key 'database'",
      'exactly one of url, pool, embedded, executor must be set (got none)',
      'nodeId must be a non-empty string',
    ]);
  });
});
