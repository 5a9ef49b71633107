/**
 * The data of the flag store: what a flag definition is, what a context
 * holds, what an evaluation returns, and the records the replicas keep.
 * Everything here is plain data (it is replicated, snapshotted and sent to
 * clients as it is).
 */

/** A JSON value, as object variants and history diffs hold them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: the value of an 'object' flag's variant. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** The type of every variant of one flag (OpenFeature's boolean, string, number and object evaluations). */
export type FlagType = 'boolean' | 'string' | 'number' | 'object';

/** The value of a variant. */
export type FlagValue = boolean | string | number | JsonObject;

/** A literal a condition compares an attribute with. */
export type Scalar = string | number | boolean;

/** flagd's sem_ver comparators: `~` same major and minor, `^` same major. */
export type SemverComparator = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '^';

/**
 * A test of one attribute of the evaluation context. `attribute` is a name
 * or a dotted path into nested objects (`user.email`). Every attribute
 * condition is false when the attribute is missing (undefined or null) or of
 * another type than the operator takes; wrap it in `not` to say "missing or
 * different".
 *
 * - equals: strict equality with a string, number or boolean.
 * - in: the attribute is one of `values` (strict equality).
 * - contains: a string attribute contains `value`, or an array attribute has it as an element.
 * - startsWith / endsWith: a string attribute starts / ends with `value` (case-sensitive).
 * - lt, lte, gt, gte: a number attribute compared with `value`.
 * - semver: the attribute, a semantic version (`1.2.3`, `v1.2.3-rc.1`,
 *   shorthand `1.2`; a number is read as its text), compared with `value`
 *   by `compare` (SemVer 2.0.0 precedence; build metadata ignored).
 * - matches: a string attribute matches `pattern`, a regular expression of
 *   the bounded dialect (see regex.ts: no backreferences, no lookaround,
 *   linear time), searched anywhere unless anchored; `flags: 'i'` ignores case.
 * - exists: the attribute is present and not null.
 */
export type AttributeCondition =
  | { readonly attribute: string; readonly op: 'equals'; readonly value: Scalar }
  | { readonly attribute: string; readonly op: 'in'; readonly values: readonly Scalar[] }
  | { readonly attribute: string; readonly op: 'contains'; readonly value: Scalar }
  | { readonly attribute: string; readonly op: 'startsWith' | 'endsWith'; readonly value: string }
  | { readonly attribute: string; readonly op: 'lt' | 'lte' | 'gt' | 'gte'; readonly value: number }
  | {
      readonly attribute: string;
      readonly op: 'semver';
      readonly compare: SemverComparator;
      readonly value: string;
    }
  | {
      readonly attribute: string;
      readonly op: 'matches';
      readonly pattern: string;
      readonly flags?: '' | 'i';
    }
  | { readonly attribute: string; readonly op: 'exists' };

/** The operators of AttributeCondition. */
export type ConditionOperator = AttributeCondition['op'];

/**
 * A condition on the evaluation context: an attribute test, a named segment
 * of the same environment, or all / any / not of conditions (`all: []` is
 * true, `any: []` is false).
 */
export type Condition =
  | AttributeCondition
  | { readonly segment: string }
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition };

/** One share of a rollout: `weight` percent of the buckets (0 to 100, in steps of 0.01). */
export interface RolloutShare {
  readonly variant: string;
  readonly weight: number;
}

/**
 * A percentage split by consistent hashing. The bucket of a context is
 * `floor(murmur3_x86_32(utf8(salt + value), seed 0) × 10 000 / 2³²)`, in
 * [0, 10 000), where `value` is the context's `by` attribute (a string, or a
 * number written as JavaScript's String() writes it). Shares take
 * consecutive ranges of buckets in the order listed, so the same value gets
 * the same variant on every replica and every SDK, and raising the first
 * share from 10 % to 20 % keeps every context of the first 10 % in it.
 * Weights must sum to 100. A share of 100 % is served without reading `by`.
 */
export interface Rollout {
  readonly split: readonly RolloutShare[];
  /** The attribute hashed. Default 'targetingKey'. */
  readonly by?: string;
  /**
   * Hashed before the value. Default `<flag key>/`, so that two flags at
   * 10 % do not pick the same contexts. flagd import sets it to what flagd
   * hashes ('' with an explicit bucketing variable, the flag key without).
   */
  readonly salt?: string;
}

/** What a matching rule serves: a variant, a rollout, or the flag's default variant (reason DEFAULT). */
export type Serve = { readonly variant: string } | { readonly rollout: Rollout } | { readonly default: true };

/** One targeting rule. Rules are tried in order; the first whose `when` holds (no `when`: always) serves. */
export interface TargetingRule {
  /** A name for people (history diffs, exports); it does not change evaluation. */
  readonly name?: string;
  readonly when?: Condition;
  readonly serve: Serve;
}

