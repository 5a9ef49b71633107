// `npm create raftline@latest my-service` as a new user meets it, offline:
// the packages (libraries, CLI, create-raftline) are built and packed; the
// create-raftline tarball is installed and its bin scaffolds my-service; the
// project's @raftline/* dependencies are pointed at the tarball files
// (dependencies and overrides, so nothing is fetched under those names), it
// is installed, and then used exactly as its README says: `npm test` (tsc
// with skipLibCheck: false, then its SimCluster tests) and `npm start`
// (raftline serve on the machine's NATS, with a cluster id of its own),
// called with `npx raftline call` and `query`.
// Run from the repository root: npm run test:packaging (not part of npm test).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildPackages, packPackages, STARTER_PACKAGES } = require('./lib/packages.js') as {
  buildPackages: (names: string[]) => void;
  packPackages: (dest: string, names: string[]) => { name: string; tarball: string }[];
  STARTER_PACKAGES: string[];
};

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Ran {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Ran, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The HTTP status of GET url, or 0 when nothing answers. */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(2000, () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

/** Points every @raftline/* dependency of the project at its tarball, transitive ones too (overrides). */
function pointAtTarballs(project: string, packs: { name: string; tarball: string }[]): void {
  const file = path.join(project, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const spec = new Map(packs.map((p) => [p.name, `file:${p.tarball}`]));
  for (const field of ['dependencies', 'devDependencies']) {
    for (const name of Object.keys(pkg[field] ?? {})) {
      if (name.startsWith('@raftline/')) pkg[field]![name] = spec.get(name)!;
    }
  }
  const direct = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  // npm wants an override of a direct dependency to be that dependency's spec ($name).
  pkg.overrides = Object.fromEntries(
    [...spec].filter(([n]) => n.startsWith('@raftline/')).map(([n, s]) => [n, direct.has(n) ? `$${n}` : s]),
  );
  fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}

describe('packaging - npm create raftline: the generated project installs, tests and runs', () => {
  let root: string;
  let project: string;
  let created: Ran;
  let packs: { name: string; tarball: string }[];

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'raftline-starter-'));
    buildPackages(STARTER_PACKAGES);
    packs = packPackages(root, STARTER_PACKAGES);
    // What `npm create raftline` does: install create-raftline, run its bin in the current directory.
    const tools = path.join(root, 'tools');
    fs.mkdirSync(tools);
    fs.writeFileSync(path.join(tools, 'package.json'), JSON.stringify({ name: 'tools', private: true }));
    const starter = packs.find((p) => p.name === 'create-raftline')!;
    ok(
      sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', starter.tarball], tools),
      'npm install',
    );
    created = sh(path.join(tools, 'node_modules', '.bin', 'create-raftline'), ['my-service'], root);
    project = path.join(root, 'my-service');
    if (created.status === 0) {
      pointAtTarballs(project, packs);
      ok(sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project), 'npm install');
    }
  }, 900_000);

  afterAll(() => {
    if (root && !process.env.RAFTLINE_KEEP_CONSUMERS) fs.rmSync(root, { recursive: true, force: true });
  });

  it('create-raftline my-service writes the project and says what to do next', () => {
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/Created my-service in my-service/);
    for (const f of [
      'package.json',
      'tsconfig.json',
      'src/counter.ts',
      'test/counter.test.ts',
      'raftline.yaml',
      'README.md',
    ]) {
      expect(fs.existsSync(path.join(project, f))).toBe(true);
    }
  });

  it('npm test compiles it (skipLibCheck: false) and its SimCluster tests pass', () => {
    const r = sh('npm', ['test'], project);
    expect({ status: r.status, out: r.stdout.slice(-3000) + r.stderr.slice(-3000) }).toEqual({
      status: 0,
      out: expect.stringMatching(/# pass 2[\s\S]*# fail 0/),
    });
  }, 300_000);

  it('npm start serves the machine over NATS; npx raftline call and query reach it', async () => {
    const port = await sparePort();
    const env = {
      ...process.env,
      RAFTLINE_CLUSTER: `starter-${process.pid}-${Date.now()}`,
      RAFTLINE_METRICS_PORT: String(port),
    };
    let log = '';
    const serve: ChildProcess = spawn('npm', ['start'], {
      cwd: project,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve.stdout!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
    serve.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
    const exited = new Promise<void>((resolve) => serve.once('exit', () => resolve()));
    try {
      // Ready within 3 minutes (the first start of the embedded store may build its template): bounded polling.
      let ready = 0;
      for (let i = 0; i < 360 && ready !== 200 && serve.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        ready = await statusOf(`http://127.0.0.1:${port}/readyz`);
      }
      expect({ ready, log: ready === 200 ? '' : log }).toEqual({ ready: 200, log: '' });
      const call = sh(
        'npx',
        ['raftline', 'call', 'add', '["apples", 2]', '-c', 'raftline.yaml'],
        project,
        env,
      );
      expect({ status: call.status, stdout: call.stdout.trim(), stderr: call.stderr }).toEqual({
        status: 0,
        stdout: '2',
        stderr: '',
      });
      const refused = sh(
        'npx',
        ['raftline', 'call', 'add', '["apples", 1.5]', '-c', 'raftline.yaml'],
        project,
        env,
      );
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/by must be an integer/);
      const query = sh('npx', ['raftline', 'query', 'get', '"apples"', '-c', 'raftline.yaml'], project, env);
      expect({ status: query.status, stdout: query.stdout.trim(), stderr: query.stderr }).toEqual({
        status: 0,
        stdout: '2',
        stderr: '',
      });
    } finally {
      if (serve.exitCode === null && serve.pid !== undefined) {
        process.kill(-serve.pid, 'SIGTERM');
        const timer = setTimeout(
          () => serve.pid !== undefined && process.kill(-serve.pid, 'SIGKILL'),
          20_000,
        );
        await exited;
        clearTimeout(timer);
      }
    }
  }, 400_000);
});
