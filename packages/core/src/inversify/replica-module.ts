import { ContainerModule, type Container } from 'inversify';
import { Replica, type ReplicaOptions } from '../replica';
import type { ReplicatedStateMachine } from '../state-machine/machine';
import { REPLICA_PARTS, withBoundParts } from './parts';

/**
 * Service identifiers of the raftline container module: the options, the
 * replica, and the parts (Logger, Clock, Random, LogStore, StableStore,
 * SnapshotStore, Transport) that, when bound, replace the options' own.
 */
export const RAFTLINE = {
  /** The ReplicaOptions the replica is built from (bound by replicaModule). */
  Options: Symbol.for('raftline.ReplicaOptions'),
  /** The singleton Replica built from RAFTLINE.Options and the bound parts. */
  Replica: Symbol.for('raftline.Replica'),
  ...REPLICA_PARTS,
} as const;

/**
 * An inversify container module that binds RAFTLINE.Options to `options` and
 * RAFTLINE.Replica to a singleton Replica built from them. A part bound in
 * the container (RAFTLINE.Logger, .Clock, .Random, .LogStore, .StableStore,
 * .SnapshotStore, .Transport) replaces the options' field of that name;
 * rebind RAFTLINE.Options (or load another module) to replace them all:
 *
 *     const container = new Container();
 *     container.loadSync(replicaModule({ id: 'n1', voters, machine: new Kv(), logStore, stableStore, transport }));
 *     container.bind<Logger>(RAFTLINE.Logger).toConstantValue(pino());
 *     const replica = container.get<Replica<Kv>>(RAFTLINE.Replica);
 *
 * @returns the module; loading it binds, resolving RAFTLINE.Replica builds
 *   the Replica, and throws what `new Replica(options)` throws (ConfigError,
 *   MissingHandlerError, DuplicateHandlerError)
 */
export function replicaModule<M extends ReplicatedStateMachine>(options: ReplicaOptions<M>): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<ReplicaOptions<M>>(RAFTLINE.Options).toConstantValue(options);
    bind<Replica<M>>(RAFTLINE.Replica)
      .toDynamicValue((ctx) => new Replica(withBoundParts(ctx.get<ReplicaOptions<M>>(RAFTLINE.Options), ctx)))
      .inSingletonScope();
  });
}

/**
 * Resolves the Replica a container holds.
 * @returns the container's singleton Replica (built on first call)
 * @throws inversify's error when RAFTLINE.Replica is not bound (no replicaModule loaded),
 *   and what `new Replica(options)` throws on the first call
 */
export function replicaFrom<M extends ReplicatedStateMachine>(container: Container): Replica<M> {
  return container.get<Replica<M>>(RAFTLINE.Replica);
}
