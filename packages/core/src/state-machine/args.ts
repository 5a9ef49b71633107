/**
 * Argument checks of a `@Command`, run by MachineHost.validate() before the
 * command is replicated: an arity check derived from the handler, and an
 * optional argument schema in the Standard Schema v1 form
 * (https://standardschema.dev), which zod ≥ 3.24, valibot ≥ 1 and arktype
 * implement, so core needs no validation library.
 */
import { ConfigError } from '../errors';

/** One problem a Standard Schema found. `path` leads from the validated value to the offending part. */
export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** What a Standard Schema's validate() returns: the (possibly transformed) value, or the issues. */
export type StandardSchemaResult<Output = unknown> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/** The Standard Schema v1 interface, as the spec defines it (types only; nothing is imported). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/**
 * How a command's arguments are checked: one schema per positional argument
 * (`[z.string(), z.number().int()]`; an argument the request lacks is
 * validated as undefined, so an optional schema accepts its absence, and
 * more arguments than schemas are refused), or one schema of the whole
 * arguments array (`z.tuple([...])`; its issues' first path segment is the
 * argument's index).
 */
export type ArgsSchema = StandardSchemaV1 | readonly StandardSchemaV1[];

/** What `@Command` may declare about a handler besides its name. */
export interface CommandOptions {
  /** The command name clients send; defaults to the method name. */
  readonly name?: string;
  /** The argument schema (see ArgsSchema); it must validate synchronously. */
  readonly args?: ArgsSchema;
  /** Fewer arguments than this are refused (default 0). */
  readonly minArgs?: number;
}

/** The argument checks of one command, derived once from its handler and its `@Command` options. */
export interface ArgsRule {
  /** The handler's parameter names; undefined where unknown (destructured, or unparsable source). */
  readonly params: readonly (string | undefined)[];
  readonly minArgs: number;
  /** Infinity when the handler takes a rest parameter, reads `arguments`, or its parameters cannot be read. */
  readonly maxArgs: number;
  /** Per-argument schemas, or one schema of the whole array. */
  readonly each?: readonly StandardSchemaV1[];
  readonly whole?: StandardSchemaV1;
}

/** The parameters of a function, read from its source; undefined when they cannot be read with confidence. */
interface Parameters {
  readonly names: readonly (string | undefined)[];
  readonly rest: boolean;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Reads the parameter list of fn from its source text (Function.prototype.toString).
 * @returns the parameters, or undefined when the source is not understood
 */
export function parameters(fn: (...args: never[]) => unknown): Parameters | undefined {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  const open = src.indexOf('(');
  if (open < 0) return undefined;
  const parts = splitTopLevel(src, open + 1);
  if (!parts) return undefined;
  const names: (string | undefined)[] = [];
  for (const raw of parts.params) {
    const p = raw.trim();
    if (p === '') continue; // a trailing comma
    if (p.startsWith('...')) return { names, rest: true };
    if (p.startsWith('{') || p.startsWith('[')) {
      names.push(undefined);
      continue;
    }
    const name = p.split('=')[0]!.trim();
    if (!IDENTIFIER.test(name)) return undefined;
    names.push(name);
  }
  // A handler that reads `arguments` takes what it is given, whatever it declares.
  if (/\barguments\b/.test(src.slice(parts.end))) return { names, rest: true };
  // fn.length counts the parameters before the first default: never more than the list has.
  if (fn.length > names.length) return undefined;
  return { names, rest: false };
}

/**
 * Splits src from `start` (just after the opening parenthesis) at top-level
 * commas up to the matching closing parenthesis, skipping strings, template
 * literals and comments. Returns undefined when the list does not close.
 */
function splitTopLevel(src: string, start: number): { params: string[]; end: number } | undefined {
  const params: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = start; i < src.length; i++) {
    const c = src[i]!;
    if (c === '/' && (src[i + 1] === '/' || src[i + 1] === '*')) {
      const close = src[i + 1] === '/' ? src.indexOf('\n', i) : src.indexOf('*/', i + 2);
      if (close < 0) return undefined;
      i = src[i + 1] === '/' ? close : close + 1;
      current += ' ';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const close = endOfString(src, i);
      if (close < 0) return undefined;
      current += src.slice(i, close + 1);
      i = close;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) {
        if (c !== ')') return undefined;
        params.push(current);
        return { params, end: i + 1 };
      }
      depth--;
    }
    if (c === ',' && depth === 0) {
      params.push(current);
      current = '';
    } else current += c;
  }
  return undefined;
}

/** Index of the quote that closes the string or template literal opening at i, or -1. */
function endOfString(src: string, i: number): number {
  const quote = src[i]!;
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === quote) return j;
    // A template's ${…} may hold anything: give up rather than guess.
    else if (quote === '`' && src[j] === '$' && src[j + 1] === '{') return -1;
  }
  return -1;
}

/** Whether value has the Standard Schema v1 shape. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === 'function'
  );
}

/**
 * Derives the argument checks of a command from its handler and its `@Command` options.
 * @param where names the handler in messages (`Kv.incr()`)
 * @returns the rule
 * @throws ConfigError when args is not a Standard Schema or an array of them,
 *   or minArgs is not a non-negative integer or exceeds the arguments the handler takes
 */
