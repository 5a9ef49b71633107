import { NotLeaderError } from '../../src/index';
import { Net } from '../support/net';
import { ofType, tickOnly, tickSettle, voteReq } from '../support/drive';

const ABC = ['a', 'b', 'c'];
const E = 10; // default electionTicks

/** Ticks until a node other than `old` leads; returns it. */
function awaitNewLeader(net: Net, old: string, tickers: readonly string[]): string {
  for (let t = 0; t < 50 * E; t++) {
    const other = net.leaders().find((id) => id !== old);
    if (other) return other;
    tickOnly(net, tickers, 1);
  }
  throw new Error('no new leader');
}

describe('thesis §9.6 pre-vote: a server that rejoins the cluster does not disrupt it', () => {
  it('an isolated node does not raise its term, however long it is cut off', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('c');
    const mark = net.sent.length;
    tickSettle(net, 100 * E);
    expect(net.node('c').status()).toMatchObject({ term: 1, vote: 'a' });
    expect(ofType(net.sent.slice(mark), 'pre-vote', 'c').length).toBeGreaterThan(10); // it did keep trying
    expect(ofType(net.sent.slice(mark), 'vote', 'c')).toEqual([]);
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1 });
  });

  it.each([
    { config: {}, writes: true, what: 'behind the cluster' },
    { config: {}, writes: false, what: 'as up-to-date as the cluster' },
    {
      config: { checkQuorum: false },
      writes: true,
      what: 'behind the cluster, with pre-vote alone (no check-quorum)',
    },
    {
      config: { checkQuorum: false },
      writes: false,
      what: 'as up-to-date as the cluster, with pre-vote alone (no check-quorum)',
    },
  ])('on rejoining with a log $what it does not depose the healthy leader', ({ config, writes }) => {
    const net = new Net(ABC, config);
    net.elect('a');
    net.isolate('c');
    tickSettle(net, 3 * E);
    if (writes) net.propose('a', 'x');
    tickSettle(net, 50 * E);
    net.heal();
    const mark = net.sent.length;
    // Its timer fires just as it rejoins, before it hears the leader.
    net.node('c').campaign();
    net.settle();
    tickSettle(net, 10 * E);
    expect(net.leaders()).toEqual(['a']);
    for (const id of ABC) expect(net.node(id).status()).toMatchObject({ term: 1, leaderId: 'a' });
    expect(ofType(net.sent.slice(mark), 'vote')).toEqual([]);
    expect(net.logOf('c')).toEqual(net.logOf('a'));
  });

  it('without pre-vote, the isolated node inflates its term and deposes the leader when it rejoins (the problem pre-vote solves)', () => {
    const net = new Net(ABC, { preVote: false });
    net.elect('a');
    net.isolate('c');
    tickSettle(net, 100 * E);
    expect(net.node('c').status().term).toBeGreaterThan(20);
    net.heal();
    tickSettle(net, 1);
    expect(net.node('a').status()).not.toMatchObject({ role: 'leader', term: 1 });
  });

  it('when the leader is really gone, pre-vote costs no extra term: the next leader is elected in term + 1', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('a');
    const next = awaitNewLeader(net, 'a', ['b', 'c']);
    expect(net.node(next).status().term).toBe(2);
  });

  it('a pre-vote is granted for the next term without changing the voter\u2019s term or vote', () => {
    const net = new Net(ABC);
    // b has heard from no leader: it would vote, but promises nothing yet.
    net.node('b').step(voteReq('c', 'b', 1, 0, 0, 'pre-vote'));
    const rd = net.cycle('b')!;
    expect(rd.messages).toEqual([{ type: 'pre-vote-resp', from: 'b', to: 'c', term: 1, reject: false }]);
    expect(rd.hardState).toBeUndefined();
    expect(net.node('b').status()).toMatchObject({ term: 0, vote: '' });
  });
});

describe('thesis §4.2.3: a server that hears from a current leader ignores requests for votes', () => {
  it('a follower within electionTicks of hearing its leader ignores a RequestVote of a higher term', () => {
    const net = new Net(ABC);
    net.elect('a');
    const b = net.node('b');
    b.step(voteReq('c', 'b', 5, 100, 1));
    expect(b.status()).toMatchObject({ term: 1, vote: 'a', leaderId: 'a' });
    expect(net.cycle('b')).toBeUndefined(); // no answer at all
  });

  it('after electionTicks without the leader, it considers the vote again', () => {
    const net = new Net(ABC);
    net.elect('a');
    const b = net.node('b');
    for (let t = 0; t < E; t++) b.tick();
    b.step(voteReq('c', 'b', 5, 100, 1));
    expect(b.status()).toMatchObject({ term: 5, vote: 'c' });
  });

  it('the leader itself ignores a higher-term RequestVote while it holds a quorum', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.node('a').step(voteReq('c', 'a', 5, 100, 1));
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1 });
  });
});

describe('thesis §6.2 check-quorum: a leader steps down if an election timeout elapses without hearing from a quorum', () => {
  it.each(Array.from({ length: E + 1 }, (_, k) => k))(
    'a leader cut off after %i healthy ticks steps down within 2 × electionTicks (one full check round without a quorum)',
    (healthy) => {
      const net = new Net(ABC);
      net.elect('a');
      tickSettle(net, healthy);
      net.isolate('a');
      let ticks = 0;
      while (net.node('a').status().role === 'leader' && ticks < 10 * E) {
        tickSettle(net, 1);
        ticks++;
      }
      expect(ticks).toBeLessThanOrEqual(2 * E);
      expect(net.node('a').status()).toMatchObject({ role: 'follower', leaderId: '' });
      expect(() => net.node('a').propose([new Uint8Array(1)])).toThrow(NotLeaderError);
    },
  );

  it('meanwhile the majority elects a new leader; once the old one stepped down there is one leader', () => {
    const net = new Net(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    net.isolate('a');
    tickSettle(net, 5 * E);
    expect(net.leaders()).toHaveLength(1);
    expect(net.leaders()[0]).not.toBe('a');
  });

  it('a leader that hears from a quorum stays leader, however long a minority is cut off', () => {
    const net = new Net(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    net.partition(['a', 'b', 'c'], ['d', 'e']);
    tickSettle(net, 100 * E);
    expect(net.leaders()).toEqual(['a']);
    expect(net.node('a').status().term).toBe(1);
    net.propose('a', 'x');
    expect(net.node('a').status().commitIndex).toBe(2);
  });

  it('without check-quorum a cut-off leader goes on believing it leads (what check-quorum prevents)', () => {
    const net = new Net(ABC, { checkQuorum: false });
    net.elect('a');
    net.isolate('a');
    tickSettle(net, 100 * E);
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1 });
  });
});
