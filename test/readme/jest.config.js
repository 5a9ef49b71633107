// Every README's code blocks, type-checked and run (see test/readme/README.md).
// Run from the repository root: npm run test:readme. One worker: the blocks
// start replicas, processes and databases of their own.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'readme',
  testMatch: ['<rootDir>/*.spec.ts'],
  // The generated README modules live in node_modules/.cache/raftline-readme: compile them too.
  transformIgnorePatterns: ['/node_modules/(?!\\.cache/raftline-readme/)'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
