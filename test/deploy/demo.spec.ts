// npm run demo, run as a process: over NATS (a nats-server of its own, as
// when nats-server is on the PATH) and in one process (no nats-server on the
// PATH, no NATS_URL). Its narrative must tell each step with what happened,
// and end with every replica agreeing.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { ROOT } from './lib/compose';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runDemo(env: Record<string, string | undefined>, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', join(ROOT, 'scripts', 'ts-register.js'), join(ROOT, 'scripts', 'demo.ts'), ...args],
      { cwd: ROOT, env: env as NodeJS.ProcessEnv, timeout: 400_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** The lines a successful narrative has, in this order. */
const NARRATIVE = [
  /^1\. Starting the replicas/m,
  /leaders elected: task-queue n[123], feature-flags n[123], coordinator n[123]$/m,
  /^\| GROUP \| NODE \| ROLE +\| TERM \| LEADER \| COMMIT \| APPLIED \|$/m,
  /^2\. Task queue: a worker processes jobs/m,
  /worker completed 2\d jobs; queue stats: ready 0, leased 0, done 20$/m,
  /^3\. Feature flags: a change seen live/m,
  /user-42 gets false \(STATIC\)$/m,
  /the watcher saw index \d+: setFlag new-checkout default → on, \d+ ms after it was sent$/m,
  /user-42 now gets true \(STATIC\)$/m,
  /^4\. Coordinator: a task handed over/m,
  /ada coordinates "nightly-report" in epoch 1/m,
  /ada resigns: bob now holds it in epoch 2, resuming from "step 2 of 3 done"$/m,
  /ada's late write under epoch 1: refused \(StaleEpochError\)$/m,
  /^5\. Killing the task queue's leader (n[123])/m,
  /the others elected n[123]; 20 more jobs were enqueued and done/m,
  /^\| jobs +\| n[123] +\| down /m,
  /^6\. Restarting n[123] from its data directory: it catches up/m,
  /^7\. Verify: every replica hashes its state at one marker/m,
  /^ +task-queue +at index +\d+: n1 \S+ +n2 \S+ +n3 \S+ +agree$/m,
  /^ +feature-flags at index +\d+: n1 \S+ +n2 \S+ +n3 \S+ +agree$/m,
  /^ +coordinator +at index +\d+: n1 \S+ +n2 \S+ +n3 \S+ +agree$/m,
  /^Every replica agrees\. Done in \d+\.\ds\.$/m,
];

function expectNarrative(run: Run): void {
  expect({ code: run.code, stderr: run.stderr.trim() }).toEqual({ code: 0, stderr: '' });
  let from = 0;
  for (const line of NARRATIVE) {
    const m = line.exec(run.stdout.slice(from));
    expect(m ? line : `missing after offset ${from}: ${String(line)}\n${run.stdout}`).toBe(line);
    from += m!.index + m![0].length;
  }
  // The killed leader is the one that comes back.
  const killed = /^5\. Killing the task queue's leader (n\d)/m.exec(run.stdout)![1];
  expect(run.stdout).toMatch(new RegExp(`^6\\. Restarting ${killed} `, 'm'));
  // After the restart every replica is back: no 'down' row in the last table.
  const last = run.stdout.slice(run.stdout.indexOf('\n6. '), run.stdout.indexOf('\n7. '));
  expect(last).not.toMatch(/\| down /);
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const hasNatsServer = (process.env.PATH ?? '')
  .split(delimiter)
  .some((d) => d && existsSync(join(d, 'nats-server')));
const base = { HOME: process.env.HOME, TMPDIR: process.env.TMPDIR };

describe('npm run demo', () => {
  (hasNatsServer ? it : it.skip)(
    'over NATS: raftline serve processes on a nats-server of its own, which it stops afterwards',
    async () => {
      const run = await runDemo({ ...base, PATH: process.env.PATH });
      expectNarrative(run);
      const url = /a nats-server of the demo's own at nats:\/\/127\.0\.0\.1:(\d+)/.exec(run.stdout);
      expect(url).not.toBeNull();
      expect(run.stdout).toMatch(/Killing the task queue's leader n\d \(kill -9 of its process\)/);
      expect(await accepts(Number(url![1]))).toBe(false);
    },
    420_000,
  );

  it('without nats-server on the PATH or NATS_URL: in one process, over the in-process transport', async () => {
    const run = await runDemo({ ...base, PATH: '/nonexistent' });
    expectNarrative(run);
    expect(run.stdout).toMatch(
      /in this process, over the in-process transport \(no nats-server on the PATH and no NATS_URL\)/,
    );
  }, 420_000);

  it('names what failed and exits 1 when the NATS it is given does not answer', async () => {
    const run = await runDemo({ ...base, PATH: '/nonexistent', NATS_URL: 'nats://127.0.0.1:1' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^demo failed: \S+/m);
  }, 120_000);
});
