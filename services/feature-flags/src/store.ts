/**
 * The replicated state of the flag store and the writes on it, apart from
 * the decorators (machine.ts): environments of versioned flags and segments,
 * bounded histories, and a cache of compiled evaluators that is rebuilt from
 * the state whenever it is missing (it is never part of a snapshot).
 *
 * Every write first checks everything (names, options, definitions, the
 * compare-and-set) and only then changes state, so a refused write changes
 * nothing. Checks are deterministic: the same state and arguments give the
 * same refusal on every replica.
 */
import type { CompiledFlag, CompiledSegment } from './definitions';
import { compileFlag, compileSegment } from './definitions';
import { diff, jsonEqual } from './diff';
import {
  FlagNotFoundError,
  InvalidDefinitionError,
  SegmentInUseError,
  SegmentNotFoundError,
  VersionConflictError,
} from './errors';
import { FlagEvaluator } from './evaluator';
import { isPlainObject } from './conditions';
import { checkNames, checkWriteOptions, type FeatureFlagsOptions } from './options';
import { nameProblem } from './limits';
import type {
  EnvironmentSnapshot,
  FlagDefinition,
  FlagRecord,
  HistoryEntry,
  JsonValue,
  SegmentDefinition,
  SegmentRecord,
  WriteOptions,
  WriteResult,
} from './types';

/** One environment's state: plain data (Maps in replicated insertion order). */
export interface EnvState {
  readonly flags: Map<string, FlagRecord>;
  readonly segments: Map<string, SegmentRecord>;
  readonly flagHistory: Map<string, HistoryEntry[]>;
  readonly segmentHistory: Map<string, HistoryEntry[]>;
  /** `flag:<key>` / `segment:<name>` of deleted ones whose history is kept, oldest deletion first. */
  readonly deleted: Map<string, number>;
}

/** The whole replicated state. */
export interface StoreState {
  readonly envs: Map<string, EnvState>;
  /** Index of the last command applied (see EnvironmentSnapshot.appliedIndex). */
  lastIndex: number;
}

/** Where in the log a write happens: its index (the new version) and replicated time. */
export interface WriteAt {
  readonly index: number;
  readonly time: number;
}

type Kind = 'flag' | 'segment';

function emptyEnv(): EnvState {
  return {
    flags: new Map(),
    segments: new Map(),
    flagHistory: new Map(),
    segmentHistory: new Map(),
    deleted: new Map(),
  };
}

function byKey<T>(map: ReadonlyMap<string, T>): T[] {
  return [...map.keys()].sort().map((k) => map.get(k)!);
}

/** The flag store's state and operations (see the module comment). */
export class FlagStore {
  state: StoreState = { envs: new Map(), lastIndex: 0 };
  private evaluators = new Map<string, FlagEvaluator>();

  constructor(private readonly options: Required<FeatureFlagsOptions>) {}

  /** Replaces the state (a restored snapshot); the compiled cache is rebuilt on demand. */
  restore(state: StoreState): void {
    this.state = state;
    this.evaluators = new Map();
  }

  private env(environment: string): EnvState | undefined {
    return this.state.envs.get(environment);
  }

  private envForWrite(environment: string): EnvState {
    let e = this.state.envs.get(environment);
    if (!e) this.state.envs.set(environment, (e = emptyEnv()));
    return e;
  }

  /** The environment's evaluator, compiled from the state on first use. */
  evaluator(environment: string): FlagEvaluator {
    let ev = this.evaluators.get(environment);
    if (!ev) {
      const e = this.env(environment);
      ev = new FlagEvaluator(environment);
      // An environment that does not exist gets an empty evaluator, not cached (queries name any environment).
      if (!e) return ev;
      for (const s of e.segments.values()) ev.setSegment(s);
      for (const f of e.flags.values()) ev.setFlag(f);
      this.evaluators.set(environment, ev);
    }
    ev.appliedIndex = this.state.lastIndex;
    return ev;
  }

  // ---------------------------------------------------------------- checks

  /**
   * Checks a setFlag against the current state, without the compare-and-set.
   * @returns the compiled flag
   * @throws InvalidDefinitionError naming every problem (unknown segments included)
   */
  checkFlag(environment: unknown, key: unknown, definition: unknown, options: unknown): CompiledFlag {
    checkNames(environment, key, 'key');
    checkWriteOptions(options);
    const e = this.env(environment as string);
    const exists = (n: string): boolean => e?.segments.has(n) ?? false;
    const compiled = compileFlag(key as string, definition, exists);
    if (!compiled.ok)
      throw new InvalidDefinitionError(`flag ${String(environment)}/${String(key)}`, compiled.problems);
    return compiled.value;
  }

