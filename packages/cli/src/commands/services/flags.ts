/**
 * `raftline flags list|get|set|import|export|eval`: a feature-flags group
 * (services/feature-flags) driven by its commands and queries by name —
 * listFlags, getFlag, setFlag, setEnabled, importFlagd, exportFlagd,
 * evaluate — in one environment (-e).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CommandExit, EXIT, UsageError } from '../../errors';
import { json, note, print, table } from '../../output';
import { resolveTarget, type Target } from '../common';
import {
  cell,
  integerFlag,
  isoTime,
  jsonArgument,
  noun,
  reader,
  verb,
  whoAmI,
  withService,
  type ReadFlags,
} from './shared';

/** A flag as the store holds it (feature-flags FlagRecord; the fields printed here). */
interface FlagRecord {
  readonly key: string;
  readonly version: number;
  readonly definition: {
    readonly type: string;
    readonly enabled: boolean;
    readonly defaultVariant: string;
    readonly rules?: readonly unknown[];
    readonly description?: string;
  };
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/** What a write returns (feature-flags WriteResult). */
interface WriteResult {
  readonly environment: string;
  readonly key: string;
  readonly version: number;
  readonly previousVersion: number;
}

/** What an import did (feature-flags ImportFlagdResult). */
interface ImportResult {
  readonly environment: string;
  readonly version: number;
  readonly flags: Record<'created' | 'updated' | 'unchanged' | 'deleted', string[]>;
  readonly segments: Record<'created' | 'updated' | 'unchanged' | 'deleted', string[]>;
}

/** An evaluation's details (feature-flags EvaluationDetails; the fields printed here). */
interface EvaluationDetails {
  readonly flagKey: string;
  readonly value: unknown;
  readonly variant?: string;
  readonly reason: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/** The flag types evaluate's expectedType takes. */
export const FLAG_TYPES = ['boolean', 'string', 'number', 'object'] as const;

/** Who writes, and why (feature-flags WriteOptions). */
export interface WriteFlags {
  readonly author: string;
  readonly reason?: string;
  readonly expectedVersion?: number;
}

interface EnvFlags extends ReadFlags {
  readonly env: string;
}

/** Prints every flag of an environment. */
export async function flagsList(target: Target, env: string, flags: ReadFlags): Promise<void> {
  const all = await withService(target, flags.consistency, (s) => s.query<FlagRecord[]>('listFlags', env));
  if (target.format === 'json') return print(json(all));
  if (all.length === 0) return print(`no flags in ${env}`);
  const rows = all.map((f) => [
    f.key,
    f.definition.type,
    f.definition.enabled ? 'yes' : 'no',
    f.definition.defaultVariant,
    f.definition.rules?.length ?? 0,
    f.version,
    f.updatedBy,
    isoTime(f.updatedAt),
  ]);
  print(table(['KEY', 'TYPE', 'ENABLED', 'DEFAULT', 'RULES', 'VERSION', 'UPDATED BY', 'UPDATED'], rows));
}

/**
 * Prints one flag, its definition as JSON.
 * @throws CommandExit with EXIT.failed when the environment has no such flag
 */
export async function flagsGet(target: Target, env: string, key: string, flags: ReadFlags): Promise<void> {
  const flag = await withService(target, flags.consistency, (s) =>
    s.query<FlagRecord | null>('getFlag', env, key),
  );
  if (!flag) throw new CommandExit(EXIT.failed, `FlagNotFoundError: no flag ${key} in environment ${env}`);
  if (target.format === 'json') return print(json(flag));
  print(`${env}/${key} at version ${flag.version}, by ${flag.updatedBy} at ${isoTime(flag.updatedAt)}`);
  print(JSON.stringify(flag.definition, null, 2));
}

/**
 * Writes a flag: its whole definition (setFlag), or only whether it is on (setEnabled, the kill switch).
 * @throws RemoteCommandError (InvalidDefinitionError refused; VersionConflictError, FlagNotFoundError failed)
 */
export async function flagsSet(
  target: Target,
  env: string,
  key: string,
  change: { definition: unknown } | { enabled: boolean },
  options: WriteFlags,
): Promise<void> {
  const result = await withService(target, 'linearizable', (s) =>
    'enabled' in change
      ? s.command<WriteResult>('setEnabled', env, key, change.enabled, options)
      : s.command<WriteResult>('setFlag', env, key, change.definition, options),
  );
  if (target.format === 'json') return print(json(result));
  const was = result.previousVersion === 0 ? 'new' : `was ${result.previousVersion}`;
  print(`${env}/${key} at version ${result.version} (${was})`);
}

/**
 * Imports a flagd document into the environment in one command.
 * @throws UsageError when the document is not JSON; RemoteCommandError
 *   (UnsupportedTargetingError, InvalidFlagdDocumentError, InvalidDefinitionError)
 */
export async function flagsImport(
  target: Target,
  env: string,
  source: string,
  options: Omit<WriteFlags, 'expectedVersion'> & { prune: boolean },
): Promise<void> {
  const document = jsonArgument(source === '-' || source.startsWith('@') ? source : `@${source}`, 'document');
  const result = await withService(target, 'linearizable', (s) =>
    s.command<ImportResult>('importFlagd', env, document, options),
  );
  if (target.format === 'json') return print(json(result));
  const line = (what: string, c: ImportResult['flags']): string =>
    `${what}: ${c.created.length} created, ${c.updated.length} updated, ${c.unchanged.length} unchanged, ${c.deleted.length} deleted`;
  print(`imported into ${env} at version ${result.version}`);
  print(line('flags', result.flags));
  print(line('segments', result.segments));
}

/**
 * Prints the environment as a flagd document (to a file with out); the
 * flags flagd cannot express are named on stderr.
 * @throws UsageError when out cannot be written
 */
export async function flagsExport(
  target: Target,
  env: string,
  out: string | undefined,
  flags: ReadFlags,
): Promise<void> {
  const exported = await withService(target, flags.consistency, (s) =>
    s.query<{ document: unknown; skipped: { key: string; reason: string }[] }>('exportFlagd', env),
  );
  const text = target.format === 'json' && !out ? json(exported) : JSON.stringify(exported.document, null, 2);
  if (out) {
    try {
      writeFileSync(out, `${text}\n`);
    } catch (err) {
      throw new UsageError(`--out (${out}): cannot write: ${(err as Error).message}`);
    }
  } else {
    print(text);
  }
  for (const s of exported.skipped) note(`not exported (flagd cannot express it): ${s.key}: ${s.reason}`);
}

/**
 * Evaluates a flag on a replica for a context, as an SDK would.
 * @throws CommandExit with EXIT.failed when the evaluation's reason is ERROR (after printing it)
 */
export async function flagsEval(
  target: Target,
  env: string,
  key: string,
  contextText: string | undefined,
  type: string | undefined,
  flags: ReadFlags,
): Promise<void> {
  const context = contextText === undefined ? {} : jsonArgument(contextText, 'context');
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new UsageError(`context (${contextText}) must be a JSON object, e.g. '{"targetingKey":"user-1"}'`);
  }
  const details = await withService(target, flags.consistency, (s) =>
    s.query<EvaluationDetails>('evaluate', env, key, context, ...(type ? [type] : [])),
  );
  if (target.format === 'json') print(json(details));
  else {
    const error = details.errorCode ? `${details.errorCode}: ${details.errorMessage ?? ''}` : '-';
    const row = [
      key,
      cell(JSON.stringify(details.value) ?? 'null'),
      details.variant ?? '-',
      details.reason,
      cell(error, 60),
    ];
    print(table(['FLAG', 'VALUE', 'VARIANT', 'REASON', 'ERROR'], [row]));
  }
  if (details.reason === 'ERROR') {
    throw new CommandExit(
      EXIT.failed,
      `${details.errorCode ?? 'ERROR'}: ${details.errorMessage ?? 'evaluation failed'}`,
    );
  }
}

/** `-e, --env`, which every flags subcommand takes. */
function withEnv(cmd: Command): Command {
  return cmd.addOption(
    new Option('-e, --env <environment>', 'the environment (dev, staging, prod, …)')
      .env('RAFTLINE_FLAGS_ENV')
      .makeOptionMandatory(),
  );
}

/** --author and --reason, which every write takes. */
function writer(cmd: Command): Command {
  return cmd
    .option('--author <name>', 'who makes the change (default: RAFTLINE_USER, else the OS user)')
    .option('--reason <text>', 'why (kept in the history)');
}

function writeFlags(opts: { author?: string; reason?: string }): Omit<WriteFlags, 'expectedVersion'> {
  return { author: whoAmI(opts.author), ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
}

/** Adds `raftline flags …` to the program. */
export function flagsCommands(root: Command): void {
  const flags = noun(root, 'flags', 'a feature-flags group: list, get, set, import, export, eval');

  withEnv(reader(flags, 'list', 'every flag of the environment')).action(async (opts: EnvFlags) => {
    await flagsList(resolveTarget(opts), opts.env, opts);
  });

  withEnv(reader(flags, 'get', 'one flag and its definition; exit 1 if there is none'))
    .argument('<key>', 'the flag')
    .action(async (key: string, opts: EnvFlags) => {
      await flagsGet(resolveTarget(opts), opts.env, key, opts);
    });

  writer(withEnv(verb(flags, 'set', 'create or replace a flag, or turn it on or off (--enabled)')))
    .argument('<key>', 'the flag')
    .argument(
      '[definition]',
      'the definition as JSON (@file, - for stdin): type, variants, defaultVariant, enabled, rules',
    )
    .addOption(
      new Option('--enabled <on>', 'only turn the flag on or off (the kill switch)').choices([
        'true',
        'false',
      ]),
    )
    .option(
      '--expected-version <n>',
      'compare-and-set: apply only if the flag is at this version (0: must not exist)',
    )
    .action(
      async (
        key: string,
        definition: string | undefined,
        opts: EnvFlags & { enabled?: string; expectedVersion?: string; author?: string; reason?: string },
      ) => {
        if ((definition === undefined) === (opts.enabled === undefined)) {
          throw new UsageError('flags set: give a definition or --enabled true|false (one of them)');
        }
        const expectedVersion = integerFlag(opts.expectedVersion, '--expected-version');
        const change =
          definition !== undefined
            ? { definition: jsonArgument(definition, 'definition') }
            : { enabled: opts.enabled === 'true' };
        await flagsSet(resolveTarget(opts), opts.env, key, change, {
          ...writeFlags(opts),
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        });
      },
    );

  writer(withEnv(verb(flags, 'import', 'import a flagd flag-definition document in one step')))
    .argument('<file>', 'the flagd JSON document (- for stdin)')
    .option('--prune', 'also delete the flags and segments the document does not define')
    .action(async (file: string, opts: EnvFlags & { prune?: boolean; author?: string; reason?: string }) => {
      await flagsImport(resolveTarget(opts), opts.env, file, {
        ...writeFlags(opts),
        prune: opts.prune === true,
      });
    });

  withEnv(
    reader(
      flags,
      'export',
      'the environment as a flagd document (what flagd cannot express is named on stderr)',
    ),
  )
    .option('-o, --out <file>', 'write it to this file')
    .action(async (opts: EnvFlags & { out?: string }) => {
      await flagsExport(resolveTarget(opts), opts.env, opts.out, opts);
    });

  withEnv(reader(flags, 'eval', 'evaluate a flag for a context on a replica; exit 1 if the reason is ERROR'))
    .argument('<key>', 'the flag')
    .argument('[context]', 'the evaluation context as a JSON object, e.g. {"targetingKey":"user-1"}')
    .addOption(new Option('--type <type>', 'the type expected (TYPE_MISMATCH otherwise)').choices(FLAG_TYPES))
    .action(async (key: string, context: string | undefined, opts: EnvFlags & { type?: string }) => {
      await flagsEval(resolveTarget(opts), opts.env, key, context, opts.type, opts);
    });
}
