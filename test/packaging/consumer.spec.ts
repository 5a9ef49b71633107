// The packages as a new user gets them: every package is built and packed
// (npm pack), the tarballs are installed into a fresh directory, and two fresh
// projects there, one CommonJS and one ES module, each with the tsconfig that
// `tsc --init` writes (plus skipLibCheck: false), compile a state machine
// with standard decorators and with experimentalDecorators, then run it:
// three replicas on a MemoryNetwork, one assembled by an inversify container
// (@raftline/core/inversify), and a SimCluster test. The source imports every
// entry point, so every declaration is type-checked; a plain require of
// @raftline/core must load no inversify, and of the store no PGlite.
// Run from the repository root: npm run test:packaging (not part of npm test:
// building and installing take minutes).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { consumerSource, type ConsumerReport } from './lib/consumer-source';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { REPO, buildPackages, packPackages } = require('./lib/packages.js') as {
  REPO: string;
  buildPackages: () => void;
  packPackages: (dest: string) => { name: string; tarball: string }[];
};

const FORMATS = ['commonjs', 'module'] as const;
/** Every entry point of the published packages: each package's, and core's inversify subpath. */
const ENTRIES = ['core', 'core/inversify', 'testing', 'transport-nats', 'store-postgres'];
const MODES = ['standard', 'legacy'] as const;
type Format = (typeof FORMATS)[number];
type Mode = (typeof MODES)[number];

/** The consumer's TypeScript and Node types: the versions this repository uses. */
function devVersions(): Record<string, string> {
  const version = (name: string): string =>
    (
      JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  // inversify: @raftline/core's optional peer, which a program importing @raftline/core/inversify installs.
  return {
    typescript: version('typescript'),
    '@types/node': version('@types/node'),
    inversify: version('inversify'),
  };
}

function sh(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
}

/**
 * The decorator mode's additions to `tsc --init`'s tsconfig. Standard
 * decorators need a target TypeScript lowers them for: with `esnext` (the
 * init default) the output keeps the `@` syntax, which Node cannot run yet.
 */
function overrides(format: Format, mode: Mode): Record<string, unknown> {
  return {
    skipLibCheck: false,
    rootDir: 'src',
    outDir: `out-${mode}`,
    ...(mode === 'standard' ? { target: 'es2022' } : { experimentalDecorators: true }),
    // A CommonJS file written with import/export (as most are) cannot keep verbatimModuleSyntax.
    ...(format === 'commonjs' ? { verbatimModuleSyntax: false } : {}),
  };
}

/**
 * nats.js 3.3's own declarations do not compile under exactOptionalPropertyTypes
 * (which `tsc --init` turns on) with skipLibCheck: false: MsgImpl and
 * NatsConnectionImpl implement their interfaces with `prop?: T | undefined`
 * where the interface says `prop?: T` (TS2420). Any program that names a
 * nats.js type gets these, raftline or not; nothing else is excused.
 */
function isNatsUpstreamError(line: string): boolean {
  return /node_modules\/@nats-io\/(?:[\w-]+\/node_modules\/@nats-io\/)?nats-core\/lib\/(?:msg|nats)\.d\.ts\(\d+,\d+\): error TS2420: Class '(?:MsgImpl|NatsConnectionImpl)' incorrectly implements interface/.test(
    line,
  );
}

/** A script that requires `entry` and prints, as JSON, the packages it loaded from node_modules. */
function loadedPackagesScript(entry: string): string {
  return `require(${JSON.stringify(entry)});
const names = new Set();
for (const file of Object.keys(require.cache)) {
  const rest = file.split('/node_modules/').pop();
  if (rest === file) continue;
  const parts = rest.split('/');
  names.add(parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
}
console.log(JSON.stringify([...names].sort()));`;
}

/** Compiles a project (tsc emits even when it reports errors); returns tsc's error lines, continuations joined. */
function compile(dir: string, config: string): string[] {
  const r = spawnSync(path.join(dir, '..', 'node_modules', '.bin', 'tsc'), ['-p', config], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  const errors: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/error TS\d+/.test(line)) errors.push(line);
    else if (line.startsWith(' ') && errors.length > 0) errors[errors.length - 1] += `\n${line}`;
  }
  if (r.status !== 0 && errors.length === 0) errors.push(`tsc exited ${r.status}: ${r.stdout}${r.stderr}`);
  return errors;
}

