// Cross-package integration tests: whole clusters of replica processes over a
// real nats-server (started per spec file on a spare loopback port) and
// PostgreSQL: the machine's server, or a throw-away server of the spec's own
// for a spec that stops or kills it. Run from the repository root: npm run test:cluster.
// One worker: each spec runs three replica processes under load; two specs at
// once would compete for the machine's cores.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'cluster',
  testMatch: ['<rootDir>/**/*.integration.spec.ts'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
