// A FeatureFlags behind a MachineHost, driven by hand: each command is
// validated as before replication, its arguments go through the codec as
// they would through the log, and it is applied at the next log index and
// at the time the test sets.
import { MachineHost, pack, unpack, type CommandsOf, type QueriesOf } from '@raftline/core';
import {
  FeatureFlags,
  type FeatureFlagsOptions,
  type FlagDefinition,
  type FlagRecord,
} from '../../src/index';

type Sync<F> = { [K in keyof F]: F[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : never };

type QueryName =
  | 'listEnvironments'
  | 'getFlag'
  | 'listFlags'
  | 'getSegment'
  | 'listSegments'
  | 'environmentSnapshot'
  | 'evaluate'
  | 'history'
  | 'exportFlagd';

export class Harness {
  readonly machine: FeatureFlags;
  readonly host: MachineHost;
  /** Log index of the last command applied. */
  index = 0;
  /** Replicated time the next command is applied at. */
  time = 1_000;
  /** Commands, applied synchronously: h.cmd.setFlag('prod', 'k', def, { author }). */
  readonly cmd: Sync<Omit<CommandsOf<FeatureFlags>, QueryName>>;
  /** Queries, answered from local state. */
  readonly q: Sync<Pick<QueriesOf<FeatureFlags>, QueryName>>;

  constructor(options?: FeatureFlagsOptions) {
    this.machine = new FeatureFlags(options);
    this.host = new MachineHost(this.machine);
    // This host leads term 1, the term every command is applied in.
    this.host.onRoleChange('leader', 'n1', 1);
    this.cmd = proxy((name, args) => this.apply(name, args));
    this.q = proxy((name, args) => this.host.query(name, args));
  }

  /** Sets the replicated time of the following commands. */
  at(time: number): this {
    this.time = time;
    return this;
  }

  /**
   * Validates and applies one command.
   * @returns its result
   * @throws CommandRejectedError (validation), CommandFailedError (the handler threw)
   */
  apply(name: string, args: readonly unknown[]): unknown {
    this.host.validate({ name, args });
    const wire = unpack(pack(args)) as unknown[];
    const result = this.host.apply(
      { name, args: wire, time: this.time },
      { index: ++this.index, term: 1, time: this.time },
    );
    if (!result.ok) throw result.error;
    return result.value;
  }

  /** A host restored from this one's snapshot. */
  restored(options?: FeatureFlagsOptions): Harness {
    const copy = new Harness(options);
    copy.host.restore(this.host.snapshot());
    copy.index = this.index;
    copy.time = this.time;
    return copy;
  }
}

function proxy<T>(call: (name: string, args: unknown[]) => unknown): T {
  return new Proxy(
    {},
    { get: (_t, name) => (typeof name === 'string' ? (...args: unknown[]) => call(name, args) : undefined) },
  ) as T;
}

/** A boolean flag with variants on/off, default off, enabled, and the given rules. */
export function boolFlag(
  rules: FlagDefinition['rules'] = [],
  extra: Partial<FlagDefinition> = {},
): FlagDefinition {
  return {
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    enabled: true,
    rules,
    ...extra,
  };
}

/** A record as the store would hold it, for evaluator tests. */
export function record(key: string, definition: FlagDefinition, version = 1): FlagRecord {
  return { key, version, definition, createdAt: 0, updatedAt: 0, updatedBy: 'test' };
}

/** A rollout of `on` to percent % by targetingKey (the rest off). */
export function rollout(percent: number): FlagDefinition {
  return boolFlag([
    {
      serve: {
        rollout: {
          split: [
            { variant: 'on', weight: percent },
            { variant: 'off', weight: 100 - percent },
          ],
        },
      },
    },
  ]);
}

export const AUTHOR = { author: 'alice' } as const;
