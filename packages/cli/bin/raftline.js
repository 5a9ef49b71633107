#!/usr/bin/env node
// The `raftline` command. In the repository it runs the TypeScript sources
// without a build, through the repo's require hook (scripts/ts-register.js:
// @swc/core, workspace packages resolved to their sources); a published
// package runs its build (dist/).
const fs = require('node:fs');
const path = require('node:path');

const register = path.join(__dirname, '..', '..', '..', 'scripts', 'ts-register.js');
if (fs.existsSync(register)) {
  require(register);
  require('../src/main.ts').run(process.argv);
} else {
  require('../dist/main.js').run(process.argv);
}
