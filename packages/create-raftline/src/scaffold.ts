import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectFiles, type TemplateValues } from './templates';

/** The TypeScript and Node types a generated project compiles with. */
export const TOOL_RANGES = { typescript: '~5.9.3', nodeTypes: '^20.19.0' } as const;

/**
 * A project cannot be scaffolded as asked: the name is not a valid npm
 * package name, or the directory exists and is not empty. The message names
 * the argument and the value.
 */
export class ScaffoldError extends Error {
  override readonly name = 'ScaffoldError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What to scaffold. */
export interface ScaffoldOptions {
  /** The directory to create (or an empty one to fill). */
  readonly dir: string;
  /** The package name; default: the directory's base name. */
  readonly name?: string;
  /** The range of the @raftline/* dependencies; default: `^` this package's version. */
  readonly raftlineRange?: string;
}

/** What scaffold wrote. */
export interface ScaffoldResult {
  /** The project directory, absolute. */
  readonly dir: string;
  /** The package name written to its package.json. */
  readonly name: string;
  /** The files written, relative to dir, in writing order. */
  readonly files: string[];
}

/**
 * Why `name` is not a valid npm package name (lower case, URL-safe, at most
 * 214 characters, optionally scoped), or undefined when it is.
 */
export function packageNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 214) return 'it is longer than 214 characters';
  if (name !== name.toLowerCase()) return 'it has upper-case letters';
  if (!/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name)) {
    return 'it must be lower-case letters, digits, and - . _ ~ (optionally @scope/name), starting with a letter or digit';
  }
  return undefined;
}

/** This package's version, from its package.json (found upwards from this file). */
export function ownVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'create-raftline' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error('create-raftline: cannot find its own package.json');
  }
}

/**
 * Writes a new project into options.dir: a state machine, a SimCluster test,
 * a `raftline serve` config, a README, package.json and tsconfig.json.
 * @returns the directory, the package name and the files written
 * @throws ScaffoldError when the name is not a valid package name or the
 *   directory exists and is not empty (nothing is written then)
 */
export function scaffold(options: ScaffoldOptions): ScaffoldResult {
  const dir = path.resolve(options.dir);
  const name = options.name ?? path.basename(dir);
  const problem = packageNameProblem(name);
  if (problem !== undefined) {
    throw new ScaffoldError(
      `${options.name === undefined ? 'the directory name' : '--name'} "${name}" is not a valid package name: ${problem}${options.name === undefined ? ' (pass --name)' : ''}`,
    );
  }
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory())
      throw new ScaffoldError(`${options.dir} exists and is not a directory`);
    const entries = fs.readdirSync(dir).filter((e) => e !== '.git');
    if (entries.length > 0) {
      throw new ScaffoldError(
        `${options.dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`,
      );
    }
  }
  const values: TemplateValues = {
    name,
    raftlineRange: options.raftlineRange ?? `^${ownVersion()}`,
    typescriptRange: TOOL_RANGES.typescript,
    nodeTypesRange: TOOL_RANGES.nodeTypes,
  };
  const files: string[] = [];
  for (const [file, text] of projectFiles(values)) {
    const target = path.join(dir, ...file.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    files.push(file);
  }
  return { dir, name, files };
}