describe('packaging - the packed tarballs in fresh projects', () => {
  let root: string;
  const reports = new Map<string, ConsumerReport>();
  const compiled = new Map<string, string[]>();
  const failures = new Map<string, string>();
  const entries = new Map<Format, string[]>();

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-consumer-'));
    buildPackages();
    const packs = packPackages(root);
    // One install, shared by both projects below it (Node and TypeScript look upwards for node_modules).
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'consumers', private: true }));
    const deps = Object.entries(devVersions()).map(([n, v]) => `${n}@${v}`);
    sh(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packs.map((p) => p.tarball), ...deps],
      root,
    );
    for (const format of FORMATS) {
      const dir = path.join(root, format);
      fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify({ name: `consumer-${format}`, private: true, type: format }),
      );
      sh(path.join(root, 'node_modules', '.bin', 'tsc'), ['--init'], dir);
      fs.writeFileSync(path.join(dir, 'src', 'main.ts'), consumerSource());
      // Where each package resolves from this project, as import (ESM) or require (CommonJS).
      const names = ENTRIES.map((p) => `@raftline/${p}`);
      const resolver =
        format === 'module'
          ? [
              '--input-type=module',
              '-e',
              `for (const n of ${JSON.stringify(names)}) console.log(import.meta.resolve(n))`,
            ]
          : ['-e', `for (const n of ${JSON.stringify(names)}) console.log(require.resolve(n))`];
      entries.set(format, sh(process.execPath, resolver, dir).trim().split('\n'));
      for (const mode of MODES) {
        const config = `tsconfig.${mode}.json`;
        fs.writeFileSync(
          path.join(dir, config),
          JSON.stringify({
            extends: './tsconfig.json',
            compilerOptions: overrides(format, mode),
            include: ['src'],
          }),
        );
        const key = `${format}/${mode}`;
        compiled.set(key, compile(dir, config));
        try {
          const out = sh(process.execPath, [path.join(dir, `out-${mode}`, 'main.js')], dir);
          reports.set(key, JSON.parse(out.trim().split('\n').pop()!) as ConsumerReport);
        } catch (err) {
          failures.set(key, (err as Error).message);
        }
      }
    }
  }, 600_000);

  it('@raftline/core loads no inversify and @raftline/store-postgres no PGlite until asked (CommonJS require)', () => {
    const loaded = (entry: string): string[] =>
      JSON.parse(
        sh(process.execPath, ['-e', loadedPackagesScript(entry)], path.join(root, 'commonjs')),
      ) as string[];
    const core = loaded('@raftline/core');
    expect(core).toContain('msgpackr');
    expect(core.filter((p) => p.includes('inversify'))).toEqual([]);
    expect(loaded('@raftline/core/inversify')).toContain('inversify');
    const store = loaded('@raftline/store-postgres');
    expect(store).toContain('typeorm');
    expect(store).not.toContain('@electric-sql/pglite');
  });

  afterAll(() => {
    if (root && !process.env.RAFTLINE_KEEP_CONSUMERS) fs.rmSync(root, { recursive: true, force: true });
  });

  it('tsc --init writes what these projects rely on: nodenext modules, skipLibCheck on (turned off here)', () => {
    const init = fs.readFileSync(path.join(root, 'module', 'tsconfig.json'), 'utf8');
    expect(init).toMatch(/"module": "nodenext"/);
    expect(init).toMatch(/"skipLibCheck": true/);
  });

  describe.each(FORMATS.flatMap((f) => MODES.map((m) => [`${f}/${m}`] as const)))('%s', (key) => {
    it("compiles with skipLibCheck: false: no error but nats.js's own, upstream", () => {
      expect(compiled.get(key)!.filter((e) => !isNatsUpstreamError(e))).toEqual([]);
    });

    it('is compiled in its decorator mode (TC39 __esDecorate, or legacy __decorate)', () => {
      const [format, mode] = key.split('/') as [Format, Mode];
      const js = fs.readFileSync(path.join(root, format, `out-${mode}`, 'main.js'), 'utf8');
      expect(js.includes('__esDecorate(')).toBe(mode === 'standard');
      expect(js.includes('__decorate(')).toBe(mode === 'legacy');
    });

    it('runs', () => {
      expect(failures.get(key)).toBeUndefined();
      expect(reports.get(key)).toBeDefined();
    });

    it('three replicas on a MemoryNetwork elect a leader and apply commands on every replica', () => {
      const r = reports.get(key)!;
      expect(r.replicas.results).toEqual([2, 5]);
      expect(r.replicas.totals).toEqual([5, 5, 5]);
      expect(r.replicas.rejected).toEqual({ name: 'CommandRejectedError', isRaftlineError: true });
    });

    it('a SimCluster test passes: commits through a crash, safety checked', () => {
      expect(reports.get(key)!.sim).toEqual({ results: [2, 5], checked: true });
    });

    it('the decorators raise the same named errors', () => {
      expect(reports.get(key)!.errors).toEqual([
        { name: 'MissingHandlerError', message: 'Unnamed lacks @StateMachine(name)' },
        {
          name: 'DuplicateHandlerError',
          message: 'Dup: command "put" is declared by both Dup.put() and Dup.set()',
        },
      ]);
    });

    it('loads every package in its own module format (dist/esm for import, dist/cjs for require)', () => {
      expect(reports.get(key)!.loaded).toEqual({
        natsTransport: 'function',
        createPostgresStores: 'function',
      });
      const [format] = key.split('/') as [Format];
      expect(entries.get(format)).toEqual(
        ENTRIES.map((p) => {
          const [pkg, sub] = p.split('/') as [string, string | undefined];
          const file = `${sub ? `${sub}/` : ''}index.js`;
          return expect.stringContaining(
            `@raftline/${pkg}/dist/${format === 'module' ? 'esm' : 'cjs'}/${file}`,
          );
        }),
      );
    });

    it('assembles a replica through an inversify container from @raftline/core/inversify', () => {
      expect(reports.get(key)!.container).toEqual({ result: 4, bound: true });
    });
  });
});
