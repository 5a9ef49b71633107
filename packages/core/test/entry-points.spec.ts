// What each entry point loads: `@raftline/core` never loads inversify (an
// optional peer), `@raftline/core/inversify` does. Each check runs in a fresh
// Node process (the repo's require hook compiles the sources), since jest's
// own module registry is not what a user's program would load.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');

/** The packages under node_modules that requiring `entry` loads. */
function packagesLoadedBy(entry: string): string[] {
  const script = `
require(${JSON.stringify(entry)});
const names = new Set();
for (const file of Object.keys(require.cache)) {
  const rest = file.split('/node_modules/').pop();
  if (rest === file) continue;
  const parts = rest.split('/');
  names.add(parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
}
console.log(JSON.stringify([...names].sort()));
`;
  const out = execFileSync(process.execPath, ['-r', './scripts/ts-register.js', '-e', script], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!) as string[];
}

describe('entry points - what a program loads', () => {
  it('@raftline/core loads msgpackr and no inversify', () => {
    const loaded = packagesLoadedBy(path.join(REPO, 'packages/core/src/index.ts'));
    expect(loaded).toContain('msgpackr');
    expect(loaded.filter((p) => /inversify/.test(p))).toEqual([]);
  });

  it('@raftline/core/inversify loads inversify', () => {
    const loaded = packagesLoadedBy(path.join(REPO, 'packages/core/src/inversify/index.ts'));
    expect(loaded).toContain('inversify');
  });
});
