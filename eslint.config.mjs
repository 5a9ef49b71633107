import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/coverage/**', '**/node_modules/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The pure protocol: time and randomness come from outside (DESIGN.md, core layer 1).
    files: ['packages/core/src/protocol/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'Promise', 'process'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'protocol/ takes time only as tick()' },
        { object: 'Math', property: 'random', message: 'protocol/ takes randomness from an injected source' },
      ],
    },
  },
);
