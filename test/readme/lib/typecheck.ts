// Type-checks generated README files with the repository's strict settings
// (tsconfig.test.base.json: @raftline/* resolve to the packages' sources) and
// reports each error at its README or prelude line.
import * as path from 'node:path';
import ts from 'typescript';
import { originOf, REPO, type GeneratedFile } from './generate';

const CONFIG = path.join(REPO, 'test', 'readme', 'tsconfig.readme.json');

/**
 * Type-checks `files` (already written to disk) in one program.
 * @returns per file path, its errors as `README.md:136: TS2353 …` lines (none: an empty list)
 */
export function typecheck(files: readonly GeneratedFile[]): Map<string, string[]> {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    CONFIG,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${CONFIG}`);
  const program = ts.createProgram({
    rootNames: files.map((f) => f.path),
    options: { ...parsed.options, noEmit: true },
  });
  const errors = new Map<string, string[]>(files.map((f) => [f.path, []]));
  const all = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...files.flatMap((f) => {
      const sf = program.getSourceFile(f.path);
      return sf ? [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)] : [];
    }),
  ];
  for (const d of all) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const file = d.file ? path.resolve(d.file.fileName) : undefined;
    const target = file && errors.has(file) ? file : files[0]!.path;
    let where = file ? path.relative(REPO, file) : 'tsconfig';
    if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      where = `${originOf(files, file!, line + 1)}:${character + 1}`;
    }
    errors.get(target)!.push(`${where}: TS${d.code} ${message}`);
  }
  return errors;
}
