// A PostgreSQL server of a test's own, for tests that stop, restart or kill
// the server: the machine's server (127.0.0.1:5432) belongs to its developer
// and to every other suite, and is never stopped by a test.
//
// The server is initdb'ed into a temporary directory and started with
// `postgres` directly, as a child of the test process (so its exit is seen and
// reaped even where PID 1 reaps nothing), on a spare loopback port with trust
// auth. Durability settings (fsync, synchronous_commit, full_page_writes) keep
// their defaults: what survives a crash is under test. When the test runs as
// root, initdb and postgres (which refuse root) run as the `postgres` system
// user through runuser (or su), and the directory is handed to that user.
// Linux only: kill9() and the stale-run cleanup read /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/** Every instance's directory is `<tmpdir>/raftline-pg-XXXXXX`; the stale-run cleanup looks for these. */
const DIR_PREFIX = 'raftline-pg-';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
/** A directory with no owner file yet is left alone this long (its run may be writing it). */
const OWNERLESS_GRACE_MS = 10 * 60_000;

/** How stop() shuts the server down (PostgreSQL's shutdown modes; `smart` would wait for clients). */
export type ShutdownMode = 'fast' | 'immediate';
const SHUTDOWN_SIGNAL: Record<ShutdownMode, NodeJS.Signals> = { fast: 'SIGINT', immediate: 'SIGQUIT' };

/**
 * The directory holding initdb and postgres: RAFTLINE_PG_BIN when set, else the
 * newest /usr/lib/postgresql/<version>/bin that has initdb (Debian's layout),
 * else the directory of `pg_config --bindir`.
 * @throws Error naming what was searched when none is found
 */
export function postgresBinDir(): string {
  const fromEnv = process.env.RAFTLINE_PG_BIN;
  if (fromEnv) {
    if (!existsSync(path.join(fromEnv, 'initdb')))
      throw new Error(`RAFTLINE_PG_BIN=${fromEnv} has no initdb`);
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return path.join(root, versions[0], 'bin');
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config on the PATH: fall through to the error
  }
  throw new Error(
    `no PostgreSQL server binaries: set RAFTLINE_PG_BIN, or install the server (Debian: apt-get install postgresql), which puts initdb under ${root}/<version>/bin`,
  );
}

/** The OS user the server runs as when the test runs as root (override with RAFTLINE_PG_OS_USER). */
const serverUser = (): string | undefined =>
  process.getuid?.() === 0 ? (process.env.RAFTLINE_PG_OS_USER ?? 'postgres') : undefined;

/** The command line that runs `file args` as `user` (runuser, or su where there is no runuser). */
function asUser(user: string | undefined, file: string, args: readonly string[]): [string, string[]] {
  if (!user) return [file, [...args]];
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => existsSync(p));
  if (runuser) return [runuser, ['-u', user, '--', file, ...args]];
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return ['su', ['-s', '/bin/sh', user, '-c', `exec ${[file, ...args].map(quote).join(' ')}`]];
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether process pid exists and is not a zombie (an exited child nobody reaped holds no resources). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": comm may hold spaces and parentheses.
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The live processes whose working directory is dir: a postmaster and its backends all run in the data directory. */
function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === dir) out.push(pid);
    } catch {
      // gone meanwhile, a zombie, or not ours to read
    }
  }
  return out;
}

/**
 * kill -9 of a server, as a crash would end it: the postmaster first, so it
 * forks nothing more and restarts nobody, then every backend still running in
 * its data directory. Resolves once none is left. (Not SIGSTOP first: runuser
 * and su stop themselves when their child stops.)
 */
async function killServer(postmaster: number, dataDir: string): Promise<void> {
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited on its own
    }
  };
  kill(postmaster);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const left = processesIn(dataDir);
    if (left.length === 0 && !alive(postmaster)) return;
    if (Date.now() > deadline) throw new Error(`PostgreSQL processes ${left.join(', ')} survived SIGKILL`);
    left.forEach(kill);
    await sleep(20);
  }
}

/** The postmaster's pid from data/postmaster.pid, if the file is there and names a live process. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes what crashed test runs left behind: every `<tmpdir>/raftline-pg-*`
 * whose owner process is gone, after killing the server still running in it
 * (recognised by its working directory being that data directory). Others'
 * live instances are left alone. Called by every ThrowawayPostgres.start().
 */
export async function removeStaleThrowaways(): Promise<void> {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(base, name);
    try {
      const ownerFile = path.join(dir, 'owner');
      if (existsSync(ownerFile)) {
        if (alive(Number(readFileSync(ownerFile, 'utf8')))) continue;
      } else if (Date.now() - statSync(dir).mtimeMs < OWNERLESS_GRACE_MS) {
        continue;
      }
      const data = path.join(dir, 'data');
      const pid = postmasterPid(data);
      if (pid !== undefined && processesIn(data).includes(pid)) await killServer(pid, data);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // another run is cleaning the same directory, or it is not ours to read: leave it
    }
  }
}

/**
 * A PostgreSQL server of the test's own (see the file comment). Usage:
 * `const pg = new ThrowawayPostgres(); await pg.start(); ... await pg.remove();`
 * in beforeAll/afterAll (remove() in afterAll also runs when a test failed).
 * Connect as user postgres, database postgres, at `url`.
 */
