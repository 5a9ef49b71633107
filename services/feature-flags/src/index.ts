/**
 * A replicated feature-flag store, its pure evaluator, and flagd import/export.
 *
 * @module @raftline/feature-flags
 */

// the state machine
export { FeatureFlags } from './machine';
export { DEFAULT_FEATURE_FLAGS_OPTIONS } from './options';
export type { ImportOptions, ImportFlagdResult } from './machine';
export type { FeatureFlagsOptions } from './options';
export type { ImportResult, ImportChanges } from './store';

// evaluation (pure: shared by the store's evaluate query and SDKs)
export { FlagEvaluator } from './evaluator';
export { compileFlag, compileSegment } from './definitions';
export { bucketOf, murmur3, BUCKETS } from './hash';
export { compileRegex } from './regex';
export { parseSemver, compareSemver } from './semver';
export type { Compiled, CompiledFlag, CompiledSegment } from './definitions';
export type { BoundedRegex } from './regex';
export type { Semver } from './semver';

// the client SDK: local evaluation kept current from the committed stream
export { FlagClient } from './sdk/client';
export { natsFlagSource } from './sdk/source';
export { EnvironmentView } from './sdk/view';
export { FlagClientClosedError, WaitTimeoutError, ViewOutOfDateError } from './sdk/errors';
export type {
  FlagClientOptions,
  FlagClientConnectOptions,
  FlagClientEvents,
  ClientWriteOptions,
  WaitOptions,
} from './sdk/client';
export type { FlagSource, NatsFlagSource, NatsFlagSourceOptions } from './sdk/source';
export type { CommittedChange, FlagChange } from './sdk/view';

// flagd
export { fromFlagd } from './flagd-import';
export { toFlagd, FLAGD_SCHEMA } from './flagd-export';
export type { FlagdDocument, FlagdFlag, ImportedDefinitions } from './flagd-import';
export type { FlagdExport } from './flagd-export';

// errors
export {
  VersionConflictError,
  FlagNotFoundError,
  SegmentNotFoundError,
  SegmentInUseError,
  InvalidDefinitionError,
  UnsupportedPatternError,
  UnsupportedTargetingError,
  InvalidFlagdDocumentError,
  FLAG_ERROR_NAMES,
  flagErrorName,
} from './errors';
export type { FlagErrorName } from './errors';

// limits
export { LIMITS } from './limits';

// data
export type {
  AttributeCondition,
  Change,
  Condition,
  ConditionOperator,
  EnvironmentSnapshot,
  EvaluationContext,
  EvaluationDetails,
  EvaluationErrorCode,
  EvaluationReason,
  FlagDefinition,
  FlagRecord,
  FlagType,
  FlagValue,
  HistoryEntry,
  JsonObject,
  JsonValue,
  MetadataValue,
  Rollout,
  RolloutShare,
  Scalar,
  SegmentDefinition,
  SegmentRecord,
  SemverComparator,
  Serve,
  TargetingRule,
  WriteOptions,
  WriteResult,
} from './types';
