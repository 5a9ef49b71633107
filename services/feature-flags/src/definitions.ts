/**
 * Flag and segment definitions, checked and compiled. compileFlag() is the
 * one place that says what a valid flag is: the store runs it before a write
 * is replicated (the refusal names every problem), again when the write is
 * applied, and an SDK runs it on the snapshot it loads. What it returns is
 * ready to evaluate: rules are closures, variant values are frozen, the
 * answers of static paths are built once.
 */
import {
  checkCondition,
  getterOf,
  isPlainObject,
  unknownKeys,
  attributeProblem,
  type CheckScope,
  type Getter,
  type Test,
} from './conditions';
import { hashPrefix, type HashPrefix } from './hash';
import { LIMITS } from './limits';
import type { FlagDefinition, FlagType, SegmentDefinition } from './types';

/** What a rule serves, compiled. */
export type CompiledServe =
  | { readonly kind: 'variant'; readonly variant: string }
  | { readonly kind: 'default' }
  | {
      readonly kind: 'rollout';
      readonly by: string;
      readonly get: Getter;
      /** Hashed before the value. */
      readonly salt: string;
      /** The hash state after the salt. */
      readonly prefix: HashPrefix;
      /** The share that holds every bucket, if one does: served without reading `by`. */
      readonly whole: number | undefined;
      /** Cumulative upper bounds, in buckets (the last is 10 000). */
      readonly bounds: readonly number[];
      readonly variants: readonly string[];
    };

/** A compiled rule: no test means it matches every context. */
export interface CompiledRule {
  readonly test?: Test;
  readonly serve: CompiledServe;
}

/** A flag ready to evaluate (see evaluator.ts). */
export interface CompiledFlag {
  readonly key: string;
  readonly definition: FlagDefinition;
  readonly rules: readonly CompiledRule[];
  /** Segments the rules use. */
  readonly segments: ReadonlySet<string>;
}

/** A segment ready to evaluate. */
export interface CompiledSegment {
  readonly name: string;
  readonly definition: SegmentDefinition;
  readonly test: Test;
}

/** What compiling gives: the compiled value, or every problem found. */
export type Compiled<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: string[] };

const FLAG_KEYS = [
  'type',
  'variants',
  'defaultVariant',
  'enabled',
  'rules',
  'description',
  'tags',
  'metadata',
];
const RULE_KEYS = ['name', 'when', 'serve'];
const TYPES: readonly FlagType[] = ['boolean', 'string', 'number', 'object'];
/** flagMetadata keys the store fills in itself. */
export const RESERVED_METADATA = ['version', 'environment'];

/** Deep-freezes plain data in place. @returns v */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Why v is not JSON data (within LIMITS.jsonDepth), or undefined. */
function jsonProblem(v: unknown, path: string, depth = 0): string | undefined {
  if (depth > LIMITS.jsonDepth) return `${path}: nested deeper than ${LIMITS.jsonDepth} levels`;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${path}: ${v} is not a JSON number`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = jsonProblem(v[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const p = jsonProblem(x, `${path}.${k}`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  return `${path}: ${typeof v === 'object' ? 'a class instance' : typeof v} is not JSON data`;
}

function valueProblem(type: FlagType, v: unknown, path: string): string | undefined {
  switch (type) {
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `${path}: a boolean flag's variant must be true or false`;
    case 'string':
      return typeof v === 'string' ? undefined : `${path}: a string flag's variant must be a string`;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v)
        ? undefined
        : `${path}: a number flag's variant must be a finite number`;
    case 'object':
      return isPlainObject(v)
        ? jsonProblem(v, path)
        : `${path}: an object flag's variant must be a JSON object`;
  }
}

