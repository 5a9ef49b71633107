import {
  Command,
  OnApplied,
  Query,
  ReplicatedStateMachine,
  StateMachine,
  Validate,
  type MachineMetric,
  type MachineMetrics,
} from '@raftline/core';
import { InvalidDefinitionError, reasonOf } from './errors';
import { toFlagd, type FlagdExport } from './flagd-export';
import { fromFlagd } from './flagd-import';
import { flagMetrics, noEvaluations } from './metrics';
import { checkNames, checkWriteOptions, resolveOptions, type FeatureFlagsOptions } from './options';
import { FlagStore, type ImportResult, type StoreState, type WriteAt } from './store';
import type {
  EnvironmentSnapshot,
  EvaluationContext,
  EvaluationDetails,
  FlagDefinition,
  FlagRecord,
  FlagType,
  HistoryEntry,
  SegmentDefinition,
  SegmentRecord,
  WriteOptions,
  WriteResult,
} from './types';

/** Options of importFlagd: who and why, and whether to delete what the document does not name. */
export interface ImportOptions {
  readonly author: string;
  readonly reason?: string;
  /** Delete the environment's flags and segments the document does not define. Default false. */
  readonly prune?: boolean;
}

/** What importFlagd did: the keys it created, updated, left unchanged and deleted, at one version. */
export interface ImportFlagdResult extends ImportResult {
  readonly environment: string;
  /** The log index of the import: the version of everything it wrote. */
  readonly version: number;
}

/**
 * A replicated feature-flag store: environments (dev, staging, prod, …) of
 * typed flags with ordered targeting rules, named segments and
 * consistent-hash rollouts (types.ts says what a definition holds). Every
 * change is a command: committed by a quorum before it is acknowledged,
 * applied in log order on every replica, versioned and kept in a bounded
 * history with who, when (replicated time) and why.
 *
 * Writes are compare-and-set when the caller passes expectedVersion: the
 * version is the log index of the last write of that flag or segment, so it
 * strictly increases and never repeats. A write that finds another version
 * fails with VersionConflictError; the winner of two racing writers with the
 * same expectedVersion is the one the log orders first.
 *
 * Errors reach callers as CommandRejectedError (refused before replication:
 * malformed names or options, an invalid definition, an unknown segment;
 * nothing is written) or
 * CommandFailedError (refused when applied: a version conflict, a missing
 * flag, a segment in use or unknown, or a definition that became invalid
 * meanwhile; nothing is written). Which flag-store error it was travels
 * with it: as CommandFailedError.errorName, and at the start of a
 * CommandRejectedError's reason (`InvalidDefinitionError: …`);
 * flagErrorName(err) reads either, locally or through a remote client.
 *
 * Reads are queries served by the replica asked, at the consistency the
 * caller picks; `evaluate` runs the same evaluator an SDK runs on an
 * environmentSnapshot (evaluator.ts).
 */
@StateMachine('feature-flags')
export class FeatureFlags extends ReplicatedStateMachine implements MachineMetrics {
  private readonly store: FlagStore;
  // Local, never replicated (not in snapshots or digests): evaluations the
  // evaluate query served here, by reason (a metric).
  private readonly evaluations = noEvaluations();

  /** @throws ConfigError for unknown or invalid options (every replica must use the same) */
  constructor(options: FeatureFlagsOptions = {}) {
    super();
    this.store = new FlagStore(resolveOptions(options));
  }

  // ------------------------------------------------------------- commands

  /**
   * Creates or replaces flag `key` of `environment` (created on first write).
   * @returns the new version (this command's log index) and the one it replaced (0: none)
   * @throws (rejected) InvalidDefinitionError naming every problem; (failed)
   *   VersionConflictError when options.expectedVersion is not the current version
   */
  @Command({ minArgs: 4 })
  setFlag(environment: string, key: string, definition: FlagDefinition, options: WriteOptions): WriteResult {
    return this.store.setFlag(environment, key, definition, options, this.at());
  }

  /**
   * The kill switch: turns flag `key` on or off, keeping the rest of its definition.
   * @returns the new version
   * @throws (failed) FlagNotFoundError, VersionConflictError
   */
  @Command({ minArgs: 4 })
  setEnabled(environment: string, key: string, enabled: boolean, options: WriteOptions): WriteResult {
    return this.store.setEnabled(environment, key, enabled, options, this.at());
  }

  /**
   * Deletes flag `key` (its history stays, within the retention bounds).
   * @returns the version of the deletion and the version deleted
   * @throws (failed) FlagNotFoundError, VersionConflictError
   */
  @Command({ minArgs: 3 })
  deleteFlag(environment: string, key: string, options: WriteOptions): WriteResult {
    return this.store.deleteFlag(environment, key, options, this.at());
  }

  /**
   * Creates or replaces segment `name`; every flag using it sees the new condition.
   * @returns the new version
   * @throws (rejected) InvalidDefinitionError; (failed) VersionConflictError
   */
  @Command({ minArgs: 4 })
  setSegment(
    environment: string,
    name: string,
    definition: SegmentDefinition,
    options: WriteOptions,
  ): WriteResult {
    return this.store.setSegment(environment, name, definition, options, this.at());
  }

  /**
   * Deletes segment `name`.
   * @returns the version of the deletion
   * @throws (failed) SegmentNotFoundError, SegmentInUseError naming the flags using it, VersionConflictError
   */
  @Command({ minArgs: 3 })
  deleteSegment(environment: string, name: string, options: WriteOptions): WriteResult {
    return this.store.deleteSegment(environment, name, options, this.at());
  }

