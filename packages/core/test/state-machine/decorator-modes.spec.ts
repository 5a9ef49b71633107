// The decorators in both TypeScript modes: fixtures/decorator-modes.ts is
// compiled by tsc (the TypeScript API) with standard decorators and with
// experimentalDecorators, type-checked, and run with node; both runs must
// read the same dispatch tables and raise the same errors. (jest itself
// compiles with swc's legacy decorators, which every other spec covers.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { ConfigError, MissingHandlerError } from '../../src/errors';
import { Command, StateMachine } from '../../src/state-machine/decorators';
import { buildDispatchTable } from '../../src/state-machine/dispatch';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';

const root = path.resolve(__dirname, '../..');
const fixture = path.join(__dirname, 'fixtures', 'decorator-modes.ts');

interface Compiled {
  readonly diagnostics: string[];
  readonly output: unknown;
  /** The emitted sample, to tell the modes apart. */
  readonly js: string;
}

function compileAndRun(experimentalDecorators: boolean, outDir: string): Compiled {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    esModuleInterop: true,
    experimentalDecorators,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.resolve(root, '../../node_modules/@types')],
    rootDir: root,
    outDir,
  };
  const program = ts.createProgram([fixture], options);
  const emitted = program.emit();
  // The sample's own diagnostics: core's are its typecheck's business.
  const sample = program.getSourceFile(fixture);
  const diagnostics = [...ts.getPreEmitDiagnostics(program, sample), ...emitted.diagnostics].map((d) => {
    const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0;
    return `${d.file ? `${path.basename(d.file.fileName)}:${line}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  const script = path.join(outDir, path.relative(root, fixture).replace(/\.ts$/, '.js'));
  if (diagnostics.length > 0) return { diagnostics, output: undefined, js: '' };
  const stdout = execFileSync(process.execPath, [script], {
    encoding: 'utf8',
    // The emitted core lives outside the repo: resolve its dependencies where npm put them.
    env: {
      ...process.env,
      NODE_PATH: [path.join(root, 'node_modules'), path.resolve(root, '../../node_modules')].join(
        path.delimiter,
      ),
    },
  });
  return { diagnostics, output: JSON.parse(stdout), js: readFileSync(script, 'utf8') };
}

describe('state machine - decorators in both TypeScript modes', () => {
  let dir: string;
  let standard: Compiled;
  let legacy: Compiled;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'raftline-decorators-'));
    standard = compileAndRun(false, path.join(dir, 'standard'));
    legacy = compileAndRun(true, path.join(dir, 'legacy'));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the sample type-checks with standard decorators and with experimentalDecorators', () => {
    expect(standard.diagnostics).toEqual([]);
    expect(legacy.diagnostics).toEqual([]);
  });

  it('standard decorators record what experimentalDecorators record', () => {
    // Two different emits: TC39 decorators with context objects, and TypeScript's legacy __decorate.
    expect(standard.js).toContain('__esDecorate(');
    expect(standard.js).not.toContain('__decorate(');
    expect(legacy.js).toContain('__decorate(');
    expect(standard.output).toBeDefined();
    expect(standard.output).toEqual(legacy.output);
  });

  it('the dispatch tables: handlers, queries, validators, argument rules and hooks, inherited', () => {
    const { tables } = standard.output as { tables: unknown[] };
    expect(tables).toEqual([
      {
        name: 'counter',
        commands: [['add', 'add']],
        queries: [['value', 'read']],
        validators: [['add', 'checkAdd']],
        args: [['add', ['by'], 1, 1, 1]],
        hooks: { onRoleChange: [], onApplied: ['applied'] },
      },
      {
        name: 'named-counter',
        commands: [
          ['add', 'add'],
          ['rename', 'setLabel'],
        ],
        queries: [['value', 'read']],
        validators: [['add', 'checkAdd']],
        args: [
          ['add', ['by'], 1, 1, 1],
          ['rename', ['label', 'suffix'], 0, 2, 0],
        ],
        hooks: { onRoleChange: ['role'], onApplied: ['applied', 'appliedToo'] },
      },
    ]);
  });

  it('the same MissingHandlerError, DuplicateHandlerError and ConfigError messages', () => {
    const { errors, host } = standard.output as { errors: unknown[]; host: unknown };
    expect(errors).toEqual([
      { error: 'MissingHandlerError', message: 'Unnamed lacks @StateMachine(name)' },
      {
        error: 'DuplicateHandlerError',
        message: 'Dup: command "put" is declared by both Dup.put() and Dup.set()',
      },
      { error: 'DuplicateHandlerError', message: 'Twice: @StateMachine is applied 2 times (b, a)' },
      {
        error: 'DuplicateHandlerError',
        message: 'Both: "get" is both a command (Both.get()) and a query (Both.read())',
      },
      {
        error: 'MissingHandlerError',
        message: 'ReadOnly (state machine "readonly") declares no @Command handler',
      },
      {
        error: 'MissingHandlerError',
        message: 'Typo: @Validate("pot") on Typo.checkPot() names no @Command; commands are: put',
      },
      {
        error: 'MissingHandlerError',
        message: 'Static: Static.later() is static; decorated handlers and hooks must be instance methods',
      },
    ]);
    expect(host).toEqual({
      error: 'ConfigError',
      message: 'invalid configuration: BadArgs.one(): minArgs (2) exceeds the 1 arguments it takes',
    });
  });

  it('the same argument checks before replication, and the same results and hooks', () => {
    const { validate, apply, calls } = standard.output as Record<string, unknown>;
    expect(validate).toEqual([
      { ok: null },
      {
        error: 'CommandRejectedError',
        message: 'command add rejected: expected at least 1 argument (by), got 0',
      },
      { error: 'CommandRejectedError', message: 'command add rejected: args[0] (by): expected an integer' },
      {
        error: 'CommandRejectedError',
        message: 'command add rejected: expected at most 1 argument (by), got 2',
      },
      { error: 'CommandRejectedError', message: 'command add rejected: unlucky' },
      {
        error: 'CommandRejectedError',
        message: 'command rename rejected: expected at most 2 arguments (label, suffix), got 3',
      },
      { error: 'UnknownCommandError', message: expect.stringContaining('nope') as unknown },
    ]);
    expect(apply).toEqual([{ ok: true, value: 6 }, { ok: true, value: 'c!' }, 6]);
    expect(calls).toEqual([
      'counter applied 1',
      'named applied 1',
      'counter applied 2',
      'named applied 2',
      'role leader n1 4',
    ]);
  });
});

