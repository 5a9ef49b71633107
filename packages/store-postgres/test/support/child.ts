import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const REPO = path.resolve(__dirname, '../../../..');
const TS_REGISTER = path.join(REPO, 'scripts/ts-register.js');

/** A TypeScript script of this package running as its own node process. */
export interface TsChild {
  readonly process: ChildProcess;
  /** Resolves with the first stdout line for which `match` returns true (rejects if the child exits first). */
  waitFor(match: (line: string) => boolean): Promise<string>;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit signal (or code) once the process is gone. */
  exited: Promise<NodeJS.Signals | number | null>;
}

/** Spawns `node -r scripts/ts-register.js <script> ...args`. */
export function spawnTs(script: string, args: string[]): TsChild {
  const child = spawn(process.execPath, ['-r', TS_REGISTER, script, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let errText = '';
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  child.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    process: child,
    lines,
    stderr: () => errText,
    exited,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(match);
        if (seen !== undefined) return resolve(seen);
        waiters.push({ match, resolve });
        void exited.then((how) => reject(new Error(`child exited (${how}) first; stderr: ${errText}`)));
      }),
  };
}
