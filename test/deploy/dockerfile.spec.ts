// infra/Dockerfile, checked without building it: its stages exist and are
// used, what it copies from the build context exists, the final image runs
// as a non-root user with only runtime files, and the compose file builds it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // which holds each workspace's package.json, dist and bin, and installs with --omit=dev.
    const copies = final.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies.map(copyFrom)).toEqual(['runtime-files']);
    const files = byName.get('runtime-files')!;
    expect(files.instructions.filter((i) => i.keyword === 'COPY').map(copyFrom)).toEqual(['build']);
    expect(all(files, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
    const staging = all(byName.get('build')!, 'RUN').find((r) => r.includes('/out'))!;
    expect(staging).toMatch(/\$dir\/package\.json/);
    expect(staging).toMatch(/\$dir\/dist/);
    expect(staging).not.toMatch(/\$dir\/src|\$dir\/test|node_modules/);
    // The cli's bin runs dist/ when the repository's TypeScript hook is absent, as in the image.
    const bin = readFileSync(join(ROOT, 'packages', 'cli', 'bin', 'raftline.js'), 'utf8');
    expect(bin).toMatch(/scripts', 'ts-register\.js'/);
    expect(bin).toMatch(/\.\.\/dist\/main\.js/);
    expect(all(final, 'ENV')).toContain('NODE_ENV=production');
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