  /**
   * Checks a setSegment, without the compare-and-set.
   * @returns the compiled segment
   * @throws InvalidDefinitionError naming every problem
   */
  checkSegment(environment: unknown, name: unknown, definition: unknown, options: unknown): CompiledSegment {
    checkNames(environment, name, 'segment');
    checkWriteOptions(options);
    const compiled = compileSegment(name as string, definition);
    if (!compiled.ok)
      throw new InvalidDefinitionError(`segment ${String(environment)}/${String(name)}`, compiled.problems);
    return compiled.value;
  }

  private cas(environment: string, key: string, kind: Kind, current: number, options: WriteOptions): void {
    if (options.expectedVersion !== undefined && options.expectedVersion !== current)
      throw new VersionConflictError(environment, key, kind, options.expectedVersion, current);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Creates or replaces flag key (see FeatureFlags.setFlag).
   * @throws InvalidDefinitionError, VersionConflictError
   */
  setFlag(
    environment: string,
    key: string,
    definition: unknown,
    options: WriteOptions,
    at: WriteAt,
  ): WriteResult {
    const compiled = this.checkFlag(environment, key, definition, options);
    const previous = this.env(environment)?.flags.get(key);
    this.cas(environment, key, 'flag', previous?.version ?? 0, options);
    this.putFlag(environment, compiled, previous, options, at);
    return { environment, key, version: at.index, previousVersion: previous?.version ?? 0 };
  }

  /**
   * Turns flag key on or off (the kill switch) without resending its definition.
   * @throws FlagNotFoundError, VersionConflictError, InvalidDefinitionError (options)
   */
  setEnabled(
    environment: string,
    key: string,
    enabled: boolean,
    options: WriteOptions,
    at: WriteAt,
  ): WriteResult {
    checkNames(environment, key, 'key');
    checkWriteOptions(options);
    if (typeof enabled !== 'boolean') throw new InvalidDefinitionError('enabled', ['must be true or false']);
    const previous = this.env(environment)?.flags.get(key);
    if (!previous) throw new FlagNotFoundError(environment, key);
    this.cas(environment, key, 'flag', previous.version, options);
    return this.setFlag(
      environment,
      key,
      { ...previous.definition, enabled },
      { ...options, expectedVersion: previous.version },
      at,
    );
  }

  private putFlag(
    environment: string,
    compiled: CompiledFlag,
    previous: FlagRecord | undefined,
    options: WriteOptions,
    at: WriteAt,
  ): void {
    const e = this.envForWrite(environment);
    const record: FlagRecord = Object.freeze({
      key: compiled.key,
      version: at.index,
      definition: compiled.definition,
      createdAt: previous?.createdAt ?? at.time,
      updatedAt: at.time,
      updatedBy: options.author,
    });
    e.flags.set(compiled.key, record);
    this.record(e, 'flag', compiled.key, previous?.definition, record.definition, options, at);
    this.evaluators.get(environment)?.putCompiled(record, compiled);
  }

  /**
   * Deletes flag key.
   * @throws FlagNotFoundError, VersionConflictError, InvalidDefinitionError (names, options)
   */
  deleteFlag(environment: string, key: string, options: WriteOptions, at: WriteAt): WriteResult {
    checkNames(environment, key, 'key');
    checkWriteOptions(options);
    const e = this.env(environment);
    const previous = e?.flags.get(key);
    if (!e || !previous) throw new FlagNotFoundError(environment, key);
    this.cas(environment, key, 'flag', previous.version, options);
    e.flags.delete(key);
    this.record(e, 'flag', key, previous.definition, undefined, options, at);
    this.evaluators.get(environment)?.deleteFlag(key);
    return { environment, key, version: at.index, previousVersion: previous.version };
  }

  /**
   * Creates or replaces segment name; flags using it see the new condition at once.
   * @throws InvalidDefinitionError, VersionConflictError
   */
  setSegment(
    environment: string,
    name: string,
    definition: unknown,
    options: WriteOptions,
    at: WriteAt,
  ): WriteResult {
    const compiled = this.checkSegment(environment, name, definition, options);
    const previous = this.env(environment)?.segments.get(name);
    this.cas(environment, name, 'segment', previous?.version ?? 0, options);
    this.putSegment(environment, compiled, previous, options, at);
    return { environment, key: name, version: at.index, previousVersion: previous?.version ?? 0 };
  }

  private putSegment(
    environment: string,
    compiled: CompiledSegment,
    previous: SegmentRecord | undefined,
    options: WriteOptions,
    at: WriteAt,
  ): void {
    const e = this.envForWrite(environment);
    const record: SegmentRecord = Object.freeze({
      name: compiled.name,
      version: at.index,
      definition: compiled.definition,
      createdAt: previous?.createdAt ?? at.time,
      updatedAt: at.time,
      updatedBy: options.author,
    });
    e.segments.set(compiled.name, record);
    this.record(e, 'segment', compiled.name, previous?.definition, record.definition, options, at);
    this.evaluators.get(environment)?.setSegment(record);
  }

  /**
   * Deletes segment name.
   * @throws SegmentNotFoundError, SegmentInUseError (naming the flags), VersionConflictError
   */
  deleteSegment(environment: string, name: string, options: WriteOptions, at: WriteAt): WriteResult {
    checkNames(environment, name, 'segment');
    checkWriteOptions(options);
    const e = this.env(environment);
    const previous = e?.segments.get(name);
    if (!e || !previous) throw new SegmentNotFoundError(environment, name);
    this.cas(environment, name, 'segment', previous.version, options);
    const users = this.flagsUsing(environment, name);
    if (users.length > 0) throw new SegmentInUseError(environment, name, users);
    e.segments.delete(name);
    this.record(e, 'segment', name, previous.definition, undefined, options, at);
    this.evaluators.get(environment)?.deleteSegment(name);
    return { environment, key: name, version: at.index, previousVersion: previous.version };
  }

  /** @returns the keys of the flags of environment that use segment name, sorted */
  flagsUsing(environment: string, name: string): string[] {
    const e = this.env(environment);
    if (!e) return [];
    const ev = this.evaluator(environment);
    return byKey(e.flags)
      .filter((f) => ev.usesSegment(f.key, name))
      .map((f) => f.key);
  }

  /** Appends a write to the history of kind:key, within the retention bounds. */
  private record(
    e: EnvState,
    kind: Kind,
    key: string,
    before: FlagDefinition | SegmentDefinition | undefined,
    after: FlagDefinition | SegmentDefinition | undefined,
    options: WriteOptions,
    at: WriteAt,
  ): void {
    const histories = kind === 'flag' ? e.flagHistory : e.segmentHistory;
    const id = `${kind}:${key}`;
    let entries = histories.get(key);
    if (!entries) histories.set(key, (entries = []));
    entries.push({
      version: at.index,
      time: at.time,
      author: options.author,
      reason: options.reason ?? '',
      action: before === undefined ? 'created' : after === undefined ? 'deleted' : 'updated',
      changes: diff(before as unknown as JsonValue, after as unknown as JsonValue),
    });
    if (entries.length > this.options.historyPerKey)
      entries.splice(0, entries.length - this.options.historyPerKey);
    if (entries.length === 0) histories.delete(key);
    e.deleted.delete(id);
    if (after !== undefined) return;
    e.deleted.set(id, at.index);
    for (const oldest of e.deleted.keys()) {
      if (e.deleted.size <= this.options.deletedHistories) break;
      e.deleted.delete(oldest);
      const [k, ...rest] = oldest.split(':');
      (k === 'flag' ? e.flagHistory : e.segmentHistory).delete(rest.join(':'));
    }
  }

  // --------------------------------------------------------------- imports

  /**
   * Writes many flags and segments in one step (an import): every one is
   * checked first against the segments the environment will hold, then all
   * are written at this index; unchanged ones keep their version. With
   * prune, flags and segments the import does not name are deleted.
   * `at` undefined: only check (a validator).
   * @returns the keys created, updated, unchanged and deleted
   * @throws InvalidDefinitionError naming every problem of every definition
   */
  importDefinitions(
    environment: string,
    defs: {
      readonly flags: Readonly<Record<string, unknown>>;
      readonly segments: Readonly<Record<string, unknown>>;
    },
    options: WriteOptions & { readonly prune?: boolean },
    at: WriteAt | undefined,
  ): ImportResult {
    const envProblem = nameProblem('environment', environment);
    if (envProblem) throw new InvalidDefinitionError('names', [envProblem]);
    checkWriteOptions(options, ['author', 'reason', 'prune']);
    if (options.prune !== undefined && typeof options.prune !== 'boolean')
      throw new InvalidDefinitionError('options', ['options.prune: must be true or false']);
    if (!isPlainObject(defs.flags) || !isPlainObject(defs.segments))
      throw new InvalidDefinitionError('import', ['flags and segments must be objects']);
    const e = this.env(environment);
    const problems: string[] = [];
    const segments = new Map<string, CompiledSegment>();
    for (const [name, def] of Object.entries(defs.segments)) {
      const p = nameProblem('segment', name);
      const c = compileSegment(name, def);
      if (p) problems.push(p);
      else if (!c.ok) problems.push(...c.problems.map((x) => `segments.${name}: ${x}`));
      else segments.set(name, c.value);
    }
    const exists = (n: string): boolean =>
      segments.has(n) || (!options.prune && (e?.segments.has(n) ?? false));
    const flags = new Map<string, CompiledFlag>();
    for (const [key, def] of Object.entries(defs.flags)) {
      const p = nameProblem('key', key);
      const c = compileFlag(key, def, exists);
      if (p) problems.push(p);
      else if (!c.ok) problems.push(...c.problems.map((x) => `flags.${key}: ${x}`));
      else flags.set(key, c.value);
    }
    if (problems.length > 0) throw new InvalidDefinitionError(`import into ${environment}`, problems);
    // With prune, the flags that remain are the imported ones, checked against the imported segments only:
    // no segment that prune deletes can be in use.
    const result = planImport(e, flags, segments, options.prune === true);
    if (!at) return result;
    const write = {
      author: options.author,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    };
    for (const name of [...result.segments.created, ...result.segments.updated])
      this.putSegment(environment, segments.get(name)!, e?.segments.get(name), write, at);
    for (const key of [...result.flags.created, ...result.flags.updated])
      this.putFlag(environment, flags.get(key)!, this.env(environment)?.flags.get(key), write, at);
    for (const key of result.flags.deleted) this.deleteFlag(environment, key, write, at);
    for (const name of result.segments.deleted) this.deleteSegment(environment, name, write, at);
    return result;
  }

  // --------------------------------------------------------------- queries

  /** @returns the environments that hold (or held) something, sorted */
  environments(): string[] {
    return [...this.state.envs.keys()].sort();
  }

  /** @returns flag key's record, or null */
  getFlag(environment: string, key: string): FlagRecord | null {
    return this.env(environment)?.flags.get(key) ?? null;
  }

  /** @returns every flag of environment, by key */
  listFlags(environment: string): FlagRecord[] {
    const e = this.env(environment);
    return e ? byKey(e.flags) : [];
  }

  /** @returns segment name's record, or null */
  getSegment(environment: string, name: string): SegmentRecord | null {
    return this.env(environment)?.segments.get(name) ?? null;
  }

  /** @returns every segment of environment, by name */
  listSegments(environment: string): SegmentRecord[] {
    const e = this.env(environment);
    return e ? byKey(e.segments) : [];
  }

  /** @returns the environment's flags and segments as of the last applied command */
  snapshot(environment: string): EnvironmentSnapshot {
    return {
      environment,
      appliedIndex: this.state.lastIndex,
      flags: this.listFlags(environment),
      segments: this.listSegments(environment),
    };
  }

  /** @returns the history of flag (or segment) key, oldest first; [] when none is kept */
  history(environment: string, key: string, kind: Kind): HistoryEntry[] {
    const e = this.env(environment);
    return [...((kind === 'flag' ? e?.flagHistory : e?.segmentHistory)?.get(key) ?? [])];
  }
}

/** What importDefinitions did, per kind. */
export interface ImportResult {
  readonly flags: ImportChanges;
  readonly segments: ImportChanges;
}

/** Keys created, updated, left unchanged and deleted by an import, sorted. */
export interface ImportChanges {
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
  readonly deleted: string[];
}

function changes<T extends { readonly definition: unknown }>(
  current: ReadonlyMap<string, T> | undefined,
  incoming: ReadonlyMap<string, { readonly definition: unknown }>,
  prune: boolean,
): ImportChanges {
  const c: ImportChanges = { created: [], updated: [], unchanged: [], deleted: [] };
  for (const [k, v] of incoming) {
    const old = current?.get(k);
    (old === undefined ? c.created : jsonEqual(old.definition, v.definition) ? c.unchanged : c.updated).push(
      k,
    );
  }
  if (prune && current) for (const k of current.keys()) if (!incoming.has(k)) c.deleted.push(k);
  for (const list of Object.values(c)) list.sort();
  return c;
}

function planImport(
  e: EnvState | undefined,
  flags: ReadonlyMap<string, CompiledFlag>,
  segments: ReadonlyMap<string, CompiledSegment>,
  prune: boolean,
): ImportResult {
  return { flags: changes(e?.flags, flags, prune), segments: changes(e?.segments, segments, prune) };
}
