/**
 * The NATS connections of a `raftline serve` process. By default
 * (nats.separateRaftConnection: true) there are two, opened with the same
 * servers, credentials and raftline's reconnect-for-ever defaults:
 *
 * - `raft`, the control plane, whose volume the replicas decide: every
 *   group's NatsTransport (AppendEntries, heartbeats, votes, snapshots), its
 *   liveness claim (part of the transport), the admin API it serves, and
 *   the admin requests the process itself makes (joining a group, the
 *   dashboard's collector).
 * - `clients`, the data plane, whose volume clients decide: client commands
 *   and queries (and their forwarding to the leader), role-change notices,
 *   the committed-stream mirror to JetStream, and service discovery, which
 *   advertises where clients are served and so lives and dies with the
 *   connection that serves them.
 *
 * Why: one connection is one socket, one server-side send queue and one
 * client-side outbound buffer, all first in, first out. Under a client flood
 * the replies, forwarded requests and mirror publishes queue ahead of the
 * heartbeats and appends, which then arrive late (head-of-line blocking):
 * past the election timeout a follower starts an election while its leader
 * is alive. Admin stays with Raft so that an operator can still read status
 * and move leadership while clients overload the process.
 *
 * A lost connection is handled as the single connection always was: nats.js
 * reconnects for ever (DEFAULT_CONNECTION_OPTIONS), the transport drops
 * Raft messages meanwhile, and each disconnect and reconnect is logged with
 * the connection's role.
 */
import { connectNats, credsFileOptions, type NatsConnection } from '@raftline/transport-nats';
import type { Logger } from '@raftline/core';
import type { ServeConfig } from '../config/schema';

/** The roles of serve's connections, as logs and connection names show them. */
export type ConnectionRole = 'raft' | 'clients';

/** serve's NATS connections; `raft` and `clients` are the same connection when nats.separateRaftConnection is false. */
export interface ServeConnections {
  /** Raft transport, liveness, admin (served and asked). */
  readonly raft: NatsConnection;
  /** Client commands and queries, the mirror, service discovery. */
  readonly clients: NatsConnection;
  /** The name of each open connection (one or two), as NATS monitoring (`connz`) shows it. */
  readonly names: readonly string[];
  /** Closes every connection (idempotent; never throws). */
  close(): Promise<void>;
}

/**
 * The name a connection of serve gives itself: `raftline serve <cluster>/<node>`,
 * followed by its role when the Raft traffic has a connection of its own.
 */
export function connectionName(config: ServeConfig, role: ConnectionRole | undefined): string {
  const base = `raftline serve ${config.cluster}/${config.node}`;
  return role === undefined ? base : `${base} ${role}`;
}

/**
 * Opens serve's connections, both (when separate) with the same options but their names.
 * @returns the open connections; the caller closes them with close()
 * @throws the nats.js connection error when no server accepts one (a connection opened already is closed)
 */
export async function openConnections(config: ServeConfig, logger: Logger): Promise<ServeConnections> {
  const n = config.nats;
  const open = async (role: ConnectionRole | undefined): Promise<NatsConnection> => {
    const name = connectionName(config, role);
    const nc = await connectNats({
      servers: [...n.servers],
      name,
      ...(n.user !== undefined ? { user: n.user, pass: n.password } : {}),
      ...(n.token !== undefined ? { token: n.token } : {}),
      ...(n.creds !== undefined ? credsFileOptions(n.creds) : {}),
    });
    void follow(nc, role ?? 'shared', logger);
    return nc;
  };
  const closeAll = async (all: readonly NatsConnection[]): Promise<void> => {
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  };
  if (!n.separateRaftConnection) {
    const nc = await open(undefined);
    return { raft: nc, clients: nc, names: [connectionName(config, undefined)], close: () => closeAll([nc]) };
  }
  const raft = await open('raft');
  let clients: NatsConnection;
  try {
    clients = await open('clients');
  } catch (err) {
    await closeAll([raft]);
    throw err;
  }
  // Clients first: no new client request arrives while the transport's connection closes.
  return {
    raft,
    clients,
    names: [connectionName(config, 'raft'), connectionName(config, 'clients')],
    close: async () => {
      await closeAll([clients]);
      await closeAll([raft]);
    },
  };
}

/** Logs a connection's disconnects and reconnects, until it closes. */
async function follow(nc: NatsConnection, role: ConnectionRole | 'shared', logger: Logger): Promise<void> {
  try {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect')
        logger.warn({ connection: role, server: s.server }, 'NATS connection lost');
      else if (s.type === 'reconnect')
        logger.info({ connection: role, server: s.server }, 'NATS connection restored');
    }
  } catch {
    // the status iterator fails only when the connection closes
  }
}
