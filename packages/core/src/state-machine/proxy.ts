import type { CommandRequest } from '../node/command';
import type { ReplicatedStateMachine } from './machine';

/** A query as a client submits it: a `@Query` name and its arguments. */
export interface QueryRequest {
  readonly name: string;
  readonly args: readonly unknown[];
}

/** Members every machine inherits (snapshotState, restoreState): never remote calls. */
type FrameworkMember = keyof ReplicatedStateMachine;

/**
 * M's public string-keyed methods, minus the framework's, each made async.
 * Types cannot see decorators, so this is every public method: keep
 * validators and helpers private or protected to hide them from clients.
 */
type RemoteMethods<M> = {
  [
    K in keyof M as K extends FrameworkMember
      ? never
      : K extends string
        ? M[K] extends (...args: never[]) => unknown
          ? K
          : never
        : never
  ]: M[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/**
 * The command side of a state machine M as a client sees it: each public
 * method of M (not a ReplicatedStateMachine member), with its parameters, returning
 * a Promise of its result.
 */
export type CommandsOf<M> = RemoteMethods<M>;

/** The query side of a state machine M as a client sees it (see CommandsOf). */
export type QueriesOf<M> = RemoteMethods<M>;

function remoteProxy<T>(call: (name: string, args: unknown[]) => Promise<unknown>): T {
  return new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      // 'then' stays undefined so that awaiting the proxy itself does not call it.
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args: unknown[]) => call(prop, args);
    },
    set: () => false,
  }) as T;
}

/**
 * A typed client for M's commands: `proxy.put('k', 'v')` calls
 * `send({ name: 'put', args: ['k', 'v'] })` and returns its promise. The
 * method name is the command name, so rename with `@Command(name)` only when
 * clients build requests by hand. A command named 'then' is not reachable.
 * @param send submits a request (through a node or a client) and resolves
 *   with the command's result; what it rejects with, the call rejects with
 * @returns the proxy
 */
export function commandProxy<M>(send: (request: CommandRequest) => Promise<unknown>): CommandsOf<M> {
  return remoteProxy<CommandsOf<M>>((name, args) => send({ name, args }));
}

/**
 * A typed client for M's queries: `proxy.get('k')` calls
 * `send({ name: 'get', args: ['k'] })` and returns its promise.
 * @param send runs the query and resolves with its result
 * @returns the proxy
 */
export function queryProxy<M>(send: (request: QueryRequest) => Promise<unknown>): QueriesOf<M> {
  return remoteProxy<QueriesOf<M>>((name, args) => send({ name, args }));
}
