import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageNameProblem, parseArgs, run, scaffold, ScaffoldError } from '../src/index';

const version = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

describe('create-raftline - scaffold', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'create-raftline-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes a machine, a SimCluster test, a serve config, a README, package.json and tsconfig.json', () => {
    const result = scaffold({ dir: path.join(tmp, 'my-service') });
    expect(result.name).toBe('my-service');
    expect(result.files.sort()).toEqual(
      [
        '.gitignore',
        'README.md',
        'package.json',
        'raftline.yaml',
        'src/counter.ts',
        'test/counter.test.ts',
        'tsconfig.json',
      ].sort(),
    );
    for (const f of result.files) expect(fs.existsSync(path.join(result.dir, f))).toBe(true);
  });

  it('names the package after the directory and depends on this version of raftline', () => {
    const { dir } = scaffold({ dir: path.join(tmp, 'inventory') });
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.name).toBe('inventory');
    expect(pkg.dependencies).toEqual({ '@raftline/cli': `^${version}`, '@raftline/core': `^${version}` });
    expect(pkg.devDependencies['@raftline/testing']).toBe(`^${version}`);
    expect(pkg.scripts.start).toBe('raftline serve -c raftline.yaml');
  });

  it('points raftline.yaml at the file tsc writes for src/counter.ts', () => {
    const { dir } = scaffold({ dir: path.join(tmp, 'svc') });
    const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    const { rootDir, outDir } = tsconfig.compilerOptions;
    const emitted = path.join(outDir, path.relative(rootDir, 'src/counter.ts')).replace(/\.ts$/, '.js');
    const yaml = fs.readFileSync(path.join(dir, 'raftline.yaml'), 'utf8');
    expect(yaml).toContain(`machine: ./${emitted.split(path.sep).join('/')}`);
    expect(yaml).toMatch(/^cluster: svc$/m);
  });

  it('takes --name over the directory name, and fills an empty directory', () => {
    fs.mkdirSync(path.join(tmp, 'Empty'));
    const result = scaffold({ dir: path.join(tmp, 'Empty'), name: '@acme/queue' });
    expect(result.name).toBe('@acme/queue');
  });

  it('refuses a directory that is not empty and writes nothing', () => {
    const dir = path.join(tmp, 'busy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => scaffold({ dir })).toThrow(ScaffoldError);
    expect(() => scaffold({ dir })).toThrow(/busy is not empty \(notes\.txt\)/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('refuses a name npm would refuse, naming it', () => {
    expect(() => scaffold({ dir: path.join(tmp, 'MyService') })).toThrow(
      'the directory name "MyService" is not a valid package name: it has upper-case letters (pass --name)',
    );
    expect(fs.existsSync(path.join(tmp, 'MyService'))).toBe(false);
    expect(packageNameProblem('ok-name')).toBeUndefined();
    expect(packageNameProblem('@scope/ok')).toBeUndefined();
    expect(packageNameProblem('.hidden')).toMatch(/starting with a letter or digit/);
    expect(packageNameProblem('a b')).toMatch(/lower-case letters/);
  });
});

describe('create-raftline - the command', () => {
  const capture = () => {
    let text = '';
    return { stream: { write: (s: string) => (text += s) }, text: () => text };
  };

  it('parses a directory, --name and --name=', () => {
    expect(parseArgs(['svc'])).toEqual({ kind: 'create', dir: 'svc' });
    expect(parseArgs(['svc', '--name', 'x'])).toEqual({ kind: 'create', dir: 'svc', name: 'x' });
    expect(parseArgs(['--name=x', 'svc'])).toEqual({ kind: 'create', dir: 'svc', name: 'x' });
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('refuses a missing directory, two directories and an unknown option', () => {
    expect(() => parseArgs([])).toThrow(/which directory\?/);
    expect(() => parseArgs(['a', 'b'])).toThrow('one directory only (got a and b)');
    expect(() => parseArgs(['a', '--force'])).toThrow('unknown option --force (see --help)');
    expect(() => parseArgs(['a', '--name'])).toThrow('--name needs a value');
  });

  it('exits 2 with one line on stderr for a bad request, 0 and the next steps when done', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'create-raftline-'));
    try {
      const out = capture();
      const err = capture();
      expect(run(['node', 'create-raftline', path.join(tmp, 'Bad')], out.stream, err.stream)).toBe(2);
      expect(err.text().trimEnd().split('\n')).toHaveLength(1);
      expect(err.text()).toMatch(/^create-raftline: the directory name "Bad"/);
      expect(run(['node', 'create-raftline', path.join(tmp, 'good')], out.stream, err.stream)).toBe(0);
      expect(out.text()).toMatch(/Created good in .*npm install/s);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
