/**
 * Conditions, checked and compiled in one pass: check() walks a condition
 * once, collecting every problem with its path (`rules[0].when.all[1].value:
 * …`), and returns a closure that tests a context, so that nothing is
 * interpreted at evaluation time. Pure: no I/O, no clock.
 */
import { UnsupportedPatternError } from './errors';
import { LIMITS } from './limits';
import { compileRegex } from './regex';
import { parseSemver, semverHolds, SEMVER_COMPARATORS } from './semver';
import type { ConditionOperator, EvaluationContext, Scalar } from './types';

/** A compiled condition: segments are looked up by name at evaluation time. */
export type Test = (ctx: EvaluationContext, segments: SegmentLookup) => boolean;

/** Compiled segments by name. */
export interface SegmentLookup {
  get(name: string): { readonly test: Test } | undefined;
}

/** Reads one attribute (a name or a dotted path) of a context: own properties only. */
export type Getter = (ctx: EvaluationContext) => unknown;

/** What check() needs to know, and what it collects. */
export interface CheckScope {
  readonly problems: string[];
  /** Whether a segment of this name exists; undefined: segments are not allowed here (inside a segment). */
  readonly segmentExists?: (name: string) => boolean;
  /** Segment names the condition uses (filled in by check). */
  readonly segmentsUsed: Set<string>;
  /** Condition nodes seen so far (bounded by LIMITS.conditionNodes). */
  nodes: number;
}

const OPERATORS: readonly ConditionOperator[] = [
  'equals',
  'in',
  'contains',
  'startsWith',
  'endsWith',
  'lt',
  'lte',
  'gt',
  'gte',
  'semver',
  'matches',
  'exists',
];

/** Keys each operator's condition may have. */
const KEYS: Record<ConditionOperator, readonly string[]> = {
  equals: ['attribute', 'op', 'value'],
  in: ['attribute', 'op', 'values'],
  contains: ['attribute', 'op', 'value'],
  startsWith: ['attribute', 'op', 'value'],
  endsWith: ['attribute', 'op', 'value'],
  lt: ['attribute', 'op', 'value'],
  lte: ['attribute', 'op', 'value'],
  gt: ['attribute', 'op', 'value'],
  gte: ['attribute', 'op', 'value'],
  semver: ['attribute', 'op', 'compare', 'value'],
  matches: ['attribute', 'op', 'pattern', 'flags'],
  exists: ['attribute', 'op'],
};

const NEVER: Test = () => false;
const ALWAYS: Test = () => true;

