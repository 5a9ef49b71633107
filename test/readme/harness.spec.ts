// The README harness itself: it must fail for a block that does not
// type-check or does not run, and say where (the README line).
import { generateReadme, removeGenerated, writeGenerated, type GeneratedReadme } from './lib/generate';
import { runReadme, type ReadmeTest } from './lib/harness';
import { codeBlocks, npmScripts } from './lib/markdown';
import { typecheck } from './lib/typecheck';

const fence = '```';

/** A README made of these lines. */
const md = (...lines: string[]): string => lines.join('\n') + '\n';

const cases = {
  good: md(
    '# good',
    `${fence}ts`,
    "import { Command, ReplicatedStateMachine, StateMachine } from '@raftline/core';",
    '',
    "@StateMachine('tally')",
    'class Tally extends ReplicatedStateMachine {',
    '  n = 0;',
    '  @Command() add(by: number): number {',
    '    return (this.n += by);',
    '  }',
    '}',
    fence,
    '',
    `${fence}ts no-run`,
    "throw new Error('a no-run block never runs');",
    fence,
    '',
    `${fence}ts`,
    "import { Command } from '@raftline/core'; // imported twice: merged",
    "const t = new Tally(); // an earlier block's class",
    "if (t.add(2) !== 2 || typeof Command !== 'function') throw new Error('wrong');",
    fence,
  ),
  typeError: md(
    '# type error',
    '',
    `${fence}ts`,
    "import { MemoryLogStore } from '@raftline/core';",
    '',
    "const n: number = 'not a number';",
    fence,
    `${fence}ts no-run`,
    'new MemoryLogStore().nothing();',
    fence,
  ),
  throws: md(
    '# throws',
    `${fence}ts`,
    'const x = 1;',
    fence,
    `${fence}ts`,
    "if (x === 1) throw new Error('boom');",
    fence,
  ),
  failingProcess: md(
    '<!-- readme-test: run=process argv=a,b -->',
    `${fence}ts`,
    "if (process.argv[2] === 'b') process.exit(3);",
    fence,
  ),
  deafToSigterm: md(
    '<!-- readme-test: run=background -->',
    `${fence}ts`,
    'setInterval(() => {}, 1000); // serves forever, and installs no SIGTERM handler',
    fence,
    `${fence}ts`,
    'await new Promise((r) => setTimeout(r, 500));',
    fence,
  ),
};

type Case = keyof typeof cases;
const readmeOf = (name: Case): string => `test/readme/fixtures/${name}/README.md`;
let generated: Record<Case, GeneratedReadme>;
let errors: Map<string, string[]>;

beforeAll(() => {
  generated = Object.fromEntries(
    Object.entries(cases).map(([name, text]) => [
      name,
      generateReadme(readmeOf(name as Case), codeBlocks(readmeOf(name as Case), text)),
    ]),
  ) as Record<Case, GeneratedReadme>;
  writeGenerated(Object.values(generated));
  errors = typecheck(Object.values(generated).flatMap((g) => [g.driver, ...g.steps.map((s) => s.file)]));
}, 120_000);

afterAll(() => removeGenerated());

function run(name: Case): Promise<string[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const driver = require(generated[name].driver.path) as { run(t: ReadmeTest): Promise<void> };
  return runReadme(generated[name], driver, cases[name]);
}

describe('README harness - markdown', () => {
  it('reads blocks with their line, language, flags and directive', () => {
    const blocks = codeBlocks(
      'R.md',
      md(
        'text',
        '<!-- readme-test: run=background argv=n1,n2+x prelude=a,b -->',
        '',
        `${fence}ts`,
        'a();',
        fence,
        `${fence}sh`,
        'npm run x',
        fence,
      ),
    );
    expect(blocks).toEqual([
      expect.objectContaining({
        line: 5,
        lang: 'ts',
        run: 'background',
        argv: [['n1'], ['n2', 'x']],
        preludes: ['a', 'b'],
      }),
      expect.objectContaining({ line: 8, lang: 'sh', run: 'module', code: 'npm run x' }),
    ]);
  });

  it('refuses an unknown directive, a dangling one, an unknown flag and an unclosed fence, naming the line', () => {
    expect(() => codeBlocks('R.md', md('<!-- readme-test: prelud=x -->', `${fence}ts`, fence))).toThrow(
      'R.md:1: bad readme-test directive "prelud=x"',
    );
    expect(() =>
      codeBlocks('R.md', md('<!-- readme-test: run=process -->', 'prose', `${fence}ts`, fence)),
    ).toThrow('R.md:1: directive not followed by a code block');
    expect(() => codeBlocks('R.md', md('x', `${fence}ts norun`, fence))).toThrow(
      'R.md:2: unknown flag norun',
    );
    expect(() => codeBlocks('R.md', md(`${fence}ts`, 'a();'))).toThrow('R.md:1: code block is never closed');
  });

  it('finds the npm scripts a shell block runs', () => {
    expect(npmScripts('npm ci && npm run demo\nnpm test # all\nnpm run-script bench:nats -- --x')).toEqual([
      'demo',
      'test',
      'bench:nats',
    ]);
  });
});

describe('README harness - type-checking', () => {
  it('passes blocks that share names in order, merge imports and hold a no-run block', () => {
    expect(errors.get(generated.good.driver.path)).toEqual([]);
  });

  it('reports each type error at its README line and column, no-run blocks included', () => {
    expect(errors.get(generated.typeError.driver.path)).toEqual([
      expect.stringMatching(/^test\/readme\/fixtures\/typeError\/README\.md:6:7: TS2322 /),
      expect.stringMatching(/^test\/readme\/fixtures\/typeError\/README\.md:9:22: TS2339 .*'nothing'/),
    ]);
  });
});

describe('README harness - running', () => {
  it('runs the blocks in order and never a no-run block', async () => {
    await expect(run('good')).resolves.toEqual([]);
  });

  it('a block that throws fails the run, naming its README line', async () => {
    await expect(run('throws')).rejects.toThrow(/^test\/readme\/fixtures\/throws\/README\.md:6: Error: boom/);
  });

  it('a program block whose process exits non-zero fails the run, naming it and its arguments', async () => {
    await expect(run('failingProcess')).rejects.toThrow(
      'test/readme/fixtures/failingProcess/README.md:3 (b): exited with code 3',
    );
  }, 60_000);

  it('a background program must stop on SIGTERM once the last block ran', async () => {
    await expect(run('deafToSigterm')).rejects.toThrow(
      'test/readme/fixtures/deafToSigterm/README.md:3: was ended by SIGTERM (it did not stop on SIGTERM)',
    );
  }, 60_000);
});
