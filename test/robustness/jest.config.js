// The robustness suite (test/robustness/README.md): its unit specs (the fault
// proxy, the nemesis schedule, the checks) and the short profile of the
// real-process nemesis run. Run from the repository root: npm run
// test:robustness:short (part of npm test). One worker: a profile runs
// replica processes, nats-servers and a PostgreSQL server of its own.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'robustness',
  testMatch: ['<rootDir>/**/*.spec.ts'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
