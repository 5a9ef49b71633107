// Lets plain `node -r ./scripts/ts-register.js file.ts` run the repo's TypeScript
// (benchmarks, the demo, the simulation CLI) without a build: @swc/core compiles
// each .ts file on require with the same settings jest uses, and workspace
// packages resolve to their sources.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
const swcOptions = require('./swc-options.js');

// Workspace packages live under packages/ and services/.
const roots = ['packages', 'services'].map((dir) => path.resolve(__dirname, '..', dir));

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  // @raftline/<name> is src/index.ts; a subpath export @raftline/<name>/<sub> is src/<sub>/index.ts.
  const m = /^@raftline\/([a-z-]+)(?:\/([a-z-]+))?$/.exec(request);
  for (const root of m ? roots : []) {
    const entry = path.join(root, m[1], 'src', m[2] ?? '', 'index.ts');
    if (fs.existsSync(entry)) return entry;
  }
  return resolve.call(this, request, ...rest);
};

require.extensions['.ts'] = function (module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcOptions, filename });
  module._compile(code, filename);
};
