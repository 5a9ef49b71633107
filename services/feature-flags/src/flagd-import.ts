/**
 * Import of flagd flag-definition documents (https://flagd.dev/reference/flag-definitions/):
 * `{ flags: { key: { state, variants, defaultVariant, targeting, metadata } }, $evaluators }`.
 *
 * Targeting is JsonLogic with flagd's operations. This store translates the
 * subset below into its own ordered rules, exactly (the same contexts get
 * the same variants, fractional buckets included), and refuses the rest with
 * UnsupportedTargetingError naming the operator and its path:
 * - outcomes: a variant name, null (the default variant), true / false (the
 *   variants named "true" / "false"), `if` chains (nested in any branch),
 *   `fractional`, or a condition alone (selects "true" or "false");
 * - conditions: `and`, `or`, `!`, boolean literals, `==` `===` `!=` `!==`
 *   between a variable and a literal (both imported as strict equality; a
 *   null literal tests presence), `<` `<=` `>` `>=` between a variable and a
 *   number (and the three-argument "between" form), `in` (a variable in an
 *   array literal, or a string literal in a variable: substring or element),
 *   `starts_with`, `ends_with`, `sem_ver`, and `$ref` to an `$evaluators`
 *   entry (imported as a segment of the same name);
 * - variables: `{"var": "a.b"}` or `{"var": ["a.b"]}`, without a default and
 *   not `$flagd.*` (fractional's `{"cat": [{"var": "$flagd.flagKey"}, …]}` excepted);
 * - fractional: an optional bucketing value (`{"var": …}`, or
 *   `{"cat": ["<prefix>" or {"var": "$flagd.flagKey"}, {"var": …}]}`), then
 *   `[variant, weight]` shares with whole weights that are multiples of
 *   0.01 % of their total (flagd hashes like this store: murmur3 of the
 *   bucketing value, or of flag key + targetingKey without one).
 * flag-set `metadata` is ignored; a flag's `metadata.description` and
 * `metadata.tags` (comma-separated) become its description and tags.
 */
import { attributeProblem, isPlainObject } from './conditions';
import { InvalidFlagdDocumentError, UnsupportedTargetingError } from './errors';
import type {
  Condition,
  FlagDefinition,
  FlagType,
  FlagValue,
  MetadataValue,
  Rollout,
  SegmentDefinition,
  Serve,
  TargetingRule,
} from './types';

/** A flag as flagd defines it. */
export interface FlagdFlag {
  readonly state: 'ENABLED' | 'DISABLED';
  readonly variants: { readonly [name: string]: unknown };
  readonly defaultVariant: string;
  readonly targeting?: unknown;
  readonly metadata?: { readonly [key: string]: MetadataValue };
}

/** A flagd flag-definition document. */
export interface FlagdDocument {
  readonly $schema?: string;
  readonly flags: { readonly [key: string]: FlagdFlag };
  readonly $evaluators?: { readonly [name: string]: unknown };
  readonly metadata?: { readonly [key: string]: MetadataValue };
}

/** What an import gives: definitions to write, keyed by flag key and segment name. */
export interface ImportedDefinitions {
  readonly flags: { readonly [key: string]: FlagDefinition };
  readonly segments: { readonly [name: string]: SegmentDefinition };
}

type Outcome =
  | { readonly kind: 'serve'; readonly serve: Serve }
  | { readonly kind: 'if'; readonly branches: readonly [Condition, Outcome][]; readonly otherwise: Outcome };

interface Scope {
  readonly flagKey: string;
  readonly variants: ReadonlySet<string>;
  readonly evaluators: { readonly [name: string]: unknown };
  /** Inside $evaluators: $ref is inlined (a segment cannot use a segment); the names being inlined. */
  readonly inlining?: readonly string[];
}

const DEFAULT_SERVE: Outcome = { kind: 'serve', serve: { default: true } };

function unsupported(op: string, path: string, detail?: string): never {
  throw new UnsupportedTargetingError(op, path, detail);
}

function invalid(problem: string): never {
  throw new InvalidFlagdDocumentError([problem]);
}

