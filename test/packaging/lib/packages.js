// The published packages: build each (scripts/build-package.js) and pack it
// with npm, as `npm publish` would. Shared by check-packages.js and the
// consumer test.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '../../..');

/** The library packages a user installs, in dependency order (core first). */
const PACKAGES = ['core', 'testing', 'transport-nats', 'store-postgres'];
/** What a project made by create-raftline installs (the libraries and the CLI), and the starter itself. */
const STARTER_PACKAGES = [...PACKAGES, 'cli', 'create-raftline'];

/** Files every tarball must hold. */
const REQUIRED = [
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
/** Files no tarball may hold: maps into unshipped sources, sources, tests, build state. */
const FORBIDDEN = [/\.map$/, /^src\//, /^test\//, /\.tsbuildinfo$/, /^tsconfig/, /^jest\.config/];

function run(command, args, cwd) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

/**
 * Builds every package: with scripts/build-package.js (CommonJS and ESM)
 * where that is its build script, otherwise with its own `npm run build`.
 * Throws with the compiler's output on failure.
 */
function buildPackages(names = PACKAGES) {
  for (const name of names) {
    const dir = path.join(REPO, 'packages', name);
    const { scripts = {} } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const r = /build-package\.js/.test(scripts.build ?? '')
      ? run(process.execPath, [path.join(REPO, 'scripts/build-package.js')], dir)
      : run('npm', ['run', 'build'], dir);
    if (r.status !== 0) throw new Error(`build of packages/${name} failed:\n${r.stdout}${r.stderr}`);
  }
}

/**
 * Packs every package into dest.
 * @returns per package: its name, the tarball's path, its size and unpacked size in bytes, and its files
 */
function packPackages(dest, names = PACKAGES) {
  return names.map((name) => {
    const r = run('npm', ['pack', '--json', '--pack-destination', dest], path.join(REPO, 'packages', name));
    if (r.status !== 0) throw new Error(`npm pack of packages/${name} failed:\n${r.stderr}`);
    const [info] = JSON.parse(r.stdout);
    return {
      name: info.name,
      dir: name,
      tarball: path.join(dest, info.filename),
      size: info.size,
      unpackedSize: info.unpackedSize,
      files: info.files.map((f) => f.path),
    };
  });
}

/** What is wrong with a packed file list: required files missing, forbidden ones present. */
function contentProblems(pack) {
  const files = new Set(pack.files);
  return [
    ...REQUIRED.filter((f) => !files.has(f)).map((f) => `${pack.name}: ${f} is missing`),
    ...pack.files
      .filter((f) => FORBIDDEN.some((re) => re.test(f)))
      .map((f) => `${pack.name}: ${f} must not be shipped`),
  ];
}

module.exports = { REPO, PACKAGES, STARTER_PACKAGES, buildPackages, packPackages, contentProblems, run };