/** flagMetadata values, as OpenFeature allows them. */
export type MetadataValue = string | number | boolean;

/**
 * A flag of one environment: its typed variants, the default variant (served
 * when no rule matches and while the flag is disabled), the kill switch,
 * the ordered targeting rules, and descriptive fields.
 */
export interface FlagDefinition {
  readonly type: FlagType;
  /** Variant name → value; every value of the flag's type. */
  readonly variants: { readonly [name: string]: FlagValue };
  readonly defaultVariant: string;
  /** false: every evaluation serves the default variant with reason DISABLED. */
  readonly enabled: boolean;
  readonly rules?: readonly TargetingRule[];
  readonly description?: string;
  readonly tags?: readonly string[];
  /** Returned in every evaluation's flagMetadata (with the flag's version). */
  readonly metadata?: { readonly [key: string]: MetadataValue };
}

/** A named condition of an environment, reused by flags through `{ segment: name }`. */
export interface SegmentDefinition {
  readonly when: Condition;
  readonly description?: string;
}

/**
 * What an evaluation is asked about. `targetingKey` identifies the subject
 * (user, device, tenant) and is what rollouts hash by default; any other
 * attribute is the caller's.
 */
export interface EvaluationContext {
  readonly targetingKey?: string;
  readonly [attribute: string]: unknown;
}

/** Why an evaluation gave its value (OpenFeature's reasons). */
export type EvaluationReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'DEFAULT' | 'ERROR';

/** OpenFeature's error codes, as far as a local evaluation can raise them. */
export type EvaluationErrorCode =
  | 'FLAG_NOT_FOUND'
  | 'TYPE_MISMATCH'
  | 'TARGETING_KEY_MISSING'
  | 'INVALID_CONTEXT'
  | 'PARSE_ERROR'
  | 'GENERAL';

/**
 * The outcome of one evaluation, shaped like OpenFeature's resolution
 * details. `value` is the served variant's value; on ERROR it is the
 * default variant's value when the flag exists and has the expected type,
 * else null (an OpenFeature provider then answers the caller's default).
 */
export interface EvaluationDetails {
  readonly flagKey: string;
  readonly value: FlagValue | null;
  readonly variant?: string;
  readonly reason: EvaluationReason;
  readonly errorCode?: EvaluationErrorCode;
  readonly errorMessage?: string;
  /** Index of the rule that served (TARGETING_MATCH, SPLIT, or DEFAULT by a rule). */
  readonly ruleIndex?: number;
  /** The flag's metadata, its `version` and `environment`. Shared: do not mutate. */
  readonly flagMetadata: { readonly [key: string]: MetadataValue };
}

/** Who writes, and why; `expectedVersion` makes the write a compare-and-set. */
export interface WriteOptions {
  /**
   * The version the writer last read: the write applies only if the flag
   * (or segment) is still at it, else VersionConflictError. 0: it must not
   * exist. Absent: the write applies whatever the current version.
   */
  readonly expectedVersion?: number;
  /** Who makes the change (kept in the history). Required, non-empty. */
  readonly author: string;
  /** Why (kept in the history). */
  readonly reason?: string;
}

/**
 * A flag as the store holds it. `version` is the log index of the command
 * that last wrote it (like etcd's mod_revision): unique in the store, and
 * strictly increasing along every flag's history, across deletes and
 * re-creations.
 */
export interface FlagRecord {
  readonly key: string;
  readonly version: number;
  readonly definition: FlagDefinition;
  /** Replicated time (ms) of the write that created it / last wrote it. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/** A segment as the store holds it (versioned like a flag). */
export interface SegmentRecord {
  readonly name: string;
  readonly version: number;
  readonly definition: SegmentDefinition;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/**
 * Everything an SDK needs to evaluate one environment locally. `appliedIndex`
 * is the log index of the last command the answering replica had applied:
 * the snapshot holds the state of that index (and of every later index up to
 * the next command).
 */
export interface EnvironmentSnapshot {
  readonly environment: string;
  readonly appliedIndex: number;
  readonly flags: readonly FlagRecord[];
  readonly segments: readonly SegmentRecord[];
}

/** What a write returns: the new version, and the one it replaced (0: none). */
export interface WriteResult {
  readonly environment: string;
  readonly key: string;
  readonly version: number;
  readonly previousVersion: number;
}

/** One field a write changed: `before` / `after` absent where the field did not exist. */
export interface Change {
  readonly path: string;
  readonly before?: JsonValue;
  readonly after?: JsonValue;
}

/** One write of a flag or segment, as its history keeps it. */
export interface HistoryEntry {
  readonly version: number;
  /** Replicated time (ms) of the write. */
  readonly time: number;
  readonly author: string;
  readonly reason: string;
  readonly action: 'created' | 'updated' | 'deleted';
  readonly changes: readonly Change[];
}
