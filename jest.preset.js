// Shared jest settings: @swc/jest compiles TypeScript (legacy decorators with
// metadata, as inversify and TypeORM need); workspace packages resolve to their
// sources so tests never depend on a prior build.
const path = require('node:path');
const swcOptions = require('./scripts/swc-options.js');

/** @param {string} dir the package directory (pass __dirname) */
module.exports = function preset(dir) {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.spec.ts'],
    transform: {
      '^.+\\.ts$': ['@swc/jest', swcOptions],
    },
    // Every workspace (package.json: packages/*, services/*), as scripts/ts-register.js and
    // tsconfig.test.base.json resolve them: the first of these files that exists.
    moduleNameMapper: {
      // A workspace's subpath export (@raftline/core/inversify, @raftline/feature-flags/openfeature):
      // its src/<subpath>/index.ts.
      '^@raftline/([a-z-]+)/([a-z-]+)$': [
        path.join(__dirname, 'packages/$1/src/$2/index.ts'),
        path.join(__dirname, 'services/$1/src/$2/index.ts'),
      ],
      '^@raftline/([a-z-]+)$': [
        path.join(__dirname, 'packages/$1/src/index.ts'),
        path.join(__dirname, 'services/$1/src/index.ts'),
      ],
    },
    collectCoverageFrom: ['<rootDir>/src/**/*.ts'],
  };
};
