// What check:packages checks (lib/packages.js), without a build: which
// workspaces it builds and packs, in what order, and what it reports for a
// packed file list and a manifest.
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Pack {
  name: string;
  files: string[];
  manifest: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require('./lib/packages.js') as {
  REPO: string;
  PUBLISHED: string[];
  packageDir: (name: string) => string;
  requiredFiles: (manifest: Record<string, unknown>) => string[];
  manifestProblems: (manifest: Record<string, unknown>) => string[];
  contentProblems: (pack: Pack) => string[];
};

type Manifest = {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

const manifestOf = (dir: string): Manifest =>
  JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;

/** Every workspace directory under packages/ and services/, as the root package.json lists them. */
const workspaces = ['packages', 'services'].flatMap((root) =>
  fs
    .readdirSync(path.join(lib.REPO, root))
    .map((name) => path.join(lib.REPO, root, name))
    .filter((dir) => fs.existsSync(path.join(dir, 'package.json'))),
);

/** A manifest as a dual-build library states it. */
const library = {
  name: '@raftline/example',
  engines: { node: '>=20' },
  main: './dist/cjs/index.js',
  types: './dist/cjs/index.d.ts',
  exports: {
    '.': {
      import: { types: './dist/esm/index.d.ts', default: './dist/esm/index.js' },
      require: { types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' },
    },
    './package.json': './package.json',
  },
  sideEffects: false,
  files: ['dist/cjs', 'dist/esm', 'README.md', 'LICENSE'],
};
const libraryFiles = [
  'package.json',
  'README.md',
  'LICENSE',
  'dist/cjs/index.js',
  'dist/cjs/index.d.ts',
  'dist/cjs/package.json',
  'dist/esm/index.js',
  'dist/esm/index.d.ts',
  'dist/esm/package.json',
];

describe('packaging - the packages check:packages checks', () => {
  it('checks every workspace that is not private, the CLI, create-raftline and the services among them', () => {
    const published = workspaces.filter((dir) => !manifestOf(dir).private).map((dir) => path.basename(dir));
    expect([...lib.PUBLISHED].sort()).toEqual([...published].sort());
    expect(lib.PUBLISHED).toEqual(
      expect.arrayContaining(['cli', 'create-raftline', 'task-queue', 'feature-flags', 'coordinator']),
    );
  });

  it('builds each package after the workspaces it depends on', () => {
    const position = new Map(lib.PUBLISHED.map((name, i) => [manifestOf(lib.packageDir(name)).name, i]));
    for (const name of lib.PUBLISHED) {
      const m = manifestOf(lib.packageDir(name));
      const deps = Object.keys({ ...m.dependencies, ...m.peerDependencies, ...m.devDependencies });
      for (const dep of deps.filter((d) => position.has(d))) {
        expect([name, dep, position.get(dep)! < position.get(m.name)!]).toEqual([name, dep, true]);
      }
    }
  });

  it('finds a package under services/ as under packages/, and refuses a name that is neither', () => {
    expect(lib.packageDir('task-queue')).toBe(path.join(lib.REPO, 'services', 'task-queue'));
    expect(lib.packageDir('core')).toBe(path.join(lib.REPO, 'packages', 'core'));
    expect(() => lib.packageDir('no-such-package')).toThrow('no workspace no-such-package');
  });

  it.each(workspaces.filter((dir) => !manifestOf(dir).private).map((dir) => [path.relative(lib.REPO, dir)]))(
    '%s states engines, exports, sideEffects and files with README.md and LICENSE',
    (dir) => {
      expect(lib.manifestProblems(manifestOf(path.join(lib.REPO, dir)))).toEqual([]);
    },
  );
});

describe('packaging - what check:packages reports for a tarball', () => {
  it('requires every file the manifest names, and the module-format package.json beside each build', () => {
    expect(lib.requiredFiles(library).sort()).toEqual([...libraryFiles].sort());
    const cli = { ...library, main: './dist/index.js', types: './dist/index.d.ts', exports: undefined };
    expect(lib.requiredFiles({ ...cli, bin: { tool: 'bin/tool.js' } }).sort()).toEqual(
      ['LICENSE', 'README.md', 'bin/tool.js', 'dist/index.d.ts', 'dist/index.js', 'package.json'].sort(),
    );
  });

  it('passes a complete tarball', () => {
    expect(lib.contentProblems({ name: library.name, files: libraryFiles, manifest: library })).toEqual([]);
  });

  it('names a missing file, a map, a source and build state', () => {
    const files = [
      ...libraryFiles.filter((f) => f !== 'LICENSE' && f !== 'dist/esm/package.json'),
      'dist/cjs/index.js.map',
      'src/index.ts',
      'tsconfig.tsbuildinfo',
    ];
    expect(lib.contentProblems({ name: library.name, files, manifest: library })).toEqual([
      '@raftline/example: LICENSE is missing',
      '@raftline/example: dist/esm/package.json is missing',
      '@raftline/example: dist/cjs/index.js.map must not be shipped',
      '@raftline/example: src/index.ts must not be shipped',
      '@raftline/example: tsconfig.tsbuildinfo must not be shipped',
    ]);
  });

  it('ships files under src/ only from a folder the manifest lists, and no TypeScript source from it', () => {
    const manifest = { ...library, files: [...library.files, 'src/dashboard/assets'] };
    const files = [
      ...libraryFiles,
      'src/dashboard/assets/index.html',
      'src/dashboard/assets/page.ts',
      'src/dashboard/server.js',
    ];
    expect(lib.contentProblems({ name: library.name, files, manifest })).toEqual([
      '@raftline/example: src/dashboard/assets/page.ts must not be shipped',
      '@raftline/example: src/dashboard/server.js must not be shipped',
    ]);
  });

  it('names what a manifest lacks', () => {
    const bare = { name: '@raftline/bare', main: './dist/index.js', files: ['dist'] };
    expect(lib.manifestProblems(bare)).toEqual([
      '@raftline/bare: package.json has no engines.node',
      '@raftline/bare: package.json has no exports map',
      '@raftline/bare: package.json does not state sideEffects',
      '@raftline/bare: package.json files does not list README.md',
      '@raftline/bare: package.json files does not list LICENSE',
    ]);
  });
});
