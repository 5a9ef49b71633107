import type { ResolutionContext } from 'inversify';
import type { ReplicaOptions } from '../replica';
import type { ReplicatedStateMachine } from '../state-machine/machine';

/**
 * Service identifiers of the parts of a replica that a container may bind
 * one by one: each, when bound, replaces the same field of the options
 * bound to RAFTLINE.Options (see replicaModule). So a program that
 * assembles replicas for its users (`raftline serve`) binds whole options,
 * and a user binds only the logger, the clock or a store of their own:
 *
 *     container.loadSync(replicaModule(options));
 *     container.bind<Logger>(RAFTLINE.Logger).toConstantValue(myLogger);
 */
export const REPLICA_PARTS = {
  Logger: Symbol.for('raftline.Logger'),
  Clock: Symbol.for('raftline.Clock'),
  Random: Symbol.for('raftline.Random'),
  LogStore: Symbol.for('raftline.LogStore'),
  StableStore: Symbol.for('raftline.StableStore'),
  SnapshotStore: Symbol.for('raftline.SnapshotStore'),
  Transport: Symbol.for('raftline.Transport'),
} as const;

/** The ReplicaOptions field each part replaces. */
const FIELDS = {
  Logger: 'logger',
  Clock: 'clock',
  Random: 'random',
  LogStore: 'logStore',
  StableStore: 'stableStore',
  SnapshotStore: 'snapshotStore',
  Transport: 'transport',
} as const satisfies Record<keyof typeof REPLICA_PARTS, keyof ReplicaOptions<ReplicatedStateMachine>>;

/**
 * Returns `options` with every field whose part `ctx` has bound replaced by
 * that binding (unbound parts keep the options' value).
 */
export function withBoundParts<M extends ReplicatedStateMachine>(
  options: ReplicaOptions<M>,
  ctx: ResolutionContext,
): ReplicaOptions<M> {
  const replaced: Record<string, unknown> = {};
  for (const part of Object.keys(FIELDS) as (keyof typeof FIELDS)[]) {
    const value = ctx.get<unknown>(REPLICA_PARTS[part], { optional: true });
    if (value !== undefined) replaced[FIELDS[part]] = value;
  }
  return { ...options, ...replaced };
}
