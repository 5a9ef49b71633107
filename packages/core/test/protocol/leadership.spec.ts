import { RaftProtocol, seededRandom, type Message } from '../../src/index';
import { appendReq, heartbeat, tickSettle } from '../support/drive';
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

const snapshotFrom = (from: string, to: string, term: number, index: number, voters: string[]): Message => ({
  type: 'snapshot',
  from,
  to,
  term,
  snapshot: { index, term: 1, membership: { voters, outgoing: [], learners: [] } },
});

describe('§6 membership: only a member of the configuration may lead a follower (thesis §4.2.3)', () => {
  /** a leads a, b, c, d; then d is removed. Returns the index of that config entry. */
  function removedD(): { net: Net; configIndex: number } {
    const net = new Net(['a', 'b', 'c', 'd']);
    net.elect('a');
    net.propose('a', 'x');
    const { firstIndex } = net.node('a').proposeMembership([{ type: 'remove', node: 'd' }]);
    net.settle();
    expect(net.node('b').members().voters).toEqual(['a', 'b', 'c']);
    return { net, configIndex: firstIndex };
  }

  it('a removed node with a higher term changes neither the term nor the leader of a member', () => {
    const { net, configIndex } = removedD();
    const b = net.node('b');
    const stale = [
      heartbeat('d', 'b', 9, configIndex),
      appendReq('d', 'b', 9, configIndex, 1, [], configIndex), // commit not beyond the entry that removed d
      snapshotFrom('d', 'b', 9, configIndex - 1, ['a', 'b', 'c', 'd']),
      snapshotFrom('d', 'b', 9, configIndex + 5, ['a', 'b', 'c']), // newer, but d is no voter in it
    ];
    const mark = net.sent.length;
    for (const m of stale) b.step(m);
    expect(b.status()).toMatchObject({ term: 1, leaderId: 'a', commitIndex: configIndex });
    net.settle();
    expect(net.sent.slice(mark).filter((m) => m.to === 'd')).toEqual([]); // no answer either
    // The same message from a member is obeyed: the check is what refused d.
    b.step(heartbeat('c', 'b', 9, configIndex));
    expect(b.status()).toMatchObject({ term: 9, leaderId: 'c' });
  });

  it('a removed node cannot lead a candidate or a leader either', () => {
    const { net, configIndex } = removedD();
    const a = net.node('a');
    a.step(appendReq('d', 'a', 9, configIndex, 1, [], configIndex));
    expect(a.status()).toMatchObject({ role: 'leader', term: 1 });
    const c = net.node('c');
    c.campaign();
    const term = c.status().term;
    c.step(heartbeat('d', 'c', term + 3, 0));
    expect(c.status().term).toBe(term);
    expect(c.status().role).not.toBe('follower');
  });

  it('a node that joined with no configuration follows any leader until it learns one', () => {
    const j = new RaftProtocol({ id: 'j', voters: [], random: seededRandom(1) });
    j.step(heartbeat('a', 'j', 3, 0));
    expect(j.status()).toMatchObject({ term: 3, leaderId: 'a' });
    // Once it installed a configuration (here from a snapshot), strangers are refused.
    j.step(snapshotFrom('a', 'j', 3, 10, ['a', 'b', 'c']));
    expect(j.members().voters).toEqual(['a', 'b', 'c']);
    j.step(heartbeat('z', 'j', 4, 10));
    j.step(appendReq('z', 'j', 4, 10, 1, [], 10));
    expect(j.status()).toMatchObject({ term: 3, leaderId: 'a' });
  });

  it('a joiner added through the log reaches the configuration and then refuses non-members', () => {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'j']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-learner', node: 'j' }]);
    net.settle();
    net.propose('a', 'x');
    const j = net.node('j');
    expect(j.members().learners).toEqual(['j']);
    expect(net.logOf('j')).toEqual(net.logOf('a'));
    j.step(heartbeat('z', 'j', 7, 0));
    expect(j.status()).toMatchObject({ term: 1, leaderId: 'a' });
  });

  /**
   * c applies a configuration (learner l is added), then is cut off from a and
   * b (from everyone with `fully`) and misses the change that makes d a voter;
   * leadership moves to d, of which c knows nothing. Then the cut heals.
   */
  function leaderUnknownToC(fully: boolean): Net {
    const net = clusterOf(['a', 'b', 'c'], ['a', 'b', 'c', 'd']);
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-learner', node: 'l' }]);
    net.settle();
    if (fully) net.isolate('c');
    else net.partition(['c'], ['a', 'b']);
    net.node('a').proposeMembership([{ type: 'add-voter', node: 'd' }]);
    net.settle();
    net.propose('a', 'y');
    expect(net.node('c').members().voters).toEqual(['a', 'b', 'c']);
    net.node('a').transferLeader('d');
    net.settle();
    expect(net.leaders()).toEqual(['d']);
    net.heal();
    return net;
  }

  it('a lagging follower follows a voter added by a change it has not applied, once an append proves it', () => {
    const net = leaderUnknownToC(false); // d's first append reaches c: its commit index is beyond c's configuration
    const c = net.node('c');
    expect(c.status()).toMatchObject({ leaderId: 'd', term: net.node('d').status().term });
    tickSettle(net, 2);
    expect([...c.members().voters].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(net.logOf('c')).toEqual(net.logOf('d'));
  });

  it('even when the new leader’s first append to it was lost: heartbeats alone are refused, the probe comes again', () => {
    const net = leaderUnknownToC(true);
    const c = net.node('c');
    const d = net.node('d');
    tickSettle(net, 3);
    expect(c.status().leaderId).not.toBe('d');
    expect(c.status().term).toBeLessThan(d.status().term);
    tickSettle(net, d.config.electionTicks);
    expect(c.status()).toMatchObject({ leaderId: 'd', term: d.status().term });
    expect(net.logOf('c')).toEqual(net.logOf('d'));
    expect(net.leaders()).toEqual(['d']);
  });
});
