#!/usr/bin/env node
// npm run check:packages: builds and packs every published package (each
// workspace under packages/ and services/ that is not private: the
// libraries, the CLI, create-raftline and the services), then checks each
// tarball: its manifest (engines, exports, sideEffects, files), its files
// (README, LICENSE, every file the manifest names; no maps, no sources),
// publint --strict, and @arethetypeswrong/cli (types resolve for node10,
// node16 from CommonJS and from ESM, and bundlers). Exits 1 on any problem,
// listing them all.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO, PUBLISHED, buildPackages, packPackages, contentProblems, run } = require('./lib/packages');

const bin = (name) => path.join(REPO, 'node_modules', '.bin', name);

function main() {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-packs-'));
  const problems = [];
  try {
    buildPackages(PUBLISHED);
    for (const pack of packPackages(dest, PUBLISHED)) {
      const kb = (n) => `${(n / 1024).toFixed(0)} kB`;
      process.stdout.write(
        `\n== ${pack.name}: ${pack.files.length} files, ${kb(pack.size)} packed, ${kb(pack.unpackedSize)} unpacked\n`,
      );
      problems.push(...contentProblems(pack));
      const lint = run(bin('publint'), ['run', pack.tarball, '--strict'], REPO);
      process.stdout.write(lint.stdout + lint.stderr);
      if (lint.status !== 0) problems.push(`${pack.name}: publint found problems`);
      const types = run(bin('attw'), [pack.tarball, '--format', 'ascii', '--no-emoji', '--no-color'], REPO);
      process.stdout.write(types.stdout + types.stderr);
      if (types.status !== 0) problems.push(`${pack.name}: @arethetypeswrong/cli found problems`);
    }
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    process.stderr.write(`\ncheck:packages failed:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write('\ncheck:packages: every tarball is complete, publint and attw found nothing\n');
}

main();
