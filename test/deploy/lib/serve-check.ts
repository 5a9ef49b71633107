/**
 * Runs `raftline serve --check` for a compose service as its container
 * would run it: the same arguments (paths inside the container mapped to
 * the files the bind mounts put there) and only the service's environment.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandOf, environmentOf, hostPathOf, ROOT, type ComposeService } from './compose';

const RAFTLINE_BIN = join(ROOT, 'packages', 'cli', 'bin', 'raftline.js');

/** What `raftline serve --check` printed and its exit code. */
export interface ServeCheck {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The validated configuration it printed (exit 0 only). */
  readonly config?: CheckedConfig;
}

/** The parts of the printed configuration the tests read (see ServeConfig in @raftline/cli). */
export interface CheckedConfig {
  readonly node: string;
  readonly cluster: string;
  readonly nats: { readonly servers: readonly string[] };
  readonly store: { readonly kind: string; readonly url?: string; readonly dataDir?: string };
  readonly metrics: { readonly enabled: boolean; readonly host: string; readonly port: number };
  readonly groups: readonly {
    readonly name: string;
    readonly machine: string;
    readonly voters: readonly string[];
  }[];
}

/** The service's command with every container path a bind mount covers replaced by the host file. */
export function hostArguments(service: ComposeService): string[] {
  return commandOf(service).map((arg) => (arg.startsWith('/') ? (hostPathOf(service, arg) ?? arg) : arg));
}

/**
 * Runs the check; `extraEnv` is laid over the service's environment (to break it on purpose).
 * @returns the exit code, the output, and the parsed configuration when it passed
 */
export function serveCheck(
  service: ComposeService,
  extraEnv: Readonly<Record<string, string | undefined>> = {},
): Promise<ServeCheck> {
  const args = hostArguments(service);
  if (args[0] !== 'serve') throw new Error(`not a raftline serve command: ${args.join(' ')}`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() };
  for (const [k, v] of Object.entries({ ...environmentOf(service), ...extraEnv })) {
    if (v !== undefined) env[k] = v;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RAFTLINE_BIN, ...args, '--check'],
      { cwd: tmpdir(), env, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({
          code,
          stdout,
          stderr,
          ...(code === 0 ? { config: JSON.parse(stdout) as CheckedConfig } : {}),
        });
      },
    );
  });
}
