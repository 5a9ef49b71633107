// Every README in the repository: its ```ts blocks type-check and run, and the
// npm scripts its shell blocks name exist. How blocks get their context
// (preludes, programs, no-run) is in test/readme/README.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateReadme, removeGenerated, REPO, writeGenerated, type GeneratedReadme } from './lib/generate';
import { runReadme } from './lib/harness';
import { codeBlocks, npmScripts, SHELL_LANGS, TS_LANGS, type CodeBlock } from './lib/markdown';
import { typecheck } from './lib/typecheck';

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage', '.turbo', '.generated']);

/** Every README.md of the repository, relative to its root. */
function readmes(dir = REPO): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) found.push(...readmes(path.join(dir, entry.name)));
    else if (entry.isFile() && entry.name === 'README.md')
      found.push(path.relative(REPO, path.join(dir, entry.name)));
  }
  return found.sort();
}

interface Readme {
  readonly readme: string;
  readonly text: string;
  readonly blocks: readonly CodeBlock[];
  readonly syntaxError?: Error;
  generated?: GeneratedReadme;
}

function load(readme: string): Readme {
  const text = fs.readFileSync(path.join(REPO, readme), 'utf8');
  try {
    return { readme, text, blocks: codeBlocks(readme, text) };
  } catch (err) {
    return { readme, text, blocks: [], syntaxError: err as Error };
  }
}

function scriptsOf(dir: string): Set<string> {
  const file = path.join(REPO, dir, 'package.json');
  if (!fs.existsSync(file)) return new Set();
  return new Set(
    Object.keys((JSON.parse(fs.readFileSync(file, 'utf8')) as { scripts?: object }).scripts ?? {}),
  );
}

const all = readmes().map(load);
const typeErrors = new Map<string, string[]>();

beforeAll(() => {
  for (const r of all) {
    const ts = r.blocks.filter((b) => TS_LANGS.has(b.lang));
    if (ts.length > 0) r.generated = generateReadme(r.readme, ts);
  }
  const generated = all.flatMap((r) => (r.generated ? [r.generated] : []));
  writeGenerated(generated);
  const files = generated.flatMap((g) => [g.driver, ...g.steps.map((s) => s.file)]);
  if (files.length > 0) for (const [file, errors] of typecheck(files)) typeErrors.set(file, errors);
}, 180_000);

afterAll(() => removeGenerated());

/** The type errors of a README's generated files, at their README lines. */
function errorsOf(g: GeneratedReadme): string[] {
  return [g.driver, ...g.steps.map((s) => s.file)].flatMap((f) => typeErrors.get(f.path) ?? []);
}

describe.each(all.map((r) => [r.readme, r] as const))('%s', (_name, r) => {
  it('follows the readme-test syntax', () => {
    if (r.syntaxError) throw r.syntaxError;
  });

  it('names only npm scripts that exist', () => {
    const known = new Set([...scriptsOf('.'), ...scriptsOf(path.dirname(r.readme))]);
    const missing = r.blocks
      .filter((b) => SHELL_LANGS.has(b.lang))
      .flatMap((b) => npmScripts(b.code).map((s) => ({ s, line: b.line })))
      .filter(({ s }) => !known.has(s))
      .map(({ s, line }) => `${r.readme}:${line}: npm script '${s}' does not exist`);
    expect(missing).toEqual([]);
  });

  const tsBlocks = r.blocks.filter((b) => TS_LANGS.has(b.lang));
  if (tsBlocks.length === 0) return;

  it(`type-checks its ${tsBlocks.length} ts block(s)`, () => {
    const errors = errorsOf(r.generated!);
    if (errors.length > 0) throw new Error(`type errors:\n${errors.join('\n')}`);
  });

  it('runs them, block by block', async () => {
    const g = r.generated!;
    if (errorsOf(g).length > 0) throw new Error('not run: the blocks do not type-check');
    const printed: string[] = [];
    const capture = (...args: unknown[]): void => void printed.push(args.map(String).join(' '));
    const spies = (['log', 'info'] as const).map((m) => jest.spyOn(console, m).mockImplementation(capture));
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const driver = require(g.driver.path) as { run: Parameters<typeof runReadme>[1]['run'] };
      const programs = await runReadme(g, driver, r.text);
      if (process.env.README_TEST_VERBOSE) {
        process.stdout.write(
          `--- ${r.readme}: the blocks printed:\n${[...printed, ...programs].join('\n')}\n`,
        );
      }
    } catch (err) {
      const out = printed.length > 0 ? `\n--- the blocks printed:\n${printed.join('\n')}` : '';
      throw new Error(`${err instanceof Error ? err.message : String(err)}${out}`);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  }, 300_000);
});