/** A copy of JSON data with object keys in their own order (drops nothing: it was checked). */
function cloneJson<T>(v: T): T {
  return v === null || typeof v !== 'object' ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function checkText(v: unknown, path: string, problems: string[], max: number = LIMITS.textLength): void {
  if (v !== undefined && (typeof v !== 'string' || v.length > max))
    problems.push(`${path}: must be a string of at most ${max} characters`);
}

/**
 * Checks and compiles a flag definition.
 * @param key the flag's key (used by the default rollout salt)
 * @param segmentExists whether the environment holds a segment of that name
 * @returns the compiled flag, whose definition is a normalized, deep-frozen
 *   copy; or every problem, each naming its field (`rules[1].serve.rollout.split: …`)
 */
export function compileFlag(
  key: string,
  def: unknown,
  segmentExists: (name: string) => boolean,
): Compiled<CompiledFlag> {
  const problems: string[] = [];
  if (!isPlainObject(def)) return { ok: false, problems: ['definition: must be an object'] };
  problems.push(...unknownKeys(def, FLAG_KEYS, 'definition'));
  const type = def.type as FlagType;
  if (!TYPES.includes(type)) problems.push(`type: must be one of ${TYPES.join(', ')}`);
  const variants = def.variants;
  const names = isPlainObject(variants) ? Object.keys(variants) : [];
  if (!isPlainObject(variants) || names.length === 0 || names.length > LIMITS.variants) {
    problems.push(`variants: must be an object of 1 to ${LIMITS.variants} named values`);
  } else if (TYPES.includes(type)) {
    for (const name of names) {
      if (name.length > LIMITS.nameLength) problems.push(`variants: name ${name.slice(0, 40)}… is too long`);
      const p = valueProblem(type, variants[name], `variants.${name}`);
      if (p) problems.push(p);
    }
  }
  const has = (v: unknown): v is string => typeof v === 'string' && names.includes(v);
  if (!has(def.defaultVariant))
    problems.push(
      `defaultVariant: ${JSON.stringify(def.defaultVariant)} is not one of the variants (${names.join(', ')})`,
    );
  if (typeof def.enabled !== 'boolean') problems.push('enabled: must be true or false');
  checkText(def.description, 'description', problems);
  checkTags(def.tags, problems);
  checkMetadata(def.metadata, problems);
  const scope: CheckScope = { problems, segmentExists, segmentsUsed: new Set(), nodes: 0 };
  const rules = checkRules(key, def.rules, has, scope);
  if (problems.length > 0) return { ok: false, problems };
  const definition = deepFreeze(normalizeFlag(def as unknown as FlagDefinition));
  return { ok: true, value: { key, definition, rules, segments: scope.segmentsUsed } };
}

/** The definition with its fields in a fixed order, absent optional fields left out. */
function normalizeFlag(d: FlagDefinition): FlagDefinition {
  return {
    type: d.type,
    variants: cloneJson(d.variants),
    defaultVariant: d.defaultVariant,
    enabled: d.enabled,
    ...(d.rules !== undefined && d.rules.length > 0 ? { rules: cloneJson(d.rules) } : {}),
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.tags !== undefined ? { tags: [...d.tags] } : {}),
    ...(d.metadata !== undefined ? { metadata: { ...d.metadata } } : {}),
  };
}

function checkTags(tags: unknown, problems: string[]): void {
  if (tags === undefined) return;
  if (!Array.isArray(tags) || tags.length > LIMITS.tags) {
    problems.push(`tags: must be an array of at most ${LIMITS.tags} strings`);
    return;
  }
  tags.forEach((t, i) => {
    if (typeof t !== 'string' || t.length === 0 || t.length > LIMITS.tagLength)
      problems.push(`tags[${i}]: must be a string of 1 to ${LIMITS.tagLength} characters`);
  });
}

function checkMetadata(metadata: unknown, problems: string[]): void {
  if (metadata === undefined) return;
  if (!isPlainObject(metadata) || Object.keys(metadata).length > LIMITS.metadataEntries) {
    problems.push(`metadata: must be an object of at most ${LIMITS.metadataEntries} entries`);
    return;
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (RESERVED_METADATA.includes(k))
      problems.push(`metadata.${k}: reserved (the store sets it in flagMetadata)`);
    const ok =
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v)) ||
      (typeof v === 'string' && v.length <= LIMITS.textLength);
    if (!ok) problems.push(`metadata.${k}: must be a string, a finite number or a boolean`);
  }
}

function checkRules(
  key: string,
  rules: unknown,
  isVariant: (v: unknown) => v is string,
  scope: CheckScope,
): CompiledRule[] {
  if (rules === undefined) return [];
  if (!Array.isArray(rules) || rules.length > LIMITS.rules) {
    scope.problems.push(`rules: must be an array of at most ${LIMITS.rules} rules`);
    return [];
  }
  const compiled: CompiledRule[] = [];
  let catchAll: number | undefined;
  rules.forEach((rule: unknown, i) => {
    const path = `rules[${i}]`;
    if (!isPlainObject(rule))
      return void scope.problems.push(`${path}: must be an object with serve (and when)`);
    if (catchAll !== undefined)
      scope.problems.push(`${path}: unreachable: rules[${catchAll}] has no when and serves every context`);
    scope.problems.push(...unknownKeys(rule, RULE_KEYS, path));
    checkText(rule.name, `${path}.name`, scope.problems, LIMITS.nameLength);
    const test = rule.when === undefined ? undefined : checkCondition(rule.when, `${path}.when`, scope);
    if (rule.when === undefined) catchAll = i;
    const serve = checkServe(key, rule.serve, `${path}.serve`, isVariant, scope.problems);
    compiled.push({ ...(test ? { test } : {}), serve });
  });
  return compiled;
}

