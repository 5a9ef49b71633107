// Serving an in-process node to clients over NATS as a replica process does,
// with a test's hand on what passes through: shared by the typed-client
// (Inventory) and client (Tally) replicas.
import type { CommandRequest, QueryRequest, RaftNode } from '@raftline/core';
import { serveClients, type NatsConnection } from '../../src/index';

/** Where the node serves clients. */
export interface ServeAt {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
}

/** What a test puts between serveClients and the node. */
export interface ServeHooks {
  /** Answers each command in the node's place (default: the node's propose). */
  readonly propose?: (request: CommandRequest) => Promise<unknown>;
  /** Sees each query before the node runs it. */
  readonly onQuery?: (request: QueryRequest) => void;
}

/**
 * Serves node to clients at `at` (queries, role changes and status straight
 * from the node; commands through hooks.propose).
 * @returns a stop function: stops serving, as a stopped process would (idempotent)
 */
export function serveWatched(at: ServeAt, node: RaftNode, hooks: ServeHooks = {}): () => void {
  let server: { close(): void } | undefined = serveClients({
    connection: at.connection,
    cluster: at.cluster,
    group: at.group,
    node: {
      id: node.id,
      propose: hooks.propose ?? ((request) => node.propose(request)),
      query: (name, args, options) => {
        hooks.onQuery?.({ name, args });
        return node.query(name, args, options);
      },
      onRoleChange: (listener) => node.onRoleChange(listener),
      status: () => node.status(),
    },
  });
  return () => {
    server?.close();
    server = undefined;
  };
}