  /**
   * Imports a flagd flag-definition document (an object, or its JSON text)
   * in one step: its flags, and its $evaluators as segments (see
   * flagd-import.ts for the supported targeting). Unchanged definitions keep
   * their version.
   * @returns what it created, updated, left unchanged and deleted
   * @throws (rejected) UnsupportedTargetingError naming the operator and its
   *   path, InvalidFlagdDocumentError, InvalidDefinitionError
   */
  @Command({ minArgs: 3 })
  importFlagd(environment: string, document: unknown, options: ImportOptions): ImportFlagdResult {
    const at = this.at();
    const result = this.store.importDefinitions(environment, fromFlagd(document), options, at);
    return { environment, version: at.index, ...result };
  }

  // -------------------------------------------------------------- queries

  /** @returns the environments that hold (or held) flags or segments, sorted */
  @Query()
  listEnvironments(): string[] {
    return this.store.environments();
  }

  /** @returns flag `key` of `environment`, or null */
  @Query()
  getFlag(environment: string, key: string): FlagRecord | null {
    return this.store.getFlag(environment, key);
  }

  /** @returns every flag of `environment`, by key */
  @Query()
  listFlags(environment: string): FlagRecord[] {
    return this.store.listFlags(environment);
  }

  /** @returns segment `name` of `environment`, or null */
  @Query()
  getSegment(environment: string, name: string): SegmentRecord | null {
    return this.store.getSegment(environment, name);
  }

  /** @returns every segment of `environment`, by name */
  @Query()
  listSegments(environment: string): SegmentRecord[] {
    return this.store.listSegments(environment);
  }

  /** @returns what an SDK loads to evaluate `environment` locally (see EnvironmentSnapshot) */
  @Query()
  environmentSnapshot(environment: string): EnvironmentSnapshot {
    return this.store.snapshot(environment);
  }

  /**
   * Evaluates flag `key` of `environment` for `context` on this replica, with
   * the evaluator an SDK uses (FlagEvaluator.evaluate). Never throws.
   * @returns the evaluation details
   */
  @Query()
  evaluate(
    environment: string,
    key: string,
    context: EvaluationContext = {},
    expectedType?: FlagType,
  ): EvaluationDetails {
    const details = this.store.evaluator(environment).evaluate(key, context, expectedType);
    this.evaluations[details.reason]++;
    return details;
  }

  /**
   * @param kind 'flag' (default) or 'segment'
   * @returns the kept history of flag (or segment) `key`, oldest first: every
   *   write's version, replicated time, author, reason and changed fields
   */
  @Query()
  history(environment: string, key: string, kind: 'flag' | 'segment' = 'flag'): HistoryEntry[] {
    return this.store.history(environment, key, kind);
  }

  /** @returns `environment` as a flagd document, and the flags flagd cannot express */
  @Query()
  exportFlagd(environment: string): FlagdExport {
    return toFlagd(this.store.snapshot(environment));
  }

  // ----------------------------------------------------------- validators

  // Validators run only on a leader that has applied an entry of its own
  // term (the framework's linearizable validation, RaftNode.propose), so the
  // state they read holds every write acknowledged before the command: a
  // segment created just before is there, and one that is not is refused at
  // the door. Commands still in flight apply first, so apply checks again (a
  // segment deleted meanwhile fails the command with CommandFailedError).

  @Validate('setFlag')
  protected validateSetFlag(
    environment: unknown,
    key: unknown,
    definition: unknown,
    options: unknown,
  ): string | undefined {
    return refusal(() => this.store.checkFlag(environment, key, definition, options));
  }

  @Validate('setSegment')
  protected validateSetSegment(
    environment: unknown,
    name: unknown,
    definition: unknown,
    options: unknown,
  ): string | undefined {
    return refusal(() => this.store.checkSegment(environment, name, definition, options));
  }

  @Validate('setEnabled')
  protected validateSetEnabled(
    environment: unknown,
    key: unknown,
    enabled: unknown,
    options: unknown,
  ): string | undefined {
    return refusal(() => {
      checkNames(environment, key, 'key');
      checkWriteOptions(options);
      if (typeof enabled !== 'boolean')
        throw new InvalidDefinitionError('enabled', ['must be true or false']);
    });
  }

  @Validate('deleteFlag')
  protected validateDeleteFlag(environment: unknown, key: unknown, options: unknown): string | undefined {
    return refusal(() => [checkNames(environment, key, 'key'), checkWriteOptions(options)]);
  }

  @Validate('deleteSegment')
  protected validateDeleteSegment(environment: unknown, name: unknown, options: unknown): string | undefined {
    return refusal(() => [checkNames(environment, name, 'segment'), checkWriteOptions(options)]);
  }

  @Validate('importFlagd')
  protected validateImport(environment: unknown, document: unknown, options: unknown): string | undefined {
    return refusal(() =>
      this.store.importDefinitions(
        environment as string,
        fromFlagd(document),
        options as ImportOptions,
        undefined,
      ),
    );
  }

  // ---------------------------------------------------------------- hooks

  @OnApplied()
  protected onApplied(index: number): void {
    this.store.state.lastIndex = index;
  }

  // ------------------------------------------------------------ snapshots

  /** The replicated state only (the compiled evaluators are a cache rebuilt on demand). */
  override snapshotState(): unknown {
    return this.store.state;
  }

  override restoreState(state: unknown): void {
    this.store.restore(state as StoreState);
  }

  override digestState(): unknown {
    return this.store.state;
  }

  /** Flags and segments by environment, evaluations by reason (metrics.ts): read by raftline serve's /metrics. */
  metrics(): MachineMetric[] {
    return flagMetrics(this.store.state, this.evaluations);
  }

  // ------------------------------------------------------------- internals

  private at(): WriteAt {
    return { index: this.context.index, time: this.context.time };
  }
}

/** A validator's verdict: undefined when check passes, else the reason with the error's name. */
function refusal(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    return reasonOf(err);
  }
}