export class ThrowawayPostgres {
  private dir: string | undefined;
  private portNumber = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  /** postgres://postgres@127.0.0.1:<port>/postgres (valid from the first start()). */
  get url(): string {
    if (!this.dir) throw new Error('ThrowawayPostgres: url read before start()');
    return `postgres://postgres@127.0.0.1:${this.portNumber}/postgres`;
  }

  /** The loopback port, chosen on the first start() and kept across restarts. */
  get port(): number {
    return this.portNumber;
  }

  /** The instance's directory (data/, server.log, owner); undefined before start() and after remove(). */
  get directory(): string | undefined {
    return this.dir;
  }

  /** Whether the server process is running (it may not accept connections yet, or any more). */
  get running(): boolean {
    return this.child !== undefined;
  }

  /**
   * Starts the server and resolves once it answers a query. The first call
   * removes stale instances of crashed runs, runs initdb and picks the port;
   * later calls (after stop() or kill9()) start the same data directory on
   * the same port, which runs crash recovery after kill9(). Does nothing when running.
   * @throws Error with the end of the server log when it does not come up within 30 s
   */
  async start(): Promise<void> {
    if (this.child) return;
    if (!this.dir) {
      await removeStaleThrowaways();
      this.dir = this.init();
      for (let attempt = 1; ; attempt++) {
        this.portNumber = await sparePort();
        try {
          return await this.launch();
        } catch (err) {
          // The spare port was taken before the server bound it: try another.
          if (attempt >= 3 || !/could not bind|already in use/i.test(this.log())) throw err;
        }
      }
    }
    await this.launch();
  }

  /**
   * Shuts the server down and resolves once it has exited: `fast` (default)
   * ends sessions and checkpoints; `immediate` exits without a checkpoint, so
   * the next start() runs crash recovery. Does nothing when not running.
   * @throws Error when it has not exited within 30 s (it is then killed with kill9())
   */
  async stop(options: { mode?: ShutdownMode } = {}): Promise<void> {
    const child = this.child;
    const pid = this.dir ? postmasterPid(this.data()) : undefined;
    if (!child || pid === undefined) return this.kill9();
    process.kill(pid, SHUTDOWN_SIGNAL[options.mode ?? 'fast']);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      await this.kill9();
      throw new Error(
        `ThrowawayPostgres: ${options.mode ?? 'fast'} shutdown took over ${STOP_TIMEOUT_MS} ms`,
      );
    }
  }

  /** stop(options) then start(). */
  async restart(options: { mode?: ShutdownMode } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /**
   * kill -9 of the postmaster and all its backends at once, as if the server
   * crashed: no shutdown, no checkpoint. Resolves once every one of them is
   * gone; start() then recovers from the WAL. Does nothing when not running.
   */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const pid = this.dir ? postmasterPid(this.data()) : undefined;
    if (pid !== undefined) await killServer(pid, this.data());
    else child.kill('SIGKILL'); // not up far enough to have written postmaster.pid
    await this.exited;
  }

  /** Kills the server if running and deletes its directory. Safe to call in any state, repeatedly. */
  async remove(): Promise<void> {
    await this.kill9();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** The end of the server's log (every run's stderr), without the readiness polls' "starting up" refusals. */
  log(): string {
    try {
      const text = this.dir ? readFileSync(path.join(this.dir, 'server.log'), 'utf8') : '';
      const lines = text.split('\n').filter((l) => !l.includes('the database system is starting up'));
      return lines.join('\n').slice(-4000);
    } catch {
      return '';
    }
  }

  private data(): string {
    return path.join(this.dir ?? '', 'data');
  }

  /** Creates the instance directory and runs initdb in it; returns the directory. */
  private init(): string {
    const dir = mkdtempSync(path.join(tmpdir(), DIR_PREFIX));
    writeFileSync(path.join(dir, 'owner'), String(process.pid));
    const user = serverUser();
    if (user) {
      const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
      chownSync(dir, id('-u'), id('-g'));
    }
    const [file, args] = asUser(user, path.join(postgresBinDir(), 'initdb'), [
      ...['-D', path.join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C'],
      '--no-sync', // initdb's own flush of the new files only; the server's fsync stays on
    ]);
    try {
      execFileSync(file, args, { stdio: 'pipe', timeout: 60_000 });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(
        `ThrowawayPostgres: initdb failed (${file} ${args.join(' ')}): ${stderr || String(err)}`,
      );
    }
    return dir;
  }

  /** Spawns postgres on this.dir and this.portNumber; resolves once it answers. */
  private async launch(): Promise<void> {
    const dir = this.dir ?? '';
    const logFd = openSync(path.join(dir, 'server.log'), 'a');
    const [file, args] = asUser(serverUser(), path.join(postgresBinDir(), 'postgres'), [
      ...['-D', this.data(), '-p', String(this.portNumber), '-k', dir],
      ...['-c', 'listen_addresses=127.0.0.1'],
    ]);
    const child = spawn(file, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await this.answers())) {
      if (this.child !== child)
        throw new Error(`ThrowawayPostgres: server exited while starting: ${this.log()}`);
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`ThrowawayPostgres: not accepting after ${START_TIMEOUT_MS} ms: ${this.log()}`);
      }
      await sleep(50);
    }
  }

  private async answers(): Promise<boolean> {
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
