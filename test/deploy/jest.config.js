// The deploy files (docker-compose.yml, infra/) checked without a Docker
// engine, and the demo (npm run demo) run as a process. Run from the
// repository root: npm run test:deploy. One worker: the demo spec starts
// replicas of its own.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'deploy',
  testMatch: ['<rootDir>/*.spec.ts'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
