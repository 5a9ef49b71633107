// infra/Dockerfile, checked without building it: its stages exist and are
// used, what it copies from the build context exists, the final image runs
// as a non-root user with only runtime files (its staging step is run on a
// copy of the workspaces), and the compose file builds it.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { loadCompose, ROOT } from './lib/compose';
import { copyFrom, copySources, DockerfileSyntaxError, parseDockerfile, type Stage } from './lib/dockerfile';

const dockerfilePath = join(ROOT, 'infra', 'Dockerfile');
const dockerfile = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
const stages = dockerfile.stages;
const final = stages[stages.length - 1]!;
const byName = new Map(stages.flatMap((s) => (s.name ? [[s.name, s] as const] : [])));
const all = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('infra/Dockerfile - stages', () => {
  it('is multi-stage: build, runtime-files, runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime-files', 'runtime']);
  });

  it('every COPY --from names an earlier stage', () => {
    for (const stage of stages) {
      for (const ins of stage.instructions.filter((i) => i.keyword === 'COPY')) {
        const from = copyFrom(ins);
        if (from === undefined) continue;
        const source = byName.get(from);
        expect(source ? source.index < stage.index : `line ${ins.line}: no earlier stage ${from}`).toBe(true);
      }
    }
  });

  it('every stage but the last feeds a later one', () => {
    for (const stage of stages.slice(0, -1)) {
      const used = stages.some(
        (s) =>
          s.index > stage.index &&
          s.instructions.some((i) => i.keyword === 'COPY' && copyFrom(i) === stage.name),
      );
      expect({ stage: stage.name, used }).toEqual({ stage: stage.name, used: true });
    }
  });

  it('the base image is one ARG with a default, a slim Node 20 or later', () => {
    const image = dockerfile.globalArgs.NODE_IMAGE;
    expect(image).toMatch(/^node:(2\d|[3-9]\d)-[a-z]+-slim$/);
    for (const s of stages) expect(s.from).toBe('${NODE_IMAGE}');
  });

  it('what the build stage copies from the context exists (manifests of every workspace included)', () => {
    const build = byName.get('build')!;
    const copies = build.instructions.filter((i) => i.keyword === 'COPY' && copyFrom(i) === undefined);
    const sources = copies.flatMap(copySources);
    for (const s of sources) expect(existsSync(join(ROOT, s)) ? s : `missing: ${s}`).toBe(s);
    const workspaces = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
    ).workspaces;
    const dirs = workspaces.flatMap((w) => {
      const parent = w.replace(/\/\*$/, '');
      return readdirSync(join(ROOT, parent))
        .filter((d) => existsSync(join(ROOT, parent, d, 'package.json')))
        .map((d) => `${parent}/${d}/package.json`);
    });
    expect(sources.filter((s) => s.endsWith('/package.json')).sort()).toEqual(dirs.sort());
  });

  it('the reader refuses an instruction before FROM', () => {
    expect(() => parseDockerfile('RUN true\nFROM x')).toThrow(DockerfileSyntaxError);
    const joined = parseDockerfile('ARG A=1\nFROM a AS b\nRUN one \\\n  # note\n  two\n');
    expect(joined.stages[0]!.instructions[0]!.args).toBe('one two');
  });
});