/** The operator and arguments of a JsonLogic operation (`{"op": args}`), or undefined for a non-object. */
function operation(node: unknown, path: string): [string, unknown[]] | undefined {
  if (!isPlainObject(node)) return undefined;
  const keys = Object.keys(node);
  if (keys.length !== 1)
    unsupported(keys.length === 0 ? '{}' : keys.join(' + '), path, 'an operation has exactly one key');
  const op = keys[0]!;
  const raw = node[op];
  return [op, Array.isArray(raw) ? raw : [raw]];
}

/** The attribute a `{"var": …}` reads, or undefined when node is not a var. */
function variable(node: unknown, path: string): string | undefined {
  const o = isPlainObject(node) ? operation(node, path) : undefined;
  if (!o || o[0] !== 'var') return undefined;
  const [, args] = o;
  if (args.length !== 1) unsupported('var', path, 'a variable with a default value');
  const name = args[0];
  if (typeof name !== 'string' || name === '')
    unsupported('var', path, 'only a named variable ("a" or "a.b")');
  if (name.startsWith('$flagd.')) unsupported('var', path, `${name} (flagd's evaluation properties)`);
  const problem = attributeProblem(name);
  if (problem) unsupported('var', path, problem);
  return name;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** Operations condition() translates. */
const CONDITION_OPS = new Set([
  'and',
  'or',
  '!',
  '==',
  '===',
  '!=',
  '!==',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'starts_with',
  'ends_with',
  'sem_ver',
  '$ref',
]);

const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const NUMERIC: Record<string, 'lt' | 'lte' | 'gt' | 'gte'> = {
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
};

/** Translates a JsonLogic condition. */
function condition(node: unknown, path: string, scope: Scope): Condition {
  if (node === true) return { all: [] };
  if (node === false) return { any: [] };
  const o = operation(node, path);
  if (!o)
    unsupported(
      node === null ? 'null' : Array.isArray(node) ? 'an array' : typeof node,
      path,
      'not a condition',
    );
  const [op, args] = o;
  const at = (i: number): string => `${path}.${op}[${i}]`;
  switch (op) {
    case 'and':
    case 'or': {
      const items = args.map((a, i) => condition(a, at(i), scope));
      return op === 'and' ? { all: items } : { any: items };
    }
    case '!':
      if (args.length !== 1) unsupported('!', path, 'takes one condition');
      return { not: condition(args[0], at(0), scope) };
    case '==':
    case '===':
    case '!=':
    case '!==':
      return equality(op, args, path);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(op, args, path);
    case 'in':
      return membership(args, path);
    case 'starts_with':
    case 'ends_with': {
      const attribute = variable(args[0], at(0));
      if (args.length !== 2 || attribute === undefined || typeof args[1] !== 'string')
        unsupported(op, path, 'only [{"var": …}, "<string>"]');
      return { attribute, op: op === 'starts_with' ? 'startsWith' : 'endsWith', value: args[1] };
    }
    case 'sem_ver': {
      const attribute = variable(args[0], at(0));
      if (
        args.length !== 3 ||
        attribute === undefined ||
        typeof args[1] !== 'string' ||
        typeof args[2] !== 'string'
      )
        unsupported(op, path, 'only [{"var": …}, "<comparator>", "<version>"]');
      return { attribute, op: 'semver', compare: args[1] as never, value: args[2] };
    }
    case '$ref':
      return reference(args, path, scope);
    case 'var':
      return unsupported('var', path, 'a variable alone tests JsonLogic truthiness: compare it instead');
    default:
      return unsupported(op, path);
  }
}

function equality(op: string, args: unknown[], path: string): Condition {
  if (args.length !== 2) unsupported(op, path, 'takes two arguments');
  const left = variable(args[0], `${path}.${op}[0]`);
  const right = variable(args[1], `${path}.${op}[1]`);
  if (left !== undefined && right !== undefined) unsupported(op, path, 'compares two variables');
  const attribute = left ?? right;
  if (attribute === undefined) unsupported(op, path, 'compares two constants');
  const literal = left !== undefined ? args[1] : args[0];
  const negate = op.startsWith('!');
  if (literal === null) return negate ? { attribute, op: 'exists' } : { not: { attribute, op: 'exists' } };
  if (!isScalar(literal)) unsupported(op, path, 'compares with a string, number or boolean only');
  const c: Condition = { attribute, op: 'equals', value: literal };
  return negate ? { not: c } : c;
}

function comparison(op: string, args: unknown[], path: string): Condition {
  const number = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      unsupported(op, path, 'compares a variable with a number only');
    return v;
  };
  if (args.length === 3) {
    const attribute = variable(args[1], `${path}.${op}[1]`);
    if (attribute === undefined) unsupported(op, path, 'the middle argument of a between must be a variable');
    return {
      all: [
        { attribute, op: NUMERIC[FLIP[op]!]!, value: number(args[0]) },
        { attribute, op: NUMERIC[op]!, value: number(args[2]) },
      ],
    };
  }
  if (args.length !== 2) unsupported(op, path, 'takes two or three arguments');
  const left = variable(args[0], `${path}.${op}[0]`);
  if (left !== undefined) return { attribute: left, op: NUMERIC[op]!, value: number(args[1]) };
  const right = variable(args[1], `${path}.${op}[1]`);
  if (right === undefined) unsupported(op, path, 'compares a variable with a number only');
  return { attribute: right, op: NUMERIC[FLIP[op]!]!, value: number(args[0]) };
}

