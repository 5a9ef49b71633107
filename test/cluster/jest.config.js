// Cross-package integration tests: whole clusters of replica processes over a
// real nats-server (started per test on a spare loopback port) and the shared
// PostgreSQL server. Run from the repository root: npm run test:cluster.
// One worker: one spec stops and starts PostgreSQL, which the others use.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'cluster',
  testMatch: ['<rootDir>/**/*.integration.spec.ts'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