describe('infra/Dockerfile - the runtime image', () => {
  it("runs as a non-root user, set after the last file is copied and the entrypoint is raftline's", () => {
    const users = all(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.split(':')[0]!;
    expect(['root', '0', '']).not.toContain(user);
    const userAt = final.instructions.findIndex((i) => i.keyword === 'USER');
    const lastCopy = final.instructions.map((i) => i.keyword).lastIndexOf('COPY');
    expect(userAt).toBeGreaterThan(lastCopy);
    expect(JSON.parse(all(final, 'ENTRYPOINT')[0]!)).toEqual(['node', '/app/packages/cli/bin/raftline.js']);
  });

  it('holds runtime files only: dist, bin and manifests, production dependencies', () => {
    // The final stage copies one tree, from runtime-files; that stage copies the build's /out,
    // which holds each workspace's package.json, dist, bin and "files", and installs with --omit=dev.
    const copies = final.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies.map(copyFrom)).toEqual(['runtime-files']);
    const files = byName.get('runtime-files')!;
    expect(files.instructions.filter((i) => i.keyword === 'COPY').map(copyFrom)).toEqual(['build']);
    expect(all(files, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
    const staging = all(byName.get('build')!, 'RUN').find((r) => r.includes('/out'))!;
    expect(staging).toMatch(/\$dir\/package\.json/);
    expect(staging).toMatch(/\bdist\b/); // what it keeps is checked by running it, below
    expect(staging).not.toMatch(/\$dir\/src|\$dir\/test|node_modules/);
    // The cli's bin runs dist/ when the repository's TypeScript hook is absent, as in the image.
    const bin = readFileSync(join(ROOT, 'packages', 'cli', 'bin', 'raftline.js'), 'utf8');
    expect(bin).toMatch(/scripts', 'ts-register\.js'/);
    expect(bin).toMatch(/\.\.\/dist\/main\.js/);
    expect(all(final, 'ENV')).toContain('NODE_ENV=production');
  });

  it('the staging step keeps each workspace\'s package.json, dist, bin and "files": the cli\'s dashboard page, no sources or tests', () => {
    const staging = all(byName.get('build')!, 'RUN').find((r) => r.includes('/out'))!;
    const work = mkdtempSync(join(tmpdir(), 'raftline-dockerfile-'));
    try {
      // The build stage's tree after `turbo run build`: every workspace's manifest, sources and
      // bin, a built dist (one file: tests never depend on a build), and a test and a
      // node_modules that must stay behind.
      const src = join(work, 'src');
      const out = join(work, 'out');
      for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(src, f));
      const dirs = ['packages', 'services'].flatMap((parent) =>
        readdirSync(join(ROOT, parent))
          .map((d) => `${parent}/${d}`)
          .filter((d) => existsSync(join(ROOT, d, 'package.json'))),
      );
      for (const dir of dirs) {
        for (const f of ['package.json', 'README.md', 'LICENSE', 'src', 'bin']) {
          if (existsSync(join(ROOT, dir, f)))
            cpSync(join(ROOT, dir, f), join(src, dir, f), { recursive: true });
        }
        for (const f of [
          'dist/index.js',
          'dist/cjs/index.js',
          'dist/esm/index.js',
          'test/a.spec.ts',
          'node_modules/x/index.js',
        ]) {
          mkdirSync(dirname(join(src, dir, f)), { recursive: true });
          writeFileSync(join(src, dir, f), '');
        }
      }
      execFileSync('/bin/sh', ['-c', staging.replaceAll('/out', out)], {
        cwd: src,
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      });

      const files = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => relative(dir, join(e.parentPath, e.name)))
          .sort();
      const shipped = files(out);
      expect(shipped.filter((f) => /(^|\/)(test|node_modules)\/|\.ts$/.test(f))).toEqual([]);
      for (const dir of dirs) {
        const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
          files?: string[];
        };
        const wanted = ['package.json', 'dist', 'bin', ...(manifest.files ?? [])].filter((p) =>
          existsSync(join(src, dir, p)),
        );
        const top = [
          ...new Set(
            shipped.filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1).split('/')[0]!),
          ),
        ];
        expect([dir, top.sort()]).toEqual([dir, [...new Set(wanted.map((p) => p.split('/')[0]!))].sort()]);
      }
      // The dashboard's page (read from src/dashboard/assets, relative to dist/), byte for byte;
      // uPlot, which it reads from node_modules, is a production dependency (npm ci --omit=dev).
      const assets = join('packages', 'cli', 'src', 'dashboard', 'assets');
      expect(files(join(out, assets))).toEqual(files(join(ROOT, assets)));
      expect(files(join(out, assets)).length).toBeGreaterThan(0);
      for (const f of files(join(ROOT, assets))) {
        expect(readFileSync(join(out, assets, f)).equals(readFileSync(join(ROOT, assets, f)))).toBe(true);
      }
      expect(files(join(out, 'packages', 'cli', 'src'))).toEqual(
        files(join(ROOT, assets)).map((f) => join('dashboard', 'assets', f)),
      );
      const cli = JSON.parse(readFileSync(join(ROOT, 'packages', 'cli', 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(cli.dependencies).toHaveProperty('uplot');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('the context ignore file keeps node_modules, dist and .git out', () => {
    const ignore = readFileSync(join(ROOT, 'infra', 'Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/dist', '.git']) expect(ignore).toContain(p);
  });

  it('the compose file builds it from the repository root, to the runtime stage', () => {
    const compose = loadCompose();
    const built = Object.values(compose.services).filter((s) => s.build !== undefined);
    expect(built.length).toBeGreaterThan(0);
    for (const s of built) {
      expect(s.build).toEqual({ context: '.', dockerfile: 'infra/Dockerfile', target: final.name });
    }
  });
});