function membership(args: unknown[], path: string): Condition {
  if (args.length !== 2) unsupported('in', path, 'takes two arguments');
  const attribute = variable(args[0], `${path}.in[0]`);
  if (attribute !== undefined && Array.isArray(args[1])) {
    if (!args[1].every(isScalar))
      unsupported('in', path, 'the array may hold strings, numbers and booleans only');
    return { attribute, op: 'in', values: args[1] };
  }
  const container = variable(args[1], `${path}.in[1]`);
  if (container !== undefined && isScalar(args[0]))
    return { attribute: container, op: 'contains', value: args[0] };
  return unsupported('in', path, 'only [{"var": …}, [literals]] or ["<literal>", {"var": …}]');
}

function reference(args: unknown[], path: string, scope: Scope): Condition {
  const name = args[0];
  if (args.length !== 1 || typeof name !== 'string') unsupported('$ref', path, 'names an evaluator');
  if (!Object.hasOwn(scope.evaluators, name))
    invalid(`${path}: $ref to ${name}, which $evaluators does not define`);
  if (!scope.inlining) return { segment: name };
  if (scope.inlining.includes(name)) invalid(`${path}: $ref cycle ${[...scope.inlining, name].join(' → ')}`);
  return condition(scope.evaluators[name], `$evaluators.${name}`, {
    ...scope,
    inlining: [...scope.inlining, name],
  });
}

/** Translates a targeting outcome (what the expression returns). */
function outcome(node: unknown, path: string, scope: Scope): Outcome {
  if (node === null) return DEFAULT_SERVE;
  if (typeof node === 'string' || typeof node === 'boolean') {
    const variant = String(node);
    if (!scope.variants.has(variant))
      invalid(`${path}: targeting returns ${JSON.stringify(node)}, which is not a variant`);
    return { kind: 'serve', serve: { variant } };
  }
  const o = operation(node, path);
  if (!o)
    unsupported(Array.isArray(node) ? 'an array' : typeof node, path, 'not a variant, null or an operation');
  const [op, args] = o;
  if (op === 'if') {
    if (args.length < 2) unsupported('if', path, 'needs a condition and a result');
    const branches: [Condition, Outcome][] = [];
    let i = 0;
    for (; i + 1 < args.length; i += 2)
      branches.push([
        condition(args[i], `${path}.if[${i}]`, scope),
        outcome(args[i + 1], `${path}.if[${i + 1}]`, scope),
      ]);
    const otherwise = i < args.length ? outcome(args[i], `${path}.if[${i}]`, scope) : DEFAULT_SERVE;
    return { kind: 'if', branches, otherwise };
  }
  if (op === 'fractional')
    return { kind: 'serve', serve: { rollout: fractional(args, `${path}.fractional`, scope) } };
  // A condition: flagd serves the variant named after its result.
  if (!CONDITION_OPS.has(op)) unsupported(op, path);
  if (!scope.variants.has('true') || !scope.variants.has('false'))
    unsupported(op, path, 'a condition as the whole outcome needs variants named "true" and "false"');
  return {
    kind: 'if',
    branches: [[condition(node, path, scope), { kind: 'serve', serve: { variant: 'true' } }]],
    otherwise: { kind: 'serve', serve: { variant: 'false' } },
  };
}