export function argsRule(
  where: string,
  handler: unknown,
  options: Pick<CommandOptions, 'args' | 'minArgs'> = {},
): ArgsRule {
  const problems: string[] = [];
  const declared = typeof handler === 'function' ? parameters(handler as () => unknown) : undefined;
  const { args, minArgs = 0 } = options;
  let rule: { -readonly [K in keyof ArgsRule]: ArgsRule[K] } = {
    params: declared?.names ?? [],
    minArgs,
    maxArgs: declared && !declared.rest ? declared.names.length : Infinity,
  };
  if (Array.isArray(args)) {
    (args as readonly unknown[]).forEach((s, i) => {
      if (!isStandardSchema(s))
        problems.push(`${where}: args[${i}] is not a Standard Schema (no ~standard.validate)`);
    });
    rule = { ...rule, each: args as readonly StandardSchemaV1[], maxArgs: args.length };
  } else if (args !== undefined) {
    if (!isStandardSchema(args)) {
      problems.push(
        `${where}: args is neither a Standard Schema nor an array of them (no ~standard.validate)`,
      );
    }
    rule = { ...rule, whole: args as StandardSchemaV1, maxArgs: Infinity };
  }
  if (!Number.isSafeInteger(minArgs) || minArgs < 0) {
    problems.push(`${where}: minArgs (${String(minArgs)}) must be a non-negative integer`);
  } else if (minArgs > rule.maxArgs) {
    problems.push(`${where}: minArgs (${minArgs}) exceeds the ${rule.maxArgs} arguments it takes`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return rule;
}

/** Every schema of a rule, with the argument it checks ('args' for a whole-array schema). */
export function schemasOf(rule: ArgsRule): [string, StandardSchemaV1][] {
  if (rule.whole) return [['args', rule.whole]];
  return (rule.each ?? []).map((s, i) => [argLabel(rule, i), s]);
}

/**
 * Checks args against a rule.
 * @returns the reason they are refused (naming the argument, e.g.
 *   `args[1] (by): expected integer`), or undefined when they pass
 */
export function argsProblem(rule: ArgsRule, args: readonly unknown[]): string | undefined {
  if (args.length > rule.maxArgs) {
    return `expected at most ${plural(rule.maxArgs)}${paramList(rule, rule.maxArgs)}, got ${args.length}`;
  }
  if (args.length < rule.minArgs) {
    return `expected at least ${plural(rule.minArgs)}${paramList(rule, rule.minArgs)}, got ${args.length}`;
  }
  if (rule.whole) return schemaProblem(rule, rule.whole, args, undefined);
  const each = rule.each ?? [];
  for (let i = 0; i < each.length; i++) {
    const problem = schemaProblem(rule, each[i]!, args[i], i);
    if (problem) return problem;
  }
  return undefined;
}

function schemaProblem(
  rule: ArgsRule,
  schema: StandardSchemaV1,
  value: unknown,
  index: number | undefined,
): string | undefined {
  let result: StandardSchemaResult | Promise<StandardSchemaResult>;
  try {
    result = schema['~standard'].validate(value);
  } catch (err) {
    const label = index === undefined ? 'args' : argLabel(rule, index);
    return `${label}: its schema threw: ${err instanceof Error ? err.message : String(err)}`;
  }
  return issuesProblem(rule, result, index);
}

/** At most this many issues are listed in one refusal. */
const MAX_ISSUES = 5;

function issuesProblem(
  rule: ArgsRule,
  result: StandardSchemaResult | Promise<StandardSchemaResult>,
  index: number | undefined,
): string | undefined {
  const label = index === undefined ? 'args' : argLabel(rule, index);
  if (result instanceof Promise || typeof (result as { then?: unknown }).then === 'function') {
    void Promise.resolve(result).catch(() => undefined);
    return `${label}: its schema validated asynchronously; argument schemas must be synchronous`;
  }
  const issues = (result as StandardSchemaResult).issues;
  if (!issues) return undefined;
  if (issues.length === 0) return `${label}: invalid`;
  const listed = issues.slice(0, MAX_ISSUES).map((issue) => describeIssue(rule, issue, index));
  if (issues.length > MAX_ISSUES) listed.push(`and ${issues.length - MAX_ISSUES} more`);
  return listed.join('; ');
}

function describeIssue(rule: ArgsRule, issue: StandardSchemaIssue, index: number | undefined): string {
  const path = (issue.path ?? []).map((s) => (typeof s === 'object' && s !== null ? s.key : s));
  let at = 'args';
  let rest = path;
  if (index !== undefined) at = argLabel(rule, index);
  else if (typeof path[0] === 'number' || (typeof path[0] === 'string' && /^\d+$/.test(path[0]))) {
    at = argLabel(rule, Number(path[0]));
    rest = path.slice(1);
  }
  for (const s of rest) {
    at +=
      typeof s === 'number'
        ? `[${s}]`
        : typeof s === 'string' && IDENTIFIER.test(s)
          ? `.${s}`
          : `[${String(s)}]`;
  }
  return `${at}: ${issue.message}`;
}

/** `args[1] (by)`, or `args[1]` when the parameter's name is unknown. */
function argLabel(rule: ArgsRule, index: number): string {
  const name = rule.params[index];
  return name ? `args[${index}] (${name})` : `args[${index}]`;
}

function plural(n: number): string {
  return n === 1 ? '1 argument' : `${n} arguments`;
}

function paramList(rule: ArgsRule, n: number): string {
  const names = rule.params.slice(0, n);
  return n > 0 && names.length === n && names.every(Boolean) ? ` (${names.join(', ')})` : '';
}
