// The one set of @swc/core options that compiles the repo's TypeScript, shared
// by the jest preset and the require hook: CommonJS, ES2022, legacy
// decorators with metadata (inversify and TypeORM need them).
module.exports = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
