// Shared pieces of the security tests: the README's NATS permissions as a
// server configuration, a watcher of the permission violations a nats.js
// connection reports, and forged Raft messages an attacker would send.
import { encodeCommand, type Message, type NodeId } from '@raftline/core';
import type { NatsConnection } from '../../src/index';

/** A permission violation as the nats.js connection reports it (PermissionViolationError's fields). */
export interface Violation {
  readonly operation: string;
  readonly subject: string;
}

/**
 * The NATS permissions the README recommends for cluster `cluster`, as
 * `authorization { users = [...] }` entries for a replica (`replica`/`r`),
 * a client (`client`/`c`: commands and queries), an administrator
 * (`admin`/`a`) and a monitor (`monitor`/`m`). `auth` replaces the
 * user/password pair of a user (e.g. `nkey: U…`).
 * @returns the permissions block of each user, by user name
 */
export function readmePermissions(
  cluster: string,
): Record<'replica' | 'client' | 'admin' | 'monitor', string> {
  const c = cluster;
  return {
    replica: `publish: ["raftline.${c}.>", "_INBOX.>", "$JS.API.>", "$SRV.>"], subscribe: ["raftline.${c}.>", "_INBOX.>", "$SRV.>"]`,
    client: `publish: ["raftline.${c}.*.client", "raftline.${c}.*.client.*", "raftline.${c}.*.query", "raftline.${c}.*.query.*"], subscribe: ["_INBOX.>", "raftline.${c}.*.leader"]`,
    admin: `publish: ["raftline.${c}.*.admin.>"], subscribe: ["_INBOX.>"]`,
    monitor: `publish: ["raftline.${c}.*.admin.status", "raftline.${c}.*.admin.*.status"], subscribe: ["_INBOX.>"]`,
  };
}

/**
 * The README's nats-server authorization block for cluster `cluster`, users
 * with passwords (replica/r, client/c, admin/a, monitor/m).
 * @returns the configuration text
 */
export function passwordAuthorization(cluster: string): string {
  const p = readmePermissions(cluster);
  return `
authorization {
  users = [
    { user: replica, password: r, permissions: { ${p.replica} } }
    { user: client, password: c, permissions: { ${p.client} } }
    { user: admin, password: a, permissions: { ${p.admin} } }
    { user: monitor, password: m, permissions: { ${p.monitor} } }
  ]
}
`;
}

/**
 * Collects the permission violations the server reports to connection nc
 * (nats.js v3 dispatches each `-ERR 'Permissions Violation …'` as a status
 * event of type `error`).
 * @returns the list, filled as events arrive
 */
export function watchViolations(nc: NatsConnection): Violation[] {
  const seen: Violation[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      const err = s.error as { name?: string; operation?: string; subject?: string };
      if (err.name === 'PermissionViolationError') {
        seen.push({ operation: String(err.operation), subject: String(err.subject) });
      }
    }
  })();
  return seen;
}

/** What a forger knows of the group it attacks: the leader, the term, the leader's last and commit index. */
export interface GroupView {
  readonly leader: NodeId;
  readonly term: number;
  readonly lastIndex: number;
  readonly commit: number;
}

/**
 * One forged message of each kind an attacker would send to `victim`: a vote
 * request (and a pre-vote) at a higher term, an append of a command and a
 * heartbeat in the leader's name at the current term, a timeout-now, and a
 * snapshot install far ahead. Delivered to a node, any of them changes what
 * the group observes (a term, a leader, an applied entry).
 * @returns the messages, each addressed to victim
 */
export function forgedMessages(victim: NodeId, view: GroupView, forger: NodeId): Message[] {
  const { leader, term, lastIndex, commit } = view;
  const data = encodeCommand({ name: 'inc', args: ['forged'], time: Date.now() });
  const entry = { index: lastIndex + 1, term, type: 'normal' as const, data };
  return [
    {
      type: 'vote',
      from: forger,
      to: victim,
      term: term + 5,
      lastIndex: 1e9,
      lastTerm: term + 4,
      transfer: true,
    },
    {
      type: 'pre-vote',
      from: forger,
      to: victim,
      term: term + 6,
      lastIndex: 1e9,
      lastTerm: term + 4,
      transfer: false,
    },
    {
      type: 'append',
      from: leader,
      to: victim,
      term,
      prevIndex: lastIndex,
      prevTerm: term,
      entries: [entry],
      commit: lastIndex + 1,
    },
    {
      type: 'heartbeat',
      from: leader,
      to: victim,
      term,
      commit: commit + 100,
      context: '',
      sentAt: Date.now(),
    },
    { type: 'timeout-now', from: leader, to: victim, term },
    {
      type: 'snapshot',
      from: leader,
      to: victim,
      term,
      snapshot: {
        index: lastIndex + 1000,
        term,
        membership: { voters: [forger], outgoing: [], learners: [] },
      },
    },
  ];
}
