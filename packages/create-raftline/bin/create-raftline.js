#!/usr/bin/env node
// The `create-raftline` command (`npm create raftline@latest my-service`).
// In the repository it runs the TypeScript sources through the repo's
// require hook; a published package runs its build (dist/).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const register = path.join(__dirname, '..', '..', '..', 'scripts', 'ts-register.js');
const source = path.join(__dirname, '..', 'src', 'main.ts');
let main;
if (fs.existsSync(register) && fs.existsSync(source)) {
  require(register);
  main = require(source);
} else {
  main = require('../dist/main.js');
}
process.exitCode = main.run(process.argv);
