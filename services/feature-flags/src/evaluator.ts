/**
 * The evaluator: pure, no I/O, no clock. A FlagEvaluator holds the compiled
 * flags and segments of one environment and answers evaluate() from them.
 * The store's `evaluate` query uses one, an SDK builds one from an
 * environment snapshot and keeps it current with setFlag / deleteFlag /
 * setSegment / deleteSegment as committed changes arrive, so both give the
 * same answer for the same state and context.
 *
 * Order of evaluation: an unknown flag is FLAG_NOT_FOUND; a flag of another
 * type than the caller expects is TYPE_MISMATCH; a disabled flag serves its
 * default variant (DISABLED); a flag without rules serves it too (STATIC);
 * otherwise the first rule whose condition holds serves (TARGETING_MATCH for
 * a variant, SPLIT for a rollout, DEFAULT for `{ default: true }`), and when
 * none does the default variant is served (DEFAULT). A rollout whose
 * bucketing attribute is missing (or neither a string nor a finite number)
 * answers ERROR with TARGETING_KEY_MISSING (for targetingKey) or
 * INVALID_CONTEXT, and the default variant's value.
 */
import type { CompiledFlag, CompiledSegment } from './definitions';
import { compileFlag, compileSegment } from './definitions';
import { InvalidDefinitionError } from './errors';
import { bucketAfter } from './hash';
import type {
  EnvironmentSnapshot,
  EvaluationContext,
  EvaluationDetails,
  EvaluationErrorCode,
  FlagRecord,
  FlagType,
  FlagValue,
  MetadataValue,
  SegmentRecord,
} from './types';

type Metadata = { readonly [key: string]: MetadataValue };

/** A flag with every answer that does not depend on the context built once (frozen, shared). */
interface Prepared {
  readonly compiled: CompiledFlag;
  readonly record: FlagRecord;
  readonly type: FlagType;
  readonly enabled: boolean;
  readonly metadata: Metadata;
  readonly disabled: EvaluationDetails;
  readonly static: EvaluationDetails;
  readonly noMatch: EvaluationDetails;
  /** Per rule: its answer (variant, default) or one answer per share (rollout). */
  readonly answers: readonly (EvaluationDetails | readonly EvaluationDetails[])[];
  /** Per rule: the answer when a rollout cannot bucket the context. */
  readonly unbucketed: readonly (EvaluationDetails | undefined)[];
}

const EMPTY_METADATA: Metadata = Object.freeze({});

function details(d: EvaluationDetails): EvaluationDetails {
  return Object.freeze(d);
}

function errorDetails(
  flagKey: string,
  errorCode: EvaluationErrorCode,
  errorMessage: string,
  value: FlagValue | null,
  flagMetadata: Metadata,
  extra: { variant?: string; ruleIndex?: number } = {},
): EvaluationDetails {
  return details({ flagKey, value, ...extra, reason: 'ERROR', errorCode, errorMessage, flagMetadata });
}

/** Builds every context-free answer of a compiled flag. */
function prepare(environment: string, record: FlagRecord, compiled: CompiledFlag): Prepared {
  const def = compiled.definition;
  const metadata: Metadata = Object.freeze({ ...def.metadata, version: record.version, environment });
  const flagKey = record.key;
  const answer = (
    variant: string,
    reason: EvaluationDetails['reason'],
    ruleIndex?: number,
  ): EvaluationDetails =>
    details({
      flagKey,
      value: def.variants[variant]!,
      variant,
      reason,
      ...(ruleIndex !== undefined ? { ruleIndex } : {}),
      flagMetadata: metadata,
    });
  const answers = compiled.rules.map((rule, i) => {
    const s = rule.serve;
    if (s.kind === 'variant') return answer(s.variant, 'TARGETING_MATCH', i);
    if (s.kind === 'default') return answer(def.defaultVariant, 'DEFAULT', i);
    return Object.freeze(s.variants.map((v) => answer(v, 'SPLIT', i)));
  });
  const unbucketed = compiled.rules.map((rule, i) => {
    const s = rule.serve;
    if (s.kind !== 'rollout') return undefined;
    const missingKey = s.by === 'targetingKey';
    return errorDetails(
      flagKey,
      missingKey ? 'TARGETING_KEY_MISSING' : 'INVALID_CONTEXT',
      `rules[${i}] rolls out by ${s.by}, which the context lacks (or is neither a string nor a finite number)`,
      def.variants[def.defaultVariant]!,
      metadata,
      { variant: def.defaultVariant, ruleIndex: i },
    );
  });
  return {
    compiled,
    record,
    type: def.type,
    enabled: def.enabled,
    metadata,
    disabled: answer(def.defaultVariant, 'DISABLED'),
    static: answer(def.defaultVariant, 'STATIC'),
    noMatch: answer(def.defaultVariant, 'DEFAULT'),
    answers,
    unbucketed,
  };
}

