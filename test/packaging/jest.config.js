// The packed packages in fresh consumer projects (consumer.spec.ts). Run from
// the repository root: npm run test:packaging. Not part of npm test: it
// builds, packs and installs every package, which takes minutes.
const preset = require('../../jest.preset.js')(__dirname);

module.exports = {
  ...preset,
  displayName: 'packaging',
  testMatch: ['<rootDir>/*.spec.ts'],
  maxWorkers: 1,
  collectCoverageFrom: [],
};