function fractional(args: unknown[], path: string, scope: Scope): Rollout {
  let by = 'targetingKey';
  let salt = scope.flagKey;
  let shares = args;
  const first = args[0];
  if (!Array.isArray(first)) {
    shares = args.slice(1);
    const v = first === null ? undefined : variable(first, `${path}[0]`);
    if (v !== undefined) [by, salt] = [v, ''];
    else if (first !== null) [by, salt] = concatenation(first, `${path}[0]`, scope);
  }
  if (shares.length === 0) unsupported('fractional', path, 'has no [variant, weight] shares');
  const weights = shares.map((s, i) => {
    const at = `${path}[${args.length - shares.length + i}]`;
    if (!Array.isArray(s) || s.length < 1 || s.length > 2)
      unsupported('fractional', at, 'a share is [variant, weight]');
    if (typeof s[0] !== 'string') unsupported('fractional', at, 'a share names a variant (a string)');
    if (!scope.variants.has(s[0])) invalid(`${at}: ${s[0]} is not a variant`);
    const w: unknown = s.length === 2 ? s[1] : 1;
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0)
      unsupported('fractional', at, 'a weight is a whole number ≥ 0');
    return [s[0], w] as const;
  });
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  if (total === 0) unsupported('fractional', path, 'the weights sum to 0');
  const split = weights.map(([variant, w]) => {
    if ((w * 10_000) % total !== 0)
      unsupported('fractional', path, `weight ${w} of ${total} is not a whole multiple of 0.01 %`);
    return { variant, weight: (w * 10_000) / total / 100 };
  });
  return { split, by, salt };
}

/** `{"cat": [prefix, {"var": …}]}` as [by, salt]; prefix is a string or {"var": "$flagd.flagKey"}. */
function concatenation(node: unknown, path: string, scope: Scope): [string, string] {
  const o = operation(node, path);
  const detail =
    'the bucketing value is {"var": …} or {"cat": ["<prefix>" or {"var": "$flagd.flagKey"}, {"var": …}]}';
  if (!o || o[0] !== 'cat' || o[1].length !== 2) return unsupported(o?.[0] ?? typeof node, path, detail);
  const [prefix, value] = o[1];
  const flagKeyVar = isPlainObject(prefix) && JSON.stringify(prefix) === '{"var":"$flagd.flagKey"}';
  if (typeof prefix !== 'string' && !flagKeyVar) unsupported('cat', `${path}.cat[0]`, detail);
  const by = variable(value, `${path}.cat[1]`);
  if (by === undefined) unsupported('cat', `${path}.cat[1]`, detail);
  return [by, flagKeyVar ? scope.flagKey : (prefix as string)];
}

/** Appends the rules of an outcome reached under `guard` (conditions that all hold). */
function flatten(o: Outcome, guard: readonly Condition[], rules: TargetingRule[]): void {
  if (o.kind === 'serve') {
    const when: Condition | undefined =
      guard.length === 0 ? undefined : guard.length === 1 ? guard[0] : { all: [...guard] };
    rules.push({ ...(when ? { when } : {}), serve: o.serve });
    return;
  }
  // Each branch's rules end with a rule for every context of the branch, so later branches see only the others.
  for (const [c, then] of o.branches) flatten(then, [...guard, c], rules);
  flatten(o.otherwise, guard, rules);
}