describe('state machine - standard decorator contexts (called as TC39 decorators are)', () => {
  const symbolMetadata = (Symbol as unknown as { metadata: symbol }).metadata;

  /** Decorates a fresh subclass as a standard-decorator compiler would: members first, then the class. */
  function standardClass(
    members: { decorate: (v: unknown, c: object) => void; context: Record<string, unknown> }[],
    name = 'Sample',
  ): typeof ReplicatedStateMachine {
    const metadata: object = {};
    const cls = { [name]: class extends ReplicatedStateMachine {} }[name]!;
    Object.defineProperty(cls.prototype, 'go', { value: function go() {}, configurable: true });
    for (const m of members) m.decorate(() => undefined, { metadata, ...m.context });
    (StateMachine('sample') as (v: unknown, c: object) => void)(cls, { kind: 'class', name, metadata });
    Object.defineProperty(cls, symbolMetadata, { value: metadata, enumerable: true });
    return cls;
  }
  const member = (name: string | symbol, more: Record<string, unknown> = {}) => ({
    decorate: Command() as unknown as (v: unknown, c: object) => void,
    context: { kind: 'method', name, static: false, private: false, ...more },
  });

  it('Symbol.metadata is defined once core is loaded (Node 20 has none), as the symbol esbuild and Babel use', () => {
    expect(typeof symbolMetadata).toBe('symbol');
    expect(symbolMetadata).toBe(Symbol.for('Symbol.metadata'));
  });

  it('records into context.metadata, read back from the class', () => {
    expect([...buildDispatchTable(standardClass([member('go')])).commands]).toEqual([['go', 'go']]);
  });

  it('a parent metadata object inherited through its prototype is not the subclass record', () => {
    const parent = standardClass([member('go')], 'Parent');
    class Child extends parent {}
    // As TypeScript links them: the child's metadata object inherits from the parent's.
    Object.defineProperty(Child, symbolMetadata, {
      value: Object.create((parent as unknown as Record<symbol, object>)[symbolMetadata]!) as object,
    });
    expect(() => buildDispatchTable(Child)).toThrow(
      new MissingHandlerError(
        'Child lacks @StateMachine(name): each subclass must name itself, even when its parent is decorated',
      ),
    );
  });

  it.each([
    [{ private: true }, 'Sample.#run() is private (dispatch calls a handler by its name)', '#run'],
    [{}, 'Sample.[Symbol(run)]() has a symbol key (dispatch calls a handler by its name)', Symbol('run')],
    [{ kind: 'getter' }, 'Sample.run() is a getter, not a method', 'run'],
    [{ kind: 'field' }, 'Sample.run() is a field, not a method', 'run'],
    [{ static: true }, 'Sample.run() is static', 'run'],
  ])('MissingHandlerError for a member that is not a named instance method: %j', (more, what, name) => {
    const cls = standardClass([member('go'), member(name, more)]);
    expect(() => buildDispatchTable(cls)).toThrow(
      new MissingHandlerError(`Sample: ${what}; decorated handlers and hooks must be instance methods`),
    );
  });

  it('ConfigError as the class is defined when the compiler passes no context.metadata (TypeScript < 5.2)', () => {
    const decorate = Command() as unknown as (v: unknown, c: object) => void;
    expect(() => decorate(() => undefined, { kind: 'method', name: 'put', metadata: undefined })).toThrow(
      new ConfigError([
        '@Command on put(): context.metadata is undefined; standard decorators need a compiler that ' +
          'supports decorator metadata (TypeScript ≥ 5.2), or compile with experimentalDecorators',
      ]),
    );
    const named = StateMachine('x') as unknown as (v: unknown, c: object) => void;
    expect(() => named(class {}, { kind: 'class', name: 'X' })).toThrow(
      '@StateMachine on class X: context.metadata is undefined',
    );
  });
});
