#!/usr/bin/env node
// Builds the package in the current directory for publishing, with the
// TypeScript API and the package's own tsconfig.json:
//   dist/cjs  CommonJS (.js + .d.ts), beside a package.json {"type":"commonjs"}
//   dist/esm  ES modules (.js + .d.ts), beside a package.json {"type":"module"}
// No source or declaration maps: they would point at src/, which is not shipped.
//
// The sources import each other without extensions (`./codec`), which Node's
// ESM loader does not resolve, so the ESM emit rewrites every relative module
// specifier, in code and in declarations, to the file the compiler resolved:
// `./codec.js`, `./protocol/index.js`. A module that calls require() (to load a
// CommonJS-only dependency, or require.resolve a path) gets a createRequire()
// of its own in the ESM build.
//
// Usage: node ../../scripts/build-package.js   (from packages/<name>)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const dir = process.cwd();
const FORMATS = {
  cjs: { type: 'commonjs', module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
  esm: { type: 'module', module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler },
};

function fail(message) {
  process.stderr.write(`build-package (${path.basename(dir)}): ${message}\n`);
  process.exit(1);
}

function readConfig() {
  const file = path.join(dir, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    file,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  if (!parsed) fail(`cannot read ${file}`);
  return parsed;
}

/** The source file a relative specifier in `from` names, or undefined. */
function resolveSource(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `./codec` → `./codec.js`, `./protocol` → `./protocol/index.js`; throws for one that names no source. */
function withExtension(from, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return specifier;
  if (/\.(c|m)?js$|\.json$/.test(specifier)) return specifier;
  const target = resolveSource(from, specifier);
  if (!target) throw new Error(`${path.relative(dir, from)}: cannot resolve "${specifier}"`);
  let out = path.relative(path.dirname(from), target).replace(/\.ts$/, '.js').split(path.sep).join('/');
  if (!out.startsWith('.')) out = `./${out}`;
  return out;
}

/** A transformer that rewrites relative module specifiers of one file (code or declarations). */
function rewriteSpecifiers(context) {
  const f = context.factory;
  return (node) => {
    if (!ts.isSourceFile(node)) return node;
    const from = node.fileName.replace(/\.d\.ts$/, '.ts');
    const source = fs.existsSync(from) ? from : node.fileName;
    const lit = (s) => f.createStringLiteral(withExtension(source, s.text));
    const visit = (n) => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        return f.updateImportDeclaration(
          n,
          n.modifiers,
          n.importClause,
          lit(n.moduleSpecifier),
          n.attributes,
        );
      }
      if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        return f.updateExportDeclaration(
          n,
          n.modifiers,
          n.isTypeOnly,
          n.exportClause,
          lit(n.moduleSpecifier),
          n.attributes,
        );
      }
      if (
        ts.isImportTypeNode(n) &&
        ts.isLiteralTypeNode(n.argument) &&
        ts.isStringLiteral(n.argument.literal)
      ) {
        return f.updateImportTypeNode(
          n,
          f.updateLiteralTypeNode(n.argument, lit(n.argument.literal)),
          n.attributes,
          n.qualifier,
          n.typeArguments,
          n.isTypeOf,
        );
      }
      if (
        ts.isCallExpression(n) &&
        n.expression.kind === ts.SyntaxKind.ImportKeyword &&
        n.arguments.length === 1 &&
        ts.isStringLiteral(n.arguments[0])
      ) {
        return f.updateCallExpression(n, n.expression, n.typeArguments, [lit(n.arguments[0])]);
      }
      return ts.visitEachChild(n, visit, context);
    };
    return ts.visitEachChild(node, visit, context);
  };
}

/** Whether a source file calls require() or require.resolve() itself (strings do not count). */
function callsRequire(sourceFile) {
  let found = false;
  const visit = (n) => {
    if (found) return;
    if (ts.isCallExpression(n)) {
      const e = n.expression;
      if (
        (ts.isIdentifier(e) && e.text === 'require') ||
        (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'require')
      ) {
        found = true;
        return;
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sourceFile);
  return found;
}

const REQUIRE_PRELUDE =
  "import { createRequire as __raftlineCreateRequire } from 'node:module';\n" +
  'const require = __raftlineCreateRequire(import.meta.url);\n';

function emit(config, name) {
  const format = FORMATS[name];
  const outDir = path.join(dir, 'dist', name);
  const options = {
    ...config.options,
    module: format.module,
    moduleResolution: format.moduleResolution,
    outDir,
    declaration: true,
    declarationMap: false,
    sourceMap: false,
    inlineSourceMap: false,
    composite: false,
    incremental: false,
    tsBuildInfoFile: undefined,
    noEmit: false,
  };
  const program = ts.createProgram({ rootNames: config.fileNames, options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const needsRequire = new Set(
    program
      .getSourceFiles()
      .filter((sf) => !sf.isDeclarationFile && config.fileNames.includes(sf.fileName) && callsRequire(sf))
      .map((sf) =>
        path.join(outDir, path.relative(config.options.rootDir, sf.fileName)).replace(/\.ts$/, '.js'),
      ),
  );
  const writeFile = (file, text, bom) => {
    const out = name === 'esm' && needsRequire.has(file) ? REQUIRE_PRELUDE + text : text;
    ts.sys.writeFile(file, out, bom);
  };
  const transformers =
    name === 'esm' ? { after: [rewriteSpecifiers], afterDeclarations: [rewriteSpecifiers] } : {};
  let result;
  try {
    result = program.emit(undefined, writeFile, undefined, false, transformers);
  } catch (err) {
    fail(err.message);
  }
  const all = [...diagnostics, ...result.diagnostics];
  if (all.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
    fail(`${name} build failed:\n${ts.formatDiagnostics(all, host)}`);
  }
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type: format.type })}\n`);
}

const config = readConfig();
if (!config.options.rootDir) fail('tsconfig.json must set rootDir');
fs.rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
for (const name of Object.keys(FORMATS)) emit(config, name);