function typeOf(values: unknown[], path: string): FlagType {
  const kinds = new Set(values.map((v) => (isPlainObject(v) ? 'object' : typeof v)));
  if (kinds.size !== 1) invalid(`${path}: variants mix ${[...kinds].join(' and ')}`);
  const kind = [...kinds][0]!;
  if (kind === 'boolean' || kind === 'string' || kind === 'number' || kind === 'object') return kind;
  return invalid(`${path}: variants must be booleans, strings, numbers or JSON objects, not ${kind}`);
}

function importFlag(key: string, raw: unknown, evaluators: Scope['evaluators']): FlagDefinition {
  const path = `flags.${key}`;
  if (!isPlainObject(raw)) invalid(`${path}: must be an object`);
  const { state, variants, defaultVariant, targeting, metadata } = raw;
  if (state !== 'ENABLED' && state !== 'DISABLED') invalid(`${path}.state: must be ENABLED or DISABLED`);
  if (!isPlainObject(variants) || Object.keys(variants).length === 0)
    invalid(`${path}.variants: must be an object of variants`);
  if (typeof defaultVariant !== 'string')
    invalid(`${path}.defaultVariant: must be a variant name (null, the code default, is not supported)`);
  const type = typeOf(Object.values(variants), `${path}.variants`);
  const scope: Scope = { flagKey: key, variants: new Set(Object.keys(variants)), evaluators };
  const rules: TargetingRule[] = [];
  if (targeting !== undefined && !(isPlainObject(targeting) && Object.keys(targeting).length === 0))
    flatten(outcome(targeting, `${path}.targeting`, scope), [], rules);
  // A trailing rule that serves the default variant to everyone changes nothing.
  while (
    rules.length > 0 &&
    rules[rules.length - 1]!.when === undefined &&
    'default' in rules[rules.length - 1]!.serve
  )
    rules.pop();
  const meta = isPlainObject(metadata) ? { ...(metadata as Record<string, MetadataValue>) } : undefined;
  const description = typeof meta?.description === 'string' ? meta.description : undefined;
  const tags =
    typeof meta?.tags === 'string'
      ? meta.tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : undefined;
  if (description !== undefined) delete meta!.description;
  if (tags !== undefined) delete meta!.tags;
  return {
    type,
    variants: variants as { [name: string]: FlagValue },
    defaultVariant,
    enabled: state === 'ENABLED',
    ...(rules.length > 0 ? { rules } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(tags !== undefined ? { tags } : {}),
    ...(meta && Object.keys(meta).length > 0 ? { metadata: meta } : {}),
  };
}

/**
 * Translates a flagd document into this store's definitions (see the module
 * comment for what is supported). The definitions are then validated like
 * any other write.
 * @returns the flags and the segments ($evaluators) it defines
 * @throws InvalidFlagdDocumentError when it is not a flagd document (or
 *   targeting names a variant or an evaluator it does not define)
 * @throws UnsupportedTargetingError naming the first unsupported operator and its path
 */
export function fromFlagd(document: unknown): ImportedDefinitions {
  if (typeof document === 'string') {
    try {
      document = JSON.parse(document) as unknown;
    } catch (err) {
      invalid(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!isPlainObject(document)) invalid('the document must be an object with flags');
  const raw = document.flags;
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((f: unknown, i) => {
        if (!isPlainObject(f) || typeof f.key !== 'string') invalid(`flags[${i}].key: must be a string`);
        const { key, ...rest } = f;
        return [key as string, rest];
      })
    : isPlainObject(raw)
      ? Object.entries(raw)
      : invalid('flags: must be an object (or an array) of flags');
  const evaluators = document.$evaluators ?? {};
  if (!isPlainObject(evaluators)) invalid('$evaluators: must be an object');
  const segments: Record<string, SegmentDefinition> = {};
  for (const [name, node] of Object.entries(evaluators)) {
    const scope: Scope = { flagKey: '', variants: new Set(), evaluators, inlining: [name] };
    segments[name] = { when: condition(node, `$evaluators.${name}`, scope) };
  }
  const flags: Record<string, FlagDefinition> = {};
  for (const [key, f] of entries) {
    if (Object.hasOwn(flags, key)) invalid(`flags: ${key} is defined twice`);
    flags[key] = importFlag(key, f, evaluators);
  }
  return { flags, segments };
}