function isContext(v: unknown): v is EvaluationContext {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The compiled flags and segments of one environment, and evaluate().
 * Not thread-shared state: one instance per environment per process.
 */
export class FlagEvaluator {
  private readonly flags = new Map<string, Prepared>();
  private readonly segments = new Map<string, CompiledSegment>();
  /** The log index of the state this evaluator holds (see EnvironmentSnapshot.appliedIndex). */
  appliedIndex = 0;

  constructor(readonly environment: string) {}

  /**
   * An evaluator of the snapshot's environment, as of its appliedIndex.
   * @throws InvalidDefinitionError when a record does not compile (the snapshot is not the store's)
   */
  static fromSnapshot(snapshot: EnvironmentSnapshot): FlagEvaluator {
    const e = new FlagEvaluator(snapshot.environment);
    for (const s of snapshot.segments) e.setSegment(s);
    for (const f of snapshot.flags) e.setFlag(f);
    e.appliedIndex = snapshot.appliedIndex;
    return e;
  }

  /** Number of flags held. */
  get size(): number {
    return this.flags.size;
  }

  /** @returns the record of flag key, or undefined */
  getFlag(key: string): FlagRecord | undefined {
    return this.flags.get(key)?.record;
  }

  /** @returns the keys of every flag held, in insertion order */
  flagKeys(): string[] {
    return [...this.flags.keys()];
  }

  /** @returns whether flag key's rules use segment name */
  usesSegment(key: string, name: string): boolean {
    return this.flags.get(key)?.compiled.segments.has(name) ?? false;
  }

  /** @returns whether a segment of that name is held */
  hasSegment(name: string): boolean {
    return this.segments.has(name);
  }

  /**
   * Puts (or replaces) a flag, compiling its definition against the segments held.
   * @throws InvalidDefinitionError naming every problem
   */
  setFlag(record: FlagRecord): void {
    const compiled = compileFlag(record.key, record.definition, (n) => this.segments.has(n));
    if (!compiled.ok)
      throw new InvalidDefinitionError(`flag ${this.environment}/${record.key}`, compiled.problems);
    this.putCompiled(record, compiled.value);
  }

  /** Puts a flag compiled by compileFlag() against this evaluator's segments (the store's fast path). */
  putCompiled(record: FlagRecord, compiled: CompiledFlag): void {
    this.flags.set(record.key, prepare(this.environment, record, compiled));
  }

  /** Removes flag key (no-op when absent). */
  deleteFlag(key: string): void {
    this.flags.delete(key);
  }

  /**
   * Puts (or replaces) a segment; flags that use it see the new condition at once.
   * @throws InvalidDefinitionError naming every problem
   */
  setSegment(record: SegmentRecord): void {
    const compiled = compileSegment(record.name, record.definition);
    if (!compiled.ok)
      throw new InvalidDefinitionError(`segment ${this.environment}/${record.name}`, compiled.problems);
    this.segments.set(record.name, compiled.value);
  }

  /** Removes segment name (no-op when absent); a flag still using it then never matches it. */
  deleteSegment(name: string): void {
    this.segments.delete(name);
  }

  /**
   * Evaluates flag key for context (see the module comment for the order).
   * @param expectedType the type the caller reads (OpenFeature's typed
   *   evaluations); another type answers ERROR with TYPE_MISMATCH
   * @returns the details: frozen, and shared between calls that give the
   *   same answer (do not mutate them). Never throws.
   */
  evaluate(key: string, context: EvaluationContext = {}, expectedType?: FlagType): EvaluationDetails {
    const p = this.flags.get(key);
    if (p === undefined) {
      return errorDetails(
        key,
        'FLAG_NOT_FOUND',
        `flag ${this.environment}/${key} does not exist`,
        null,
        EMPTY_METADATA,
      );
    }
    if (expectedType !== undefined && p.type !== expectedType) {
      return errorDetails(
        key,
        'TYPE_MISMATCH',
        `flag ${key} is a ${p.type} flag, not ${expectedType}`,
        null,
        p.metadata,
      );
    }
    if (!p.enabled) return p.disabled;
    const rules = p.compiled.rules;
    if (rules.length === 0) return p.static;
    if (!isContext(context)) {
      const def = p.compiled.definition;
      return errorDetails(
        key,
        'INVALID_CONTEXT',
        'the context must be an object',
        def.variants[def.defaultVariant]!,
        p.metadata,
        {
          variant: def.defaultVariant,
        },
      );
    }
    try {
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        if (rule.test !== undefined && !rule.test(context, this.segments)) continue;
        const s = rule.serve;
        if (s.kind !== 'rollout') return p.answers[i] as EvaluationDetails;
        if (s.whole !== undefined) return (p.answers[i] as readonly EvaluationDetails[])[s.whole]!;
        const v = s.get(context);
        const text =
          typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
        if (text === undefined) return p.unbucketed[i]!;
        const bucket = bucketAfter(s.prefix, text);
        const shares = p.answers[i] as readonly EvaluationDetails[];
        for (let j = 0; j < s.bounds.length; j++) if (bucket < s.bounds[j]!) return shares[j]!;
        return p.noMatch; // unreachable: the bounds end at 10 000
      }
    } catch (err) {
      const def = p.compiled.definition;
      return errorDetails(
        key,
        'GENERAL',
        `evaluation failed: ${err instanceof Error ? err.message : String(err)}`,
        def.variants[def.defaultVariant]!,
        p.metadata,
        { variant: def.defaultVariant },
      );
    }
    return p.noMatch;
  }
}
