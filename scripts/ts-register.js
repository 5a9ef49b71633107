// Lets plain `node -r ./scripts/ts-register.js file.ts` run the repo's TypeScript
// (benchmarks, the demo, the simulation CLI) without a build: @swc/core compiles
// each .ts file on require with the same settings jest uses, and workspace
// packages resolve to their sources.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
const swcOptions = require('./swc-options.js');

const packages = path.resolve(__dirname, '..', 'packages');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@raftline\/([a-z-]+)$/.exec(request);
  if (m) {
    const entry = path.join(packages, m[1], 'src', 'index.ts');
    if (fs.existsSync(entry)) return entry;
  }
  return resolve.call(this, request, ...rest);
};

require.extensions['.ts'] = function (module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcOptions, filename });
  module._compile(code, filename);
};
