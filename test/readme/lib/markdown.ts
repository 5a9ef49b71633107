// Reads the fenced code blocks of a README and the `readme-test` directives
// above them. See test/readme/README.md for the syntax.

/** How a ```ts block runs. */
export type RunMode =
  /** Part of the README's one in-process module, in order, each block seeing the names of the blocks before it. */
  | 'module'
  /** A program of its own: one child process per argv entry, waited for; each must exit 0. */
  | 'process'
  /** A program of its own: one child process per argv entry, left running until the README's last block has run, then sent SIGTERM; each must exit 0. */
  | 'background';

/** A fenced code block and what its directive (if any) says about it. */
export interface CodeBlock {
  /** The README, relative to the repository root. */
  readonly readme: string;
  /** 1-based line of the block's first code line in the README. */
  readonly line: number;
  /** The info string's first word, lower case ('' when there is none). */
  readonly lang: string;
  /** The info string's other words, e.g. 'no-run'. */
  readonly flags: readonly string[];
  readonly code: string;
  /** Fixture files (test/readme/preludes/<name>.ts) that run before the block. */
  readonly preludes: readonly string[];
  readonly run: RunMode;
  /** For 'process' and 'background': the arguments of each process (one process with none by default). */
  readonly argv: readonly (readonly string[])[];
}

/** A README that does not follow the syntax; the message names the file and line. */
export class ReadmeSyntaxError extends Error {
  constructor(readme: string, line: number, problem: string) {
    super(`${readme}:${line}: ${problem}`);
    this.name = 'ReadmeSyntaxError';
  }
}

/** The languages whose blocks are compiled and run, and those whose `npm` commands are checked. */
export const TS_LANGS = new Set(['ts', 'typescript']);
export const SHELL_LANGS = new Set(['', 'sh', 'bash', 'shell', 'console']);
const TS_FLAGS = new Set(['no-run']);
const DIRECTIVE = /^\s*<!--\s*readme-test:(.*?)-->\s*$/;
const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;

interface Directive {
  readonly line: number;
  readonly preludes: string[];
  readonly run: RunMode;
  readonly argv: string[][];
}

/**
 * Returns every fenced code block of `text`, in order.
 * @throws ReadmeSyntaxError for an unclosed fence, a directive that names an
 *   unknown key or value or is not followed by a code block, or an unknown flag on a ts block
 */
export function codeBlocks(readme: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  let directive: Directive | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const d = DIRECTIVE.exec(line);
    if (d) {
      if (directive)
        throw new ReadmeSyntaxError(readme, directive.line, 'directive not followed by a code block');
      directive = parseDirective(readme, i + 1, d[1]!);
      continue;
    }
    const open = FENCE.exec(line);
    if (!open) {
      if (directive && line.trim() !== '') {
        throw new ReadmeSyntaxError(readme, directive.line, 'directive not followed by a code block');
      }
      continue;
    }
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const [lang = '', ...flags] = info.trim().split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let closed = false;
    for (i++; i < lines.length; i++) {
      const l = lines[i]!;
      const close = FENCE.exec(l);
      if (close && close[2]![0] === fence[0] && close[2]!.length >= fence.length && close[3]!.trim() === '') {
        closed = true;
        break;
      }
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    const start = i - body.length + 1; // 1-based line of the first code line
    if (!closed) throw new ReadmeSyntaxError(readme, start - 1, 'code block is never closed');
    const language = lang.toLowerCase();
    if (TS_LANGS.has(language)) {
      const bad = flags.filter((f) => !TS_FLAGS.has(f));
      if (bad.length > 0) {
        throw new ReadmeSyntaxError(
          readme,
          start - 1,
          `unknown flag ${bad.join(', ')} (known: ${[...TS_FLAGS]})`,
        );
      }
    } else if (directive) {
      throw new ReadmeSyntaxError(
        readme,
        directive.line,
        'a readme-test directive applies to ```ts blocks only',
      );
    }
    if (flags.includes('no-run') && directive && directive.run !== 'module') {
      throw new ReadmeSyntaxError(readme, directive.line, `a no-run block cannot have run=${directive.run}`);
    }
    blocks.push({
      readme,
      line: start,
      lang: language,
      flags,
      code: body.join('\n'),
      preludes: directive?.preludes ?? [],
      run: directive?.run ?? 'module',
      argv: directive?.argv.length ? directive.argv : [[]],
    });
    directive = undefined;
  }
  if (directive)
    throw new ReadmeSyntaxError(readme, directive.line, 'directive not followed by a code block');
  return blocks;
}

function parseDirective(readme: string, line: number, text: string): Directive {
  const preludes: string[] = [];
  let run: RunMode = 'module';
  let argv: string[][] = [];
  for (const part of text.trim().split(/\s+/).filter(Boolean)) {
    const [key, value = ''] = part.split('=', 2) as [string, string?];
    const list = value.split(',').filter(Boolean);
    if (key === 'prelude' && list.length > 0 && list.every((p) => /^[a-z0-9-]+$/.test(p)))
      preludes.push(...list);
    else if (key === 'run' && (value === 'module' || value === 'process' || value === 'background'))
      run = value;
    else if (key === 'argv' && list.length > 0) argv = list.map((a) => a.split('+'));
    else throw new ReadmeSyntaxError(readme, line, `bad readme-test directive ${JSON.stringify(part)}`);
  }
  if (argv.length > 0 && run === 'module') {
    throw new ReadmeSyntaxError(readme, line, 'argv applies to run=process or run=background only');
  }
  return { line, preludes, run, argv };
}

/** The npm scripts a shell block runs: `npm run X`, `npm run-script X`, `npm test`, `npm start`. */
export function npmScripts(code: string): string[] {
  const found: string[] = [];
  for (const m of code.matchAll(/\bnpm\s+(?:run|run-script)\s+([^\s;&|]+)|\bnpm\s+(test|start)\b/g)) {
    found.push(m[1] ?? m[2]!);
  }
  return found;
}
