/** `raftline members list|add|add-learner|promote|remove`. */
import {
  AdminClient,
  type AdminMembers,
  type MembershipOutcome,
  type NatsConnection,
} from '@raftline/transport-nats';
import { json, print, table } from '../output';
import { oneGroup, withConnection, type Target } from './common';

function admin(nc: NatsConnection, target: Target): AdminClient {
  return new AdminClient({
    connection: nc,
    cluster: target.cluster,
    group: oneGroup(target),
    timeoutMs: target.timeoutMs,
  });
}

/** Prints the group's members: each voter and learner, its state and how far behind it is. */
export async function membersList(target: Target): Promise<void> {
  await withConnection(target, async (nc) => {
    const status = await admin(nc, target).status();
    if (target.format === 'json') {
      print(json({ leaderId: status.leaderId, term: status.term, members: status.members }));
      return;
    }
    const m = status.members;
    const roleOf = (id: string): string => {
      const incoming = m.voters.includes(id);
      const outgoing = m.outgoing.includes(id);
      if (incoming && (outgoing || !m.joint)) return 'voter';
      if (incoming) return 'voter (incoming)';
      return outgoing ? 'voter (outgoing)' : 'learner';
    };
    const ids = [...new Set([...m.voters, ...m.outgoing, ...m.learners])].sort();
    const rows = ids.map((id) => {
      const r = status.replicas.find((x) => x.node === id);
      const state = !r ? 'unknown' : r.reachable ? r.status.role : 'unreachable';
      const lag = r?.reachable && r.lag ? String(r.lag.entries) : '-';
      return [id, roleOf(id), state, lag];
    });
    print(table(['NODE', 'MEMBERSHIP', 'STATE', 'LAG'], rows));
    if (m.joint) print('joint consensus in progress (C_old,new)');
  });
}

/** The membership change subcommands: each idempotent; `changed: false` when the group already was so. */
export async function membersChange(
  target: Target,
  op: 'add' | 'add-learner' | 'promote' | 'remove',
  node: string,
  options: { maxLag?: number } = {},
): Promise<void> {
  await withConnection(target, async (nc) => {
    const a = admin(nc, target);
    const call = { timeoutMs: target.timeoutMs };
    const outcome: MembershipOutcome =
      op === 'add'
        ? await a.addVoter(node, {
            ...call,
            ...(options.maxLag !== undefined ? { maxLag: options.maxLag } : {}),
          })
        : op === 'add-learner'
          ? await a.addLearner(node, call)
          : op === 'promote'
            ? await a.promote(node, call)
            : await a.remove(node, call);
    if (target.format === 'json') {
      print(json(outcome));
      return;
    }
    const what = {
      add: 'added as a voter',
      'add-learner': 'added as a learner',
      promote: 'promoted to voter',
      remove: 'removed',
    }[op];
    const already = {
      add: 'is already a voter',
      'add-learner': 'is already a learner',
      promote: 'is already a voter',
      remove: 'is not a member',
    }[op];
    print(outcome.changed ? `${node} ${what}` : `${node} ${already}: nothing changed`);
    print(describeMembers(outcome.members));
  });
}

export function describeMembers(m: AdminMembers): string {
  const list = (ids: readonly string[]): string => (ids.length > 0 ? ids.join(',') : '-');
  return `voters: ${list(m.voters)}; learners: ${list(m.learners)}${m.joint ? `; outgoing: ${list(m.outgoing)}` : ''}`;
}
