// Every workspace (packages/*, services/*) resolves to its own sources in all
// three places README code and scripts meet it: the require hook a process
// block runs under (scripts/ts-register.js), the paths README blocks and
// `npm run typecheck` type-check with (tsconfig.test.base.json), and jest's
// mapper (jest.preset.js), so a block importing @raftline/task-queue or
// @raftline/cli runs without a build.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');

/** [name, src/index.ts] of every @raftline/* workspace that has sources. */
function workspaces(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ['packages', 'services']) {
    for (const entry of fs.readdirSync(path.join(root, dir))) {
      const pkg = path.join(root, dir, entry, 'package.json');
      const index = path.join(root, dir, entry, 'src', 'index.ts');
      if (!fs.existsSync(pkg) || !fs.existsSync(index)) continue;
      const { name } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name: string };
      // create-raftline is a bin run by npm create, never imported by README code.
      if (name.startsWith('@raftline/')) out.push([name, index]);
    }
  }
  return out.sort(([a], [b]) => a.localeCompare(b));
}

describe('workspace resolution - @raftline/* is the workspace’s src/index.ts', () => {
  const all = workspaces();

  it('finds the packages and the services', () => {
    const names = all.map(([name]) => name);
    for (const name of ['@raftline/core', '@raftline/transport-nats', '@raftline/task-queue']) {
      expect(names).toContain(name);
    }
    expect(names).toContain('@raftline/coordinator');
    expect(names).toContain('@raftline/feature-flags');
  });

  it('in the require hook of process blocks and scripts (scripts/ts-register.js)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-resolve-'));
    try {
      const script = path.join(dir, 'resolve.ts');
      const names = JSON.stringify(all.map(([name]) => name));
      fs.writeFileSync(
        script,
        `const names: string[] = ${names};\nconsole.log(JSON.stringify(names.map((n) => require.resolve(n))));\n`,
      );
      const run = spawnSync(process.execPath, ['-r', path.join(root, 'scripts/ts-register.js'), script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout) as string[]).toEqual(all.map(([, index]) => index));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in the paths README blocks and the typecheck use (tsconfig.test.base.json)', () => {
    const file = path.join(root, 'tsconfig.test.base.json');
    const { config } = ts.readConfigFile(file, (p) => ts.sys.readFile(p));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const from = path.join(root, 'scripts', 'any.ts');
    const resolved = all.map(
      ([name]) => ts.resolveModuleName(name, from, options, ts.sys).resolvedModule?.resolvedFileName,
    );
    expect(resolved).toEqual(all.map(([, index]) => index));
  });

  it('in jest (jest.preset.js)', () => {
    expect(all.map(([name]) => require.resolve(name))).toEqual(all.map(([, index]) => index));
  });
});
