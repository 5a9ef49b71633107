#!/usr/bin/env node
// npm run release:dry: a release without publishing. Checks the versions,
// then builds and packs every published workspace package as `npm publish`
// would, into a temporary directory that is removed afterwards.
//
// Versions check (with the changesets libraries, as `changeset version` reads them):
// - .changeset/config.json is valid and every changeset names workspace packages;
// - the release plan assembles: each package's next version is valid semver;
// - every internal dependency range (dependencies, peerDependencies,
//   optionalDependencies) is satisfied by the version the dependency will have
//   after the plan (unless both are released: `changeset version` rewrites
//   that range), so no package is published depending on a version that is not;
// - every published package has a CHANGELOG.md and a license.
// Exits 1 listing every problem; prints the plan and each tarball's size.
// --versions-only: the versions check alone (no build, no pack).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const semver = require('semver');

const REPO = path.resolve(__dirname, '..');
const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];

function run(command, args, cwd) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r;
}

/**
 * What is wrong with the versions after a release plan.
 * @param packages the workspace packages (`{ packageJson }` each, as @manypkg/get-packages lists them)
 * @param plan a changesets release plan (`releases`: name and newVersion each)
 * @returns one sentence per problem; empty when every version is valid and
 *   every internal range is satisfied by the version its target will have
 */
function versionProblems(packages, plan) {
  const problems = [];
  const next = new Map(packages.map((p) => [p.packageJson.name, p.packageJson.version]));
  const released = new Set(plan.releases.filter((r) => r.type !== 'none').map((r) => r.name));
  for (const release of plan.releases) {
    if (!semver.valid(release.newVersion)) {
      problems.push(`${release.name}: next version "${release.newVersion}" is not valid semver`);
    }
    next.set(release.name, release.newVersion);
  }
  for (const pkg of packages) {
    const { name, version } = pkg.packageJson;
    if (!semver.valid(version)) problems.push(`${name}: version "${version}" is not valid semver`);
    for (const field of DEP_FIELDS) {
      for (const [dep, range] of Object.entries(pkg.packageJson[field] ?? {})) {
        if (!next.has(dep)) continue;
        // Both released: `changeset version` rewrites the range to the new version.
        if (released.has(name) && released.has(dep)) continue;
        if (!semver.satisfies(next.get(dep), range)) {
          problems.push(`${name}: ${field}.${dep} "${range}" is not satisfied by ${dep}@${next.get(dep)}`);
        }
      }
    }
  }
  return problems;
}

/** What a published package lacks: a CHANGELOG.md, a license. */
function packageProblems(pkg) {
  const { name, license } = pkg.packageJson;
  const problems = [];
  if (!fs.existsSync(path.join(pkg.dir, 'CHANGELOG.md'))) problems.push(`${name}: no CHANGELOG.md`);
  if (!license) problems.push(`${name}: no license in package.json`);
  return problems;
}

async function main() {
  // The changesets libraries are ES modules.
  const { getPackages } = require('@manypkg/get-packages');
  const { readConfig } = await import('@changesets/config');
  const { readChangesets } = await import('@changesets/read');
  const { assembleReleasePlan } = await import('@changesets/assemble-release-plan');
  const { readPreState } = await import('@changesets/pre');
  const workspace = await getPackages(REPO);
  const published = workspace.packages.filter((p) => !p.packageJson.private);
  const { config, warnings, errors } = await readConfig(REPO, workspace);
  const problems = [...(warnings ?? []), ...(errors ?? [])].map(
    (e) => `.changeset/config.json: ${e.message ?? e}`,
  );
  if (!config) return finish(problems, 0, 'checked');
  const changesets = await readChangesets(REPO);
  const names = new Set(workspace.packages.map((p) => p.packageJson.name));
  for (const cs of changesets) {
    for (const r of cs.releases) {
      if (!names.has(r.name)) problems.push(`.changeset/${cs.id}.md names ${r.name}, no workspace package`);
    }
  }
  let plan = { releases: [], changesets: [] };
  if (problems.length === 0) {
    plan = assembleReleasePlan(changesets, workspace, config, await readPreState(REPO));
  }
  process.stdout.write(`release plan: ${changesets.length} changeset(s)\n`);
  for (const r of plan.releases) {
    process.stdout.write(`  ${r.name}: ${r.oldVersion} -> ${r.newVersion} (${r.type})\n`);
  }
  problems.push(...versionProblems(workspace.packages, plan));
  for (const pkg of published) problems.push(...packageProblems(pkg));

  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-release-'));
  try {
    if (process.argv.includes('--versions-only')) return finish(problems, published.length, 'versioned');
    const build = run('npm', ['run', 'build'], REPO);
    if (build.status !== 0) {
      problems.push(`npm run build failed:\n${build.stdout.slice(-4000)}${build.stderr.slice(-4000)}`);
    } else {
      for (const pkg of published) {
        const r = run('npm', ['pack', '--json', '--pack-destination', dest], pkg.dir);
        if (r.status !== 0) {
          problems.push(`${pkg.packageJson.name}: npm pack failed: ${r.stderr.trim()}`);
          continue;
        }
        const [info] = JSON.parse(r.stdout);
        process.stdout.write(
          `packed ${info.filename}: ${info.entryCount} files, ${(info.size / 1024).toFixed(0)} kB\n`,
        );
      }
    }
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
  finish(problems, published.length, 'versioned and packed');
}

/** Prints the outcome; exits 1 when there are problems. */
function finish(problems, count, what) {
  if (problems.length > 0) {
    process.stderr.write(`\nrelease:dry failed:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`\nrelease:dry: ${count} packages ${what}, nothing published\n`);
}

module.exports = { versionProblems };

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`release:dry: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
