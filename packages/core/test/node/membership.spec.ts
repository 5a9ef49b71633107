import { MemoryNetwork, MembershipChangeError } from '../../src/index';
import { kvNode, until } from '../support/nodes';

const net = new MemoryNetwork();

function start(id: string, voters: string[], seed: number) {
  return kvNode(id, {
    voters,
    transport: net.transport(id),
    seed,
    config: { snapshotEntries: 30, snapshotTrailingEntries: 5 },
  });
}
type Member = ReturnType<typeof start>;

async function leaderOf(members: Member[]): Promise<Member> {
  await until(() => members.some((m) => m.node.isLeader()), 'a leader');
  return members.find((m) => m.node.isLeader())!;
}

describe('§6 membership changes - RaftNode', () => {
  it('adds a voter through a learner, removes the leader, and swaps two voters through joint consensus', async () => {
    const all: Member[] = [];
    const initial = ['a', 'b', 'c'];
    try {
      for (const [k, id] of initial.entries()) all.push(start(id, initial, k + 1));
      await Promise.all(all.map((m) => m.node.start()));
      let leader = await leaderOf(all);
      for (let i = 0; i < 60; i++) await leader.node.propose({ name: 'put', args: [`k${i}`, `v${i}`] });

      // A fresh node joins with no configuration of its own; it catches up (by snapshot: the log is compacted).
      const d = start('d', [], 9);
      all.push(d);
      await d.node.start();
      const afterAdd = await leader.node.addVoter('d');
      expect([...afterAdd.voters].sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(afterAdd.learners).toEqual([]);
      await until(() => d.kv().get('k59') === 'v59', 'd to hold the whole state');
      expect(d.node.status().snapshotIndex).toBeGreaterThan(0);

      // One change at a time.
      const second = leader.node.addLearner('e');
      await expect(leader.node.addLearner('f')).rejects.toBeInstanceOf(MembershipChangeError);
      await second;
      await leader.node.removeNode('e');

      // Removing the leader: it steps down once the change applies, and the others elect a new one.
      const old = leader;
      await old.node.removeNode(old.id);
      await until(() => !old.node.isLeader(), 'the removed leader to step down');
      const rest = all.filter((m) => m !== old && m.id !== 'e');
      leader = await leaderOf(rest);
      expect(leader.node.status().members.voters).not.toContain(old.id);
      await leader.node.propose({ name: 'put', args: ['after', 'removal'] });

      // Replacing two voters at once goes through C_old,new and ends in C_new.
      const x = start('x', [], 21);
      const y = start('y', [], 22);
      all.push(x, y);
      await Promise.all([x.node.start(), y.node.start()]);
      const stay = rest.find((m) => m === leader)!;
      const goes = rest
        .filter((m) => m !== stay)
        .slice(0, 2)
        .map((m) => m.id);
      const final = await stay.node.changeMembership([
        { type: 'add-voter', node: 'x' },
        { type: 'add-voter', node: 'y' },
        ...goes.map((node) => ({ type: 'remove' as const, node })),
      ]);
      expect([...final.voters].sort()).toEqual([stay.id, 'x', 'y'].sort());
      expect(final.outgoing).toEqual([]);
      await stay.node.propose({ name: 'put', args: ['joint', 'done'] });
      await until(
        () => x.kv().get('joint') === 'done' && y.kv().get('joint') === 'done',
        'the new voters to apply',
      );
    } finally {
      await Promise.all(all.map((m) => m.node.stop()));
    }
  });
});
