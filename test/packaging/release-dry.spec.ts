// The versions check of npm run release:dry (scripts/release-dry.js): what it
// reports for a release plan, on small workspaces made up here.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { versionProblems } = require('../../scripts/release-dry.js') as {
  versionProblems: (
    packages: { packageJson: Record<string, unknown> }[],
    plan: { releases: { name: string; newVersion: string; type: string }[] },
  ) => string[];
};

const pkg = (name: string, version: string, fields: Record<string, unknown> = {}) => ({
  packageJson: { name, version, ...fields },
});

describe('release:dry - the versions check', () => {
  const core = pkg('@raftline/core', '0.1.0');
  const cli = pkg('@raftline/cli', '0.1.0', { dependencies: { '@raftline/core': '0.1.0' } });

  it('passes a workspace whose internal ranges hold, with nothing to release', () => {
    expect(versionProblems([core, cli], { releases: [] })).toEqual([]);
  });

  it('passes a release of both a package and its dependent (changeset version rewrites the range)', () => {
    const releases = [
      { name: '@raftline/core', newVersion: '0.2.0', type: 'minor' },
      { name: '@raftline/cli', newVersion: '0.2.0', type: 'minor' },
    ];
    expect(versionProblems([core, cli], { releases })).toEqual([]);
  });

  it('names a dependent left behind by a release of its dependency', () => {
    const releases = [{ name: '@raftline/core', newVersion: '0.2.0', type: 'minor' }];
    expect(versionProblems([core, cli], { releases })).toEqual([
      '@raftline/cli: dependencies.@raftline/core "0.1.0" is not satisfied by @raftline/core@0.2.0',
    ]);
  });

  it('names a range that the workspace itself does not satisfy, and a peer range too', () => {
    const stale = pkg('@raftline/testing', '0.1.0', { peerDependencies: { '@raftline/core': '^0.3.0' } });
    expect(versionProblems([core, stale], { releases: [] })).toEqual([
      '@raftline/testing: peerDependencies.@raftline/core "^0.3.0" is not satisfied by @raftline/core@0.1.0',
    ]);
  });

  it('names a version that is not semver', () => {
    expect(versionProblems([pkg('@raftline/core', 'one')], { releases: [] })).toEqual([
      '@raftline/core: version "one" is not valid semver',
    ]);
  });
});
