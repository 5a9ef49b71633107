#!/usr/bin/env node
// Runs the changesets CLI (@changesets/cli) on Node 20: its own bin.js calls
// module.enableCompileCache(), which Node 20 lacks; the CLI itself runs.
// Usage: node scripts/changeset.mjs <command> [options]   (as `changeset`)
await import('@changesets/cli');
