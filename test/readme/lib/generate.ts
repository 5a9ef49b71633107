// Turns a README's ```ts blocks into TypeScript files: one driver module that
// runs the 'module' blocks in order (each nested in the scope of the blocks
// before it, so later blocks see earlier names and may shadow them) and starts
// the 'process'/'background' blocks at their place in the sequence, plus one
// file per program block. Every generated line maps back to a README (or
// prelude) line, so type errors and failures point at the README.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import type { CodeBlock } from './markdown';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const PRELUDES = path.join(REPO, 'test', 'readme', 'preludes');
/** Where generated files go: ignored by git, prettier and eslint; one directory per run (process). */
const CACHE = path.join(REPO, 'node_modules', '.cache', 'raftline-readme');
export const GENERATED = path.join(CACHE, `run-${process.pid}`);
const HARNESS = path.join(REPO, 'test', 'readme', 'lib', 'harness');

/** Where a generated line came from: a README or prelude line (repository-relative path, 1-based). */
export interface Origin {
  readonly file: string;
  readonly line: number;
}

/** A generated file: its text and, per line (0-based index), the line it came from. */
export interface GeneratedFile {
  readonly path: string;
  readonly text: string;
  readonly origins: readonly (Origin | undefined)[];
}

/** A program block, run by the driver at its place in the README. */
export interface ProgramStep {
  readonly block: CodeBlock;
  readonly file: GeneratedFile;
}

/** What one README becomes. */
export interface GeneratedReadme {
  readonly readme: string;
  readonly driver: GeneratedFile;
  readonly steps: readonly ProgramStep[];
  /** The ```ts blocks, in order: the driver's readmeTest.block(i) names blocks[i]. */
  readonly blocks: readonly CodeBlock[];
}

class Writer {
  private readonly lines: string[] = [];
  private readonly origins: (Origin | undefined)[] = [];

  /** Appends text; its k-th line came from origin.line + k (or from nowhere). */
  add(text: string, origin?: Origin): void {
    text.split('\n').forEach((l, k) => {
      this.lines.push(l);
      this.origins.push(origin && { file: origin.file, line: origin.line + k });
    });
  }

  done(file: string): GeneratedFile {
    return { path: file, text: this.lines.join('\n') + '\n', origins: this.origins };
  }
}

/** A piece of code with its imports taken out (replaced by blank space, so line numbers hold). */
interface Split {
  readonly imports: { readonly node: ts.ImportDeclaration; readonly text: string; readonly line: number }[];
  readonly body: string;
}

function splitImports(code: string): Split {
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true);
  const imports: Split['imports'][number][] = [];
  let body = code;
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st)) continue;
    const start = st.getStart(sf);
    const text = code.slice(start, st.end);
    imports.push({ node: st, text, line: sf.getLineAndCharacterOfPosition(start).line });
    body = body.slice(0, start) + text.replace(/[^\n]/g, ' ') + body.slice(st.end);
  }
  return { imports, body };
}

/**
 * Merges import declarations so that two blocks importing the same name from
 * the same module do not collide: named imports of one module become one
 * declaration; other forms are kept once each.
 */
class Imports {
  private readonly sideEffects = new Map<string, Origin>();
  private readonly named = new Map<string, { specs: Map<string, string>; origin: Origin }>();
  private readonly others = new Map<string, Origin>();

  add(split: Split, origin: (line: number) => Origin): void {
    for (const { node, text, line } of split.imports) {
      const from = (node.moduleSpecifier as ts.StringLiteral).text;
      const clause = node.importClause;
      const at = origin(line);
      if (!clause) {
        if (!this.sideEffects.has(from)) this.sideEffects.set(from, at);
      } else if (!clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings)) {
        const key = `${clause.isTypeOnly ? 'type ' : ''}${from}`;
        const entry = this.named.get(key) ?? { specs: new Map<string, string>(), origin: at };
        for (const el of clause.namedBindings.elements) {
          const local = el.name.text;
          const spec = `${el.isTypeOnly ? 'type ' : ''}${el.propertyName ? `${el.propertyName.text} as ` : ''}${local}`;
          const had = entry.specs.get(local);
          if (!had || had.startsWith('type ')) entry.specs.set(local, spec); // a value import covers a type one
        }
        this.named.set(key, entry);
      } else if (!this.others.has(text.replace(/\s+/g, ' '))) {
        this.others.set(text.replace(/\s+/g, ' '), at);
      }
    }
  }

  write(w: Writer): void {
    for (const [from, at] of this.sideEffects) w.add(`import '${from}';`, at);
    for (const [key, { specs, origin }] of this.named) {
      const typeOnly = key.startsWith('type ');
      const from = typeOnly ? key.slice(5) : key;
      w.add(`import ${typeOnly ? 'type ' : ''}{ ${[...specs.values()].join(', ')} } from '${from}';`, origin);
    }
    for (const [text, at] of this.others) w.add(text, at);
  }
}

