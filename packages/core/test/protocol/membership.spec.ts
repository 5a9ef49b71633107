import { MembershipChangeError, RaftProtocol, seededRandom } from '../../src/index';
import {
  allVoters,
  applyChanges,
  committedIndex,
  decodeConfigEntry,
  encodeConfigEntry,
  jointVoteResult,
  leaveJoint,
  membershipOf,
} from '../../src/protocol/membership';
import { ofType, voteReq } from '../support/drive';
import { Net } from '../support/net';

/** A Net over `all` where only `voters` form the bootstrap configuration; the others join with none. */
function clusterOf(voters: string[], all: string[]): Net {
  const net = new Net(all);
  for (const id of all) {
    const v = voters.includes(id) ? voters : [];
    net.nodes.set(id, new RaftProtocol({ id, voters: v, random: seededRandom(all.indexOf(id) + 1) }));
  }
  return net;
}

const members = (net: Net, id: string) => net.node(id).members();

describe('§6 joint consensus - quorum arithmetic', () => {
  const joint = { voters: ['a', 'd', 'e'], outgoing: ['a', 'b', 'c'], learners: [] };

  it('commits an index only when a majority of C_old and of C_new hold it', () => {
    const match = (held: Record<string, number>) => (id: string) => held[id] ?? 0;
    expect(committedIndex(joint, match({ a: 5, d: 5, e: 5 }))).toBe(0); // C_new only
    expect(committedIndex(joint, match({ a: 5, b: 5, c: 5 }))).toBe(0); // C_old only
    expect(committedIndex(joint, match({ a: 5, b: 5, d: 5 }))).toBe(5);
  });

  it('wins an election only with both majorities, and loses it if either majority refuses', () => {
    const votes = (v: Record<string, boolean>) => new Map(Object.entries(v));
    expect(jointVoteResult(joint, votes({ a: true, d: true, e: true }))).toBe('pending');
    expect(jointVoteResult(joint, votes({ a: true, b: true, d: true }))).toBe('won');
    expect(jointVoteResult(joint, votes({ b: false, c: false }))).toBe('lost');
  });

  it('applies one voter change directly, enters joint consensus for more, and leaves it', () => {
    const m = membershipOf(['a', 'b', 'c']);
    expect(applyChanges(m, [{ type: 'add-voter', node: 'd' }])).toEqual({
      voters: ['a', 'b', 'c', 'd'],
      outgoing: [],
      learners: [],
    });
    const j = applyChanges(m, [
      { type: 'remove', node: 'b' },
      { type: 'add-voter', node: 'd' },
    ]);
    expect(j.outgoing).toEqual(['a', 'b', 'c']);
    expect(allVoters(j).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(leaveJoint(j)).toEqual({ voters: ['a', 'c', 'd'], outgoing: [], learners: [] });
    expect(() => applyChanges(j, [{ type: 'add-learner', node: 'x' }])).toThrow(MembershipChangeError);
    expect(() => applyChanges(membershipOf(['a']), [{ type: 'remove', node: 'a' }])).toThrow(
      /at least one voter/,
    );
  });

  it('round-trips config entries (the whole membership) and rejects malformed ones', () => {
    const membership = { voters: ['a', 'b'], outgoing: ['a'], learners: ['x'] };
    expect(decodeConfigEntry(encodeConfigEntry({ membership }))).toEqual({ membership });
    const bad = { membership: { voters: [], outgoing: [], learners: [] } };
    expect(() => decodeConfigEntry(encodeConfigEntry(bad))).toThrow(/no voters/);
  });
});

describe('§6 membership changes - protocol', () => {
  it('a learner receives the log but never counts toward commit and never campaigns', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'd']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-learner', node: 'd' }]);
    net.settle();
    expect(members(net, 'a').learners).toEqual(['d']);
    net.propose('a', 'x');
    expect(net.logOf('d')).toContain('x');
    net.partition(['a', 'd'], ['b', 'c']);
    const before = net.node('a').status().commitIndex;
    net.propose('a', 'y'); // a + the learner d are no majority
    expect(net.node('a').status().commitIndex).toBe(before);
    const mark = net.sent.length;
    for (let t = 0; t < 100; t++) net.node('d').tick();
    net.drain();
    expect(ofType(net.sent.slice(mark), 'pre-vote', 'd')).toEqual([]);
  });

  it('allows one change at a time', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'd']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-learner', node: 'd' }]);
    expect(() => net.node('a').proposeMembership([{ type: 'remove', node: 'c' }])).toThrow(
      MembershipChangeError,
    );
    net.settle();
    expect(() => net.node('a').proposeMembership([{ type: 'remove', node: 'c' }])).not.toThrow();
  });

  it('moves through C_old,new to C_new on its own and keeps committing throughout', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    net.node('a').proposeMembership([
      { type: 'remove', node: 'b' },
      { type: 'remove', node: 'c' },
      { type: 'add-voter', node: 'd' },
      { type: 'add-voter', node: 'e' },
    ]);
    net.settle();
    for (const id of ['a', 'd', 'e'])
      expect(members(net, id)).toEqual({ voters: ['a', 'd', 'e'], outgoing: [], learners: [] });
    const configEntries = net
      .node('a')
      .log.slice(1, net.node('a').log.lastIndex())
      .filter((e) => e.type === 'config');
    expect(configEntries).toHaveLength(2); // enter joint, leave joint
    net.partition(['b', 'c'], ['a', 'd', 'e']); // C_old's other members are gone: C_new alone commits
    net.propose('a', 'after');
    expect(net.logOf('d')).toContain('after');
    expect(net.node('a').status().commitIndex).toBe(net.node('a').log.lastIndex());
  });

  it('a removed leader steps down once the change applies, and the rest elect a leader', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'remove', node: 'a' }]);
    net.settle();
    expect(net.node('a').status().role).toBe('follower');
    // b and c still honour a's lease for an election timeout, then elect one of them.
    for (let t = 0; t < 100 && net.leaders().length === 0; t++) {
      net.tickAll();
      net.settle();
    }
    expect(['b', 'c']).toContain(net.leaders()[0]);
    expect(members(net, 'b').voters).toEqual(['b', 'c']);
  });

  it('drops vote requests from nodes that are not members (a removed node cannot disrupt)', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c']);
    net.elect('a');
    const b = net.node('b');
    for (let t = 0; t < 50; t++) b.tick(); // out of a's lease
    const mark = net.sent.length;
    b.step(voteReq('zed', 'b', 9, 100, 9));
    net.drain();
    expect(net.sent.slice(mark).filter((m) => m.to === 'zed')).toEqual([]);
    expect(b.status().term).toBe(1);
  });

  it('a restarted node recovers its configuration from the committed config entries in its log', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'd']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-voter', node: 'd' }]);
    net.settle();
    net.restart('b');
    net.nodes.set(
      'b',
      new RaftProtocol({ id: 'b', voters: ['a', 'b', 'c'], random: seededRandom(5), ...diskOf(net, 'b') }),
    );
    net.drain();
    expect(members(net, 'b').voters).toEqual(['a', 'b', 'c', 'd']);
  });
});

function diskOf(net: Net, id: string) {
  const d = net.disks.get(id)!;
  return { hardState: { term: d.term, vote: d.vote, commit: d.commit }, entries: d.log };
}