/** Whether v is a plain object (not null, not an array, not a class instance). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The keys of o outside `allowed`, as problems at path. */
export function unknownKeys(o: Record<string, unknown>, allowed: readonly string[], path: string): string[] {
  return Object.keys(o)
    .filter((k) => !allowed.includes(k))
    .map((k) => `${path}.${k}: unknown field (expected ${allowed.join(', ')})`);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** Why attribute is not a valid attribute path, or undefined. */
export function attributeProblem(attribute: unknown): string | undefined {
  if (typeof attribute !== 'string') return 'must be a string';
  if (attribute.length === 0 || attribute.length > LIMITS.nameLength)
    return `must have 1 to ${LIMITS.nameLength} characters`;
  if (attribute.split('.').some((p) => p === ''))
    return `${JSON.stringify(attribute)} has an empty path segment`;
  return undefined;
}

/**
 * The getter of an attribute path: `a` reads ctx.a, `a.b` reads ctx.a.b;
 * only own properties count (so `constructor` is not found on a plain context).
 */
export function getterOf(attribute: string): Getter {
  const parts = attribute.split('.');
  if (parts.length === 1) {
    if (!(attribute in Object.prototype)) return (ctx) => ctx[attribute];
    return (ctx) => (Object.hasOwn(ctx, attribute) ? ctx[attribute] : undefined);
  }
  return (ctx) => {
    let v: unknown = ctx;
    for (const p of parts) {
      if (typeof v !== 'object' || v === null || !Object.hasOwn(v, p)) return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  };
}

function literalProblem(v: unknown, path: string, problems: string[]): void {
  if (typeof v === 'string' && v.length > LIMITS.literalLength)
    problems.push(`${path}: longer than ${LIMITS.literalLength} characters`);
}

/**
 * Checks condition c at path and compiles it.
 * @returns the compiled test (NEVER when there were problems: scope.problems says why)
 */
export function checkCondition(c: unknown, path: string, scope: CheckScope, depth = 0): Test {
  if (++scope.nodes === LIMITS.conditionNodes + 1)
    scope.problems.push(`${path}: more than ${LIMITS.conditionNodes} condition nodes`);
  if (depth > LIMITS.conditionDepth) {
    scope.problems.push(`${path}: nested deeper than ${LIMITS.conditionDepth} levels`);
    return NEVER;
  }
  if (!isPlainObject(c)) {
    scope.problems.push(`${path}: a condition must be an object (attribute/op, segment, all, any or not)`);
    return NEVER;
  }
  if ('all' in c || 'any' in c) return checkGroup(c, path, scope, depth);
  if ('not' in c) {
    scope.problems.push(...unknownKeys(c, ['not'], path));
    const inner = checkCondition(c.not, `${path}.not`, scope, depth + 1);
    return (ctx, segs) => !inner(ctx, segs);
  }
  if ('segment' in c) return checkSegmentRef(c, path, scope);
  return checkAttribute(c, path, scope);
}

function checkGroup(c: Record<string, unknown>, path: string, scope: CheckScope, depth: number): Test {
  const key = 'all' in c ? 'all' : 'any';
  scope.problems.push(...unknownKeys(c, [key], path));
  const items = c[key];
  if (!Array.isArray(items)) {
    scope.problems.push(`${path}.${key}: must be an array of conditions`);
    return NEVER;
  }
  const tests = items.map((item, i) => checkCondition(item, `${path}.${key}[${i}]`, scope, depth + 1));
  if (tests.length === 0) return key === 'all' ? ALWAYS : NEVER;
  if (tests.length === 1) return tests[0]!;
  if (key === 'all') {
    return (ctx, segs) => {
      for (const t of tests) if (!t(ctx, segs)) return false;
      return true;
    };
  }
  return (ctx, segs) => {
    for (const t of tests) if (t(ctx, segs)) return true;
    return false;
  };
}

function checkSegmentRef(c: Record<string, unknown>, path: string, scope: CheckScope): Test {
  scope.problems.push(...unknownKeys(c, ['segment'], path));
  const name = c.segment;
  if (typeof name !== 'string' || name === '') {
    scope.problems.push(`${path}.segment: must be a segment name`);
    return NEVER;
  }
  if (!scope.segmentExists) {
    scope.problems.push(`${path}.segment: a segment cannot use another segment (${name})`);
    return NEVER;
  }
  if (!scope.segmentExists(name)) scope.problems.push(`${path}.segment: unknown segment ${name}`);
  scope.segmentsUsed.add(name);
  return (ctx, segs) => segs.get(name)?.test(ctx, segs) ?? false;
}

function checkAttribute(c: Record<string, unknown>, path: string, scope: CheckScope): Test {
  const problems = scope.problems;
  const before = problems.length;
  const op = c.op as ConditionOperator;
  if (!OPERATORS.includes(op)) {
    problems.push(
      `${path}.op: ${typeof c.op === 'string' ? `unknown operator ${c.op}` : 'missing'} ` +
        `(expected one of ${OPERATORS.join(', ')}; or segment, all, any, not)`,
    );
    return NEVER;
  }
  problems.push(...unknownKeys(c, KEYS[op], path));
  const attrProblem = attributeProblem(c.attribute);
  if (attrProblem) problems.push(`${path}.attribute: ${attrProblem}`);
  const test = compileAttribute(op, c, path, problems);
  if (problems.length > before || !test) return NEVER;
  const get = getterOf(c.attribute as string);
  return (ctx) => test(get(ctx));
}

/** The test of an attribute's value for one operator; pushes problems about its operands. */
function compileAttribute(
  op: ConditionOperator,
  c: Record<string, unknown>,
  path: string,
  problems: string[],
): ((v: unknown) => boolean) | undefined {
  const value = c.value;
  switch (op) {
    case 'equals':
      if (!isScalar(value))
        return void problems.push(`${path}.value: must be a string, a finite number or a boolean`);
      literalProblem(value, `${path}.value`, problems);
      return (v) => v === value;
    case 'in': {
      const values = c.values;
      if (!Array.isArray(values) || values.length > LIMITS.inValues)
        return void problems.push(`${path}.values: must be an array of at most ${LIMITS.inValues} values`);
      values.forEach((x, i) => {
        if (!isScalar(x))
          problems.push(`${path}.values[${i}]: must be a string, a finite number or a boolean`);
        else literalProblem(x, `${path}.values[${i}]`, problems);
      });
      const set = new Set<unknown>(values);
      return (v) => set.has(v);
    }
    case 'contains':
      if (!isScalar(value))
        return void problems.push(`${path}.value: must be a string, a finite number or a boolean`);
      literalProblem(value, `${path}.value`, problems);
      return (v) =>
        typeof v === 'string'
          ? typeof value === 'string' && v.includes(value)
          : Array.isArray(v) && v.includes(value);
    case 'startsWith':
    case 'endsWith': {
      if (typeof value !== 'string') return void problems.push(`${path}.value: must be a string`);
      literalProblem(value, `${path}.value`, problems);
      return op === 'startsWith'
        ? (v) => typeof v === 'string' && v.startsWith(value)
        : (v) => typeof v === 'string' && v.endsWith(value);
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return void problems.push(`${path}.value: must be a finite number`);
      const n = value;
      if (op === 'lt') return (v) => typeof v === 'number' && v < n;
      if (op === 'lte') return (v) => typeof v === 'number' && v <= n;
      if (op === 'gt') return (v) => typeof v === 'number' && v > n;
      return (v) => typeof v === 'number' && v >= n;
    }
    case 'semver': {
      const compare = c.compare as (typeof SEMVER_COMPARATORS)[number];
      if (!SEMVER_COMPARATORS.includes(compare))
        problems.push(`${path}.compare: must be one of ${SEMVER_COMPARATORS.join(' ')}`);
      const target = typeof value === 'string' ? parseSemver(value) : undefined;
      if (!target)
        return void problems.push(`${path}.value: must be a semantic version (1.2.3, v1.2.3-rc.1, 1.2)`);
      return (v) => {
        // A number is read as its text (1 is 1.0.0, 1.2 is 1.2.0), as flagd does.
        const text =
          typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
        const actual = text !== undefined ? parseSemver(text) : undefined;
        return actual !== undefined && semverHolds(actual, compare, target);
      };
    }
    case 'matches': {
      const flags = c.flags ?? '';
      if (flags !== '' && flags !== 'i') problems.push(`${path}.flags: must be '' or 'i'`);
      if (typeof c.pattern !== 'string') return void problems.push(`${path}.pattern: must be a string`);
      try {
        const re = compileRegex(c.pattern, flags === 'i' ? 'i' : '');
        return (v) => typeof v === 'string' && re.test(v);
      } catch (err) {
        if (!(err instanceof UnsupportedPatternError)) throw err;
        return void problems.push(`${path}.pattern: ${err.message}`);
      }
    }
    case 'exists':
      return (v) => v !== undefined && v !== null;
  }
}
