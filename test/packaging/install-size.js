#!/usr/bin/env node
// npm run size:packages: what a user's node_modules weighs after installing
// the packed packages into a fresh project, for three sets: core alone, core
// + transport-nats, core + transport-nats + store-postgres. Builds and packs
// every package first (as check:packages does), installs each set into its
// own temporary project (production dependencies only, as a user's `npm
// install` of them would) and prints, per set, the size of node_modules
// (`du -sk`) and what loads with `require('@raftline/core')` in it.
// Prints one JSON line at the end: { set: kB }.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildPackages, packPackages, run } = require('./lib/packages');

const SETS = {
  core: ['core'],
  'core+nats': ['core', 'transport-nats'],
  'core+nats+postgres': ['core', 'transport-nats', 'store-postgres'],
};

/** node_modules' size in kB (du -sk), or throws. */
function duKb(dir) {
  const r = run('du', ['-sk', dir], dir);
  if (r.status !== 0) throw new Error(`du failed: ${r.stderr}`);
  return Number(r.stdout.split(/\s+/)[0]);
}

/** A script that requires @raftline/core and prints the packages it loaded from node_modules. */
const LOADED_PACKAGES = `
require('@raftline/core');
const names = new Set();
for (const file of Object.keys(require.cache)) {
  const rest = file.split('/node_modules/').pop();
  if (rest === file) continue;
  const parts = rest.split('/');
  names.add(parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
}
console.log([...names].sort().join(' '));
`;

function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-size-'));
  const sizes = {};
  try {
    const names = ['core', 'transport-nats', 'store-postgres'];
    buildPackages(names);
    const tarballs = new Map(packPackages(root, names).map((p) => [p.dir, p.tarball]));
    for (const [set, members] of Object.entries(SETS)) {
      const dir = path.join(root, set);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'size', private: true }));
      const r = run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--omit=dev',
          ...members.map((m) => tarballs.get(m)),
        ],
        dir,
      );
      if (r.status !== 0) throw new Error(`npm install (${set}) failed:\n${r.stderr}`);
      const loaded = run(process.execPath, ['-e', LOADED_PACKAGES], dir);
      sizes[set] = duKb(path.join(dir, 'node_modules'));
      process.stdout.write(
        `${set}: ${(sizes[set] / 1024).toFixed(1)} MB in node_modules; require('@raftline/core') loads: ${loaded.stdout.trim()}\n`,
      );
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(sizes)}\n`);
}

main();