function slug(readme: string): string {
  const dir = path.dirname(readme);
  return dir === '.' ? 'root' : dir.replace(/[^A-Za-z0-9]+/g, '-');
}

function preludeSource(name: string): { file: string; code: string } {
  const file = path.join(PRELUDES, `${name}.ts`);
  if (!fs.existsSync(file)) throw new Error(`prelude ${name}: no file ${path.relative(REPO, file)}`);
  return { file: path.relative(REPO, file), code: fs.readFileSync(file, 'utf8') };
}

function programFile(block: CodeBlock, file: string): GeneratedFile {
  const w = new Writer();
  w.add(`// Generated from ${block.readme}:${block.line} by test/readme: do not edit.`);
  w.add(block.code, { file: block.readme, line: block.line });
  const sf = ts.createSourceFile(file, block.code, ts.ScriptTarget.ES2022);
  if (!ts.isExternalModule(sf)) w.add('export {}; // a module, so its names stay its own');
  return w.done(file);
}

/** Generates the driver and program files of one README (not written to disk: see writeGenerated). */
export function generateReadme(readme: string, blocks: readonly CodeBlock[]): GeneratedReadme {
  const dir = path.join(GENERATED, slug(readme));
  const imports = new Imports();
  const body = new Writer();
  const steps: ProgramStep[] = [];
  let depth = 0;
  const addPreludes = (block: CodeBlock): void => {
    for (const name of block.preludes) {
      const { file, code } = preludeSource(name);
      const split = splitImports(code);
      imports.add(split, (line) => ({ file, line: line + 1 }));
      body.add(`// prelude ${name} (${file})`);
      body.add(split.body, { file, line: 1 });
    }
  };
  blocks.forEach((block, i) => {
    const where = `${block.readme}:${block.line}`;
    if (block.run !== 'module') {
      const file = path.join(dir, `L${block.line}.ts`);
      steps.push({ block, file: programFile(block, file) });
      body.add(`{ // ${where}: run=${block.run}`);
      addPreludes(block);
      body.add(`readmeTest.block(${i});`);
      body.add(`await readmeTest.step(${steps.length - 1});`);
      body.add('}');
      return;
    }
    const split = splitImports(block.code);
    imports.add(split, (line) => ({ file: block.readme, line: block.line + line }));
    const noRun = block.flags.includes('no-run');
    body.add(noRun ? `if (readmeTest.noRun()) { // ${where}: no-run` : `{ // ${where}`);
    addPreludes(block);
    body.add(`readmeTest.block(${i});`);
    body.add(split.body, { file: block.readme, line: block.line });
    if (noRun) body.add('}');
    else depth++; // the next block nests inside this one's scope
  });
  body.add('}'.repeat(depth));

  const driver = new Writer();
  driver.add(`// Generated from ${readme} by test/readme: do not edit.`);
  imports.write(driver);
  driver.add(`import type { ReadmeTest } from '${path.relative(dir, HARNESS)}';`);
  driver.add('');
  driver.add('export async function run(readmeTest: ReadmeTest): Promise<void> {');
  const text = body.done('');
  text.text
    .replace(/\n$/, '')
    .split('\n')
    .forEach((l, k) => driver.add(l, text.origins[k]));
  driver.add('}');
  return { readme, driver: driver.done(path.join(dir, 'driver.ts')), steps, blocks };
}

/** Removes this run's generated files, and those of runs whose process is gone. */
export function removeGenerated(): void {
  fs.rmSync(GENERATED, { recursive: true, force: true });
  for (const name of fs.existsSync(CACHE) ? fs.readdirSync(CACHE) : []) {
    const pid = Number(/^run-(\d+)$/.exec(name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      fs.rmSync(path.join(CACHE, name), { recursive: true, force: true });
    }
  }
}

/** Writes the generated files, replacing whatever an earlier run left in their directory. */
export function writeGenerated(generated: readonly GeneratedReadme[]): void {
  for (const g of generated) {
    const dir = path.dirname(g.driver.path);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const f of [g.driver, ...g.steps.map((s) => s.file)]) fs.writeFileSync(f.path, f.text);
  }
}

/** Maps a generated file and 1-based line back to where it came from, as `file:line`. */
export function originOf(files: readonly GeneratedFile[], file: string, line: number): string {
  const f = files.find((g) => g.path === file);
  const o = f?.origins[line - 1];
  return o ? `${o.file}:${o.line}` : `${path.relative(REPO, file)}:${line}`;
}
