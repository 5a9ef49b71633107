import { LeadershipTransferError, NotLeaderError, RaftlineError } from '../../src/index';
import { Net } from '../support/net';
import { ofType, tickSettle, voteReq } from '../support/drive';

const ABC = ['a', 'b', 'c'];
const E = 10; // default electionTicks
const enc = new TextEncoder();

/** A Net led by `a` in term 1, after a few quiet heartbeat rounds: every follower is within the leader's lease. */
function ledByA(): Net {
  const net = new Net(ABC);
  net.elect('a');
  tickSettle(net, 2);
  return net;
}

describe('thesis §3.10 leadership transfer', () => {
  it('to an up-to-date follower: TimeoutNow at once, and the target leads term + 1 although the other voters are within the lease', () => {
    const net = ledByA();
    net.propose('a', 'x');
    const mark = net.sent.length;
    net.node('a').transferLeader('b');
    expect(net.node('a').status().leadTransferee).toBe('b');
    const rd = net.cycle('a');
    expect(rd?.leaderMessages).toEqual([{ type: 'timeout-now', from: 'a', to: 'b', term: 1 }]);
    net.settle();
    expect(net.leaders()).toEqual(['b']);
    for (const id of ABC) expect(net.node(id).status()).toMatchObject({ term: 2, leaderId: 'b' });
    expect(net.node('c').status().vote).toBe('b');
    // b skipped pre-vote and its vote requests carried the transfer flag.
    expect(ofType(net.sent.slice(mark), 'pre-vote')).toEqual([]);
    expect(ofType(net.sent.slice(mark), 'vote', 'b').map((m) => m.transfer)).toEqual([true, true]);
    expect(net.logOf('b')).toEqual(['·', 'x', '·']);
  });

  it('the transfer flag is what lets the vote through the lease: the same request without it is ignored', () => {
    const net = ledByA();
    const c = net.node('c');
    const { lastIndex } = c.status();
    c.step(voteReq('b', 'c', 2, lastIndex, 1, 'vote', false));
    expect(c.status()).toMatchObject({ term: 1, leaderId: 'a', vote: 'a' });
    c.step(voteReq('b', 'c', 2, lastIndex, 1, 'vote', true));
    expect(c.status()).toMatchObject({ term: 2, vote: 'b' });
  });

  it('a TimeoutNow from anyone but the leader it follows leaves a follower where it is', () => {
    const net = ledByA();
    const b = net.node('b');
    b.step({ type: 'timeout-now', from: 'c', to: 'b', term: 1 });
    expect(b.status()).toMatchObject({ role: 'follower', term: 1, leaderId: 'a' });
    // From a higher term, a sender we have never heard lead is not obeyed either.
    b.step({ type: 'timeout-now', from: 'c', to: 'b', term: 5 });
    expect(b.status()).toMatchObject({ role: 'follower', term: 5 });
    expect(b.status().vote).not.toBe('b'); // it did not campaign
    b.step({ type: 'timeout-now', from: 'a', to: 'b', term: 1 }); // stale: an older term's message is ignored
    expect(b.status()).toMatchObject({ role: 'follower', term: 5 });
  });

  it('to a lagging follower: the leader first catches it up, then sends TimeoutNow', () => {
    const net = ledByA();
    net.isolate('c');
    net.propose('a', 'x', 'y');
    const last = net.node('a').status().lastIndex;
    expect(net.node('c').status().lastIndex).toBeLessThan(last);
    net.heal();
    const mark = net.sent.length;
    net.node('a').transferLeader('c');
    net.drain();
    expect(ofType(net.queue, 'timeout-now')).toEqual([]);
    expect(ofType(net.queue, 'append', 'a', 'c')).not.toEqual([]);
    tickSettle(net, 1);
    const after = net.sent.slice(mark);
    const timeoutAt = after.findIndex((m) => m.type === 'timeout-now');
    const caughtUpAt = after.findIndex(
      (m) => m.type === 'append-resp' && m.from === 'c' && !m.reject && m.index === last,
    );
    expect(caughtUpAt).toBeGreaterThanOrEqual(0);
    expect(timeoutAt).toBeGreaterThan(caughtUpAt);
    expect(ofType(after, 'timeout-now')).toHaveLength(1);
    expect(net.leaders()).toEqual(['c']);
    expect(net.node('c').status().term).toBe(2);
    expect(net.logOf('c')).toEqual(['·', 'x', 'y', '·']);
  });

  it('refuses proposals with LeadershipTransferError while the transfer runs', () => {
    const net = ledByA();
    net.isolate('c');
    net.propose('a', 'x');
    net.heal();
    const last = net.node('a').status().lastIndex;
    net.node('a').transferLeader('c');
    expect(() => net.node('a').propose([enc.encode('y')])).toThrow(LeadershipTransferError);
    const err = (() => {
      try {
        net.node('a').propose([enc.encode('y')]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ nodeId: 'a', transferee: 'c' });
    expect(net.node('a').status().lastIndex).toBe(last); // nothing was appended
  });

  it('is abandoned after electionTicks when the target is unreachable; proposals then work again', () => {
    const net = ledByA();
    net.isolate('b');
    net.node('a').transferLeader('b');
    tickSettle(net, E - 1);
    expect(net.node('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'b' });
    expect(() => net.node('a').propose([enc.encode('x')])).toThrow(LeadershipTransferError);
    tickSettle(net, 1);
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1, leadTransferee: '' });
    net.propose('a', 'x');
    expect(net.node('a').status().commitIndex).toBe(2);
    expect(net.logOf('c')).toEqual(['·', 'x']);
  });

  it('transferLeader() with no target picks the most up-to-date voter, not the first in voter order', () => {
    const net = ledByA();
    net.isolate('b');
    net.propose('a', 'x');
    net.heal();
    net.node('a').transferLeader();
    expect(net.node('a').status().leadTransferee).toBe('c');
    net.settle();
    expect(net.leaders()).toEqual(['c']);
    expect(net.node('c').status().term).toBe(2);
  });

  it('with every follower equally up to date, picks the first other voter', () => {
    const net = ledByA();
    net.node('a').transferLeader();
    expect(net.node('a').status().leadTransferee).toBe('b');
  });

  it('throws NotLeaderError on a follower, and RaftlineError for a target that is not another voter', () => {
    const net = ledByA();
    expect(() => net.node('b').transferLeader('c')).toThrow(NotLeaderError);
    expect(() => net.node('b').transferLeader()).toThrow(NotLeaderError);
    for (const to of ['z', 'a']) {
      let err: unknown;
      try {
        net.node('a').transferLeader(to);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RaftlineError);
      expect(err).not.toBeInstanceOf(NotLeaderError);
    }
    expect(net.node('a').status().leadTransferee).toBe('');
    net.propose('a', 'x'); // a refused transfer leaves the leader working
    expect(net.node('a').status().commitIndex).toBe(2);
  });

  it('a single-node leader has no one to transfer to', () => {
    const net = new Net(['a']);
    net.elect('a');
    expect(() => net.node('a').transferLeader()).toThrow(RaftlineError);
  });
});
