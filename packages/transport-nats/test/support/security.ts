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

/** Publish and subscribe allow-lists of a NATS user. */
export interface AllowLists {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The kinds of NATS user the README's permissions table names. */
export type UserKind = 'replica' | 'client' | 'admin' | 'monitor';

/**
 * The NATS permissions the README recommends for the groups of cluster `c`
 * (its "NATS permissions" table), one allow-list pair per kind of user.
 * @returns the allow-lists, by kind of user
 */
export function readmeAllowLists(c: string): Record<UserKind, AllowLists> {
  return {
    replica: {
      publish: [`raftline.${c}.>`, '_INBOX.>', '$JS.API.>', '$SRV.>'],
      subscribe: [`raftline.${c}.>`, '_INBOX.>', '$SRV.>'],
    },
    client: {
      publish: [
        `raftline.${c}.*.client`,
        `raftline.${c}.*.client.*`,
        `raftline.${c}.*.query`,
        `raftline.${c}.*.query.*`,
      ],
      subscribe: ['_INBOX.>', `raftline.${c}.*.leader`],
    },
    admin: { publish: [`raftline.${c}.*.admin.>`], subscribe: ['_INBOX.>'] },
    monitor: {
      publish: [`raftline.${c}.*.admin.status`, `raftline.${c}.*.admin.*.status`],
      subscribe: ['_INBOX.>'],
    },
  };
}

/**
 * A nats-server `authorization { users = [...] }` block: each user's
 * credentials (`user: x, password: y`, or `nkey: U…`) with its allow-lists.
 * @returns the configuration text
 */
export function authorization(users: readonly { auth: string; allow: AllowLists }[]): string {
  const list = (xs: readonly string[]) => JSON.stringify(xs);
  const entries = users.map(
    (u) =>
      `    { ${u.auth}, permissions: { publish: ${list(u.allow.publish)}, subscribe: ${list(u.allow.subscribe)} } }`,
  );
  return `authorization {\n  users = [\n${entries.join('\n')}\n  ]\n}\n`;
}

/**
 * The README's authorization for cluster `cluster`, users with passwords
 * (replica/r, client/c, admin/a, monitor/m).
 * @returns the configuration text
 */
export function passwordAuthorization(cluster: string): string {
  const allow = readmeAllowLists(cluster);
  const pass = { replica: 'r', client: 'c', admin: 'a', monitor: 'm' };
  return authorization(
    (Object.keys(pass) as UserKind[]).map((k) => ({
      auth: `user: ${k}, password: ${pass[k]}`,
      allow: allow[k],
    })),
  );
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