function checkServe(
  key: string,
  serve: unknown,
  path: string,
  isVariant: (v: unknown) => v is string,
  problems: string[],
): CompiledServe {
  const fallback: CompiledServe = { kind: 'default' };
  const kinds = isPlainObject(serve) ? ['variant', 'rollout', 'default'].filter((k) => k in serve) : [];
  if (!isPlainObject(serve) || kinds.length !== 1) {
    problems.push(`${path}: must be one of { variant }, { rollout } or { default: true }`);
    return fallback;
  }
  problems.push(...unknownKeys(serve, kinds, path));
  if ('variant' in serve) {
    if (!isVariant(serve.variant))
      problems.push(`${path}.variant: ${JSON.stringify(serve.variant)} is not one of the variants`);
    return { kind: 'variant', variant: serve.variant as string };
  }
  if ('default' in serve) {
    if (serve.default !== true) problems.push(`${path}.default: must be true`);
    return fallback;
  }
  return checkRollout(key, serve.rollout, `${path}.rollout`, isVariant, problems) ?? fallback;
}

function checkRollout(
  key: string,
  r: unknown,
  path: string,
  isVariant: (v: unknown) => v is string,
  problems: string[],
): CompiledServe | undefined {
  if (!isPlainObject(r)) return void problems.push(`${path}: must be an object with split (and by, salt)`);
  const before = problems.length;
  problems.push(...unknownKeys(r, ['split', 'by', 'salt'], path));
  const by = r.by ?? 'targetingKey';
  const byProblem = attributeProblem(by);
  if (byProblem) problems.push(`${path}.by: ${byProblem}`);
  if (r.salt !== undefined && (typeof r.salt !== 'string' || r.salt.length > LIMITS.nameLength + 1))
    problems.push(`${path}.salt: must be a string of at most ${LIMITS.nameLength + 1} characters`);
  const split = r.split;
  if (!Array.isArray(split) || split.length === 0 || split.length > LIMITS.rolloutShares)
    return void problems.push(
      `${path}.split: must be an array of 1 to ${LIMITS.rolloutShares} { variant, weight } shares`,
    );
  const bounds: number[] = [];
  const variants: string[] = [];
  let total = 0;
  split.forEach((share: unknown, i) => {
    const at = `${path}.split[${i}]`;
    if (!isPlainObject(share)) return void problems.push(`${at}: must be { variant, weight }`);
    problems.push(...unknownKeys(share, ['variant', 'weight'], at));
    if (!isVariant(share.variant))
      problems.push(`${at}.variant: ${JSON.stringify(share.variant)} is not one of the variants`);
    const w = share.weight;
    const buckets = typeof w === 'number' ? Math.round(w * 100) : NaN;
    if (typeof w !== 'number' || !(w >= 0 && w <= 100) || Math.abs(w * 100 - buckets) > 1e-6)
      return void problems.push(`${at}.weight: must be a percentage from 0 to 100 in steps of 0.01`);
    total += buckets;
    bounds.push(total);
    variants.push(share.variant as string);
  });
  if (problems.length === before && total !== 10_000)
    problems.push(`${path}.split: weights sum to ${total / 100} %, not 100 %`);
  const whole = bounds.findIndex((b, i) => b - (bounds[i - 1] ?? 0) === 10_000);
  const salt = typeof r.salt === 'string' ? r.salt : `${key}/`;
  return {
    kind: 'rollout',
    whole: whole < 0 ? undefined : whole,
    by: by as string,
    get: getterOf(typeof by === 'string' ? by : 'targetingKey'),
    salt,
    prefix: hashPrefix(salt),
    bounds,
    variants,
  };
}

/**
 * Checks and compiles a segment definition. A segment's condition cannot
 * name another segment.
 * @returns the compiled segment (its definition normalized and frozen), or every problem
 */
export function compileSegment(name: string, def: unknown): Compiled<CompiledSegment> {
  const problems: string[] = [];
  if (!isPlainObject(def)) return { ok: false, problems: ['definition: must be an object with when'] };
  problems.push(...unknownKeys(def, ['when', 'description'], 'definition'));
  checkText(def.description, 'description', problems);
  const scope: CheckScope = { problems, segmentsUsed: new Set(), nodes: 0 };
  const test = def.when === undefined ? undefined : checkCondition(def.when, 'when', scope);
  if (!test) problems.push('when: missing (a segment is a condition)');
  if (problems.length > 0 || !test) return { ok: false, problems };
  const definition = deepFreeze({
    when: cloneJson(def.when) as SegmentDefinition['when'],
    ...(def.description !== undefined ? { description: def.description as string } : {}),
  });
  return { ok: true, value: { name, definition, test } };
}
