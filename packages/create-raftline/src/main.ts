import * as path from 'node:path';
import { ownVersion, scaffold, ScaffoldError } from './scaffold';

const USAGE = `Usage: create-raftline <directory> [--name <package-name>]

Creates a raftline project in <directory>: a replicated state machine
(src/counter.ts), a SimCluster test, a raftline serve config and a README.
  npm create raftline@latest my-service

Options:
  --name <name>   the package name (default: the directory's name)
  -h, --help      this help
  -v, --version   the version
`;

/** What the command was asked: a directory and a name, or help or the version. */
export type Parsed =
  | { readonly kind: 'create'; readonly dir: string; readonly name?: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

/**
 * Parses the arguments after the program name.
 * @returns the request
 * @throws ScaffoldError for an unknown option, a missing directory or
 *   --name value, or more than one directory
 */
export function parseArgs(args: readonly string[]): Parsed {
  let dir: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '-v' || arg === '--version') return { kind: 'version' };
    if (arg === '--name' || arg.startsWith('--name=')) {
      name = arg === '--name' ? args[++i] : arg.slice('--name='.length);
      if (name === undefined || name === '') throw new ScaffoldError('--name needs a value');
    } else if (arg.startsWith('-')) {
      throw new ScaffoldError(`unknown option ${arg} (see --help)`);
    } else if (dir !== undefined) {
      throw new ScaffoldError(`one directory only (got ${dir} and ${arg})`);
    } else {
      dir = arg;
    }
  }
  if (dir === undefined) throw new ScaffoldError('which directory? create-raftline <directory> (see --help)');
  return name === undefined ? { kind: 'create', dir } : { kind: 'create', dir, name };
}

/** Where run writes: process.stdout and process.stderr, or anything with write(text). */
export interface Output {
  write(text: string): unknown;
}

/**
 * Runs the command: writes the project and prints the next steps.
 * @returns the exit code: 0 done, 2 for a usage or scaffolding error (one
 *   line on stderr, no stack trace)
 */
export function run(
  argv: readonly string[],
  out: Output = process.stdout,
  err: Output = process.stderr,
): number {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv.slice(2));
    if (parsed.kind === 'help') {
      out.write(USAGE);
      return 0;
    }
    if (parsed.kind === 'version') {
      out.write(`${ownVersion()}\n`);
      return 0;
    }
    const result = scaffold(
      parsed.name === undefined ? { dir: parsed.dir } : { dir: parsed.dir, name: parsed.name },
    );
    const rel = path.relative(process.cwd(), result.dir) || '.';
    out.write(
      `Created ${result.name} in ${rel}: ${result.files.join(', ')}\n\n` +
        `Next:\n  cd ${rel}\n  npm install\n  npm test      # the SimCluster tests\n  npm start     # raftline serve (needs nats-server -js on 127.0.0.1:4222)\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ScaffoldError) {
      err.write(`create-raftline: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
