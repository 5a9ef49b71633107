// The published packages: build each (scripts/build-package.js, or its own
// build script) and pack it with npm, as `npm publish` would. Shared by
// check-packages.js, install-size.js and the consumer and starter tests.
//
// A package is named by its directory's name, under packages/ or services/
// (the workspaces), as the jest mapper and scripts/ts-register.js name them.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '../../..');
/** The workspace folders (package.json: workspaces). */
const WORKSPACE_ROOTS = ['packages', 'services'];

/** The library packages a user installs, in dependency order (core first). */
const PACKAGES = ['core', 'testing', 'transport-nats', 'store-postgres'];
/** What a project made by create-raftline installs (the libraries and the CLI), and the starter itself. */
const STARTER_PACKAGES = [...PACKAGES, 'cli', 'create-raftline'];

/** Files no tarball may hold: maps into unshipped sources, sources, tests, build state. */
const FORBIDDEN = [
  /\.map$/,
  /^src\//,
  /(?<!\.d)\.ts$/,
  /^test\//,
  /\.tsbuildinfo$/,
  /^tsconfig/,
  /^jest\.config/,
];

function run(command, args, cwd) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

/** The directory of the workspace called name (packages/<name> or services/<name>); throws if there is none. */
function packageDir(name) {
  for (const root of WORKSPACE_ROOTS) {
    const dir = path.join(REPO, root, name);
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no workspace ${name} under ${WORKSPACE_ROOTS.join('/ or ')}/`);
}

function readManifest(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
}

/**
 * Every workspace that is not private, in build order: each after the
 * workspaces it depends on (dependencies, peer and dev dependencies), ties by
 * name. Throws on two workspaces of one directory name or a dependency cycle.
 */
function publishedPackages() {
  const byNpmName = new Map();
  for (const root of WORKSPACE_ROOTS) {
    for (const entry of fs.readdirSync(path.join(REPO, root)).sort()) {
      const dir = path.join(REPO, root, entry);
      if (!fs.existsSync(path.join(dir, 'package.json'))) continue;
      const manifest = readManifest(dir);
      if (manifest.private) continue;
      if ([...byNpmName.values()].some((p) => p.name === entry)) {
        throw new Error(`two workspaces are called ${entry}: a package is named by its directory`);
      }
      byNpmName.set(manifest.name, { name: entry, manifest });
    }
  }
  const order = [];
  const state = new Map(); // npm name → 'visiting' | 'done'
  const visit = (npmName, chain) => {
    if (state.get(npmName) === 'done') return;
    if (state.get(npmName) === 'visiting') {
      throw new Error(`dependency cycle: ${[...chain, npmName].join(' → ')}`);
    }
    state.set(npmName, 'visiting');
    const { name, manifest } = byNpmName.get(npmName);
    const deps = Object.keys({
      ...manifest.dependencies,
      ...manifest.peerDependencies,
      ...manifest.devDependencies,
    }).sort();
    for (const dep of deps) if (byNpmName.has(dep)) visit(dep, [...chain, npmName]);
    state.set(npmName, 'done');
    order.push(name);
  };
  for (const npmName of [...byNpmName.keys()].sort()) visit(npmName, []);
  return order;
}

/** Every published package (packages/*, services/*), in build order. */
const PUBLISHED = publishedPackages();

/**
 * Builds every package: with scripts/build-package.js (CommonJS and ESM)
 * where that is its build script, otherwise with its own `npm run build`.
 * Throws with the compiler's output on failure.
 */
function buildPackages(names = PACKAGES) {
  for (const name of names) {
    const dir = packageDir(name);
    const { scripts = {} } = readManifest(dir);
    const r = /build-package\.js/.test(scripts.build ?? '')
      ? run(process.execPath, [path.join(REPO, 'scripts/build-package.js')], dir)
      : run('npm', ['run', 'build'], dir);
    if (r.status !== 0) {
      throw new Error(`build of ${path.relative(REPO, dir)} failed:\n${r.stdout}${r.stderr}`);
    }
  }
}

/**
 * Packs every package into dest.
 * @returns per package: its name, its directory's name, the tarball's path,
 *   its size and unpacked size in bytes, its files and its package.json
 */
function packPackages(dest, names = PACKAGES) {
  return names.map((name) => {
    const dir = packageDir(name);
    const r = run('npm', ['pack', '--json', '--pack-destination', dest], dir);
    if (r.status !== 0) throw new Error(`npm pack of ${path.relative(REPO, dir)} failed:\n${r.stderr}`);
    const [info] = JSON.parse(r.stdout);
    return {
      name: info.name,
      dir: name,
      tarball: path.join(dest, info.filename),
      size: info.size,
      unpackedSize: info.unpackedSize,
      files: info.files.map((f) => f.path),
      manifest: readManifest(dir),
    };
  });
}

/** Every string in an exports (or typesVersions) value: the files it names. */
function targetsOf(value) {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(targetsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(targetsOf);
  return [];
}

/**
 * The files a tarball must hold, by its package.json: the manifest, README.md
 * and LICENSE, every file that main, types, bin, exports and typesVersions
 * name (patterns with * aside), and beside a dist/cjs or dist/esm build the
 * package.json that gives its files their module format.
 */
function requiredFiles(manifest) {
  const bin = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
  const named = [
    manifest.main,
    manifest.types,
    ...bin,
    ...targetsOf(manifest.exports),
    ...targetsOf(manifest.typesVersions),
  ]
    .filter((f) => typeof f === 'string' && !f.includes('*'))
    .map((f) => path.posix.normalize(f).replace(/^\.\//, ''));
  const formats = ['dist/cjs', 'dist/esm']
    .filter((d) => named.some((f) => f.startsWith(`${d}/`)))
    .map((d) => `${d}/package.json`);
  return [...new Set(['package.json', 'README.md', 'LICENSE', ...named, ...formats])];
}

/**
 * What a published manifest lacks of what every package states: engines.node,
 * an exports map, sideEffects, and README.md and LICENSE in files.
 */
function manifestProblems(manifest) {
  const problems = [];
  if (!manifest.engines?.node) problems.push('package.json has no engines.node');
  if (!manifest.exports) problems.push('package.json has no exports map');
  if (manifest.sideEffects === undefined) problems.push('package.json does not state sideEffects');
  for (const f of ['README.md', 'LICENSE']) {
    if (!(manifest.files ?? []).includes(f)) problems.push(`package.json files does not list ${f}`);
  }
  return problems.map((p) => `${manifest.name}: ${p}`);
}

/**
 * What is wrong with a packed package: its manifest's gaps (manifestProblems),
 * required files missing, forbidden ones present. A file under src/ is
 * forbidden unless the manifest's files names its folder (the CLI's dashboard
 * page is served from src/dashboard/assets), and even then no TypeScript source.
 */
function contentProblems(pack) {
  const files = new Set(pack.files);
  const shippedSources = (pack.manifest.files ?? []).filter((f) => f.startsWith('src/'));
  const allowed = (f) =>
    shippedSources.some((dir) => f.startsWith(`${dir.replace(/\/$/, '')}/`)) && !/(?<!\.d)\.ts$/.test(f);
  return [
    ...manifestProblems(pack.manifest),
    ...requiredFiles(pack.manifest)
      .filter((f) => !files.has(f))
      .map((f) => `${pack.name}: ${f} is missing`),
    ...pack.files
      .filter((f) => FORBIDDEN.some((re) => re.test(f)) && !allowed(f))
      .map((f) => `${pack.name}: ${f} must not be shipped`),
  ];
}

module.exports = {
  REPO,
  PACKAGES,
  STARTER_PACKAGES,
  PUBLISHED,
  packageDir,
  buildPackages,
  packPackages,
  requiredFiles,
  manifestProblems,
  contentProblems,
  run,
};
