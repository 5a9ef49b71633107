import { Net } from '../support/net';
import { appendReq, entriesOf, loneNode, ofType, tickSettle, voteReq, watchReadies } from '../support/drive';

const ABC = ['a', 'b', 'c'];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('persistence contract: acknowledgements leave only after what they promise is durable', () => {
  it('every ack and vote is in Ready.messages, sent after its Ready was persisted, and covers only durable state', () => {
    const net = new Net(['a', 'b', 'c', 'd', 'e']);
    const seen = watchReadies(net);
    let checked = 0;
    const cycle = net.cycle.bind(net);
    net.cycle = (id) => {
      const rd = cycle(id);
      const disk = net.disks.get(id)!;
      for (const m of rd?.messages ?? []) {
        if (m.type === 'append-resp' && !m.reject) {
          // The acked entries are on disk: persisted from this Ready or an earlier one.
          expect(disk.log.length).toBeGreaterThanOrEqual(m.index);
          checked++;
        }
        if (m.type === 'vote-resp' && !m.reject) expect([disk.term, disk.vote]).toEqual([m.term, m.to]);
      }
      return rd;
    };
    // Elections, replication, a partition, a lagging follower and a change of leader.
    net.elect('a');
    net.propose('a', 'x1', 'x2');
    net.partition(['a', 'b'], ['c', 'd', 'e']);
    net.propose('a', 'lost');
    tickSettle(net, 40);
    net.heal();
    tickSettle(net, 40);
    const [leader] = net.leaders();
    net.propose(leader!, 'y1', 'y2', 'y3');
    tickSettle(net, 5);
    expect(checked).toBeGreaterThan(20);
    for (const { rd } of seen) {
      for (const m of rd.leaderMessages) expect(['append', 'heartbeat']).toContain(m.type);
      for (const m of rd.messages) expect(['append', 'heartbeat']).not.toContain(m.type);
    }
  });

  it('a follower\u2019s ack is in the same Ready as the entries it acknowledges', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1] });
    b.step(appendReq('a', 'b', 1, 1, 1, entriesOf([1, 1], 2), 1));
    const rd = b.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'append-resp', index: 3, reject: false })]);
    expect(rd.leaderMessages).toEqual([]);
  });

  it('the leader sends its own AppendEntries in Ready.leaderMessages, in parallel with persisting them (thesis §10.2.1)', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.node('a').propose([enc('x')]);
    const rd = net.node('a').ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.messages).toEqual([]);
    expect(rd.leaderMessages.map((m) => [m.type, m.to])).toEqual([
      ['append', 'b'],
      ['append', 'c'],
    ]);
  });
});

describe('thesis §10.2.1: the leader counts itself toward a quorum only once its own entries are durable', () => {
  it('a single-node cluster commits its no-op only after advance()', () => {
    const net = new Net(['a']);
    const a = net.node('a');
    a.campaign();
    expect(a.status()).toMatchObject({ role: 'leader', term: 1, lastIndex: 1, commitIndex: 0 });
    const rd1 = a.ready();
    expect(rd1.entries.map((e) => e.type)).toEqual(['noop']);
    expect(rd1.committed).toEqual([]);
    expect(a.status().commitIndex).toBe(0);
    a.advance(rd1);
    expect(a.status().commitIndex).toBe(1);
    const rd2 = a.ready();
    expect(rd2.committed.map((e) => e.index)).toEqual([1]);
    expect(rd2.hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
    a.advance(rd2);
    // And the same for a proposal.
    a.propose([enc('x')]);
    const rd3 = a.ready();
    expect(a.status().commitIndex).toBe(1);
    a.advance(rd3);
    expect(a.status().commitIndex).toBe(2);
  });

  it('a 3-node leader whose own write is still pending does not commit on one follower\u2019s ack', () => {
    const net = new Net(ABC);
    net.elect('a');
    const a = net.node('a');
    a.propose([enc('x')]);
    const rd = a.ready(); // the leader's write of entry 2 is in progress: no advance yet
    for (const m of rd.leaderMessages) if (m.to === 'b') net.node('b').step(m);
    net.cycle('b');
    for (const m of net.queue.splice(0)) a.step(m); // b's ack reaches a; c hears nothing
    expect(a.status().progress?.['b']?.match).toBe(2);
    // b and the leader's un-durable entry would be 2 of 3, but the leader's does not count yet.
    expect(a.status().commitIndex).toBe(1);
    a.advance(rd);
    expect(a.status().commitIndex).toBe(2);
  });

  it('followers alone may form the quorum while the leader is still writing', () => {
    const net = new Net(ABC);
    net.elect('a');
    const a = net.node('a');
    a.propose([enc('x')]);
    const rd = a.ready();
    for (const m of rd.leaderMessages) net.node(m.to).step(m);
    net.cycle('b');
    net.cycle('c');
    for (const m of net.queue.splice(0)) a.step(m);
    expect(a.status().commitIndex).toBe(2);
    a.advance(rd);
    expect(a.ready().committed.map((e) => e.index)).toEqual([2]);
  });

  it('advancing a Ready whose entries were replaced meanwhile does not mark their replacements durable', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1] });
    b.step(appendReq('a', 'b', 1, 1, 1, entriesOf([1, 1], 2), 1));
    const rd1 = b.ready();
    // Before rd1 is durable, a leader of term 2 replaces entries 2 and 3.
    b.step(appendReq('c', 'b', 2, 1, 1, entriesOf([2], 2), 1));
    b.advance(rd1);
    expect(b.log.stable).toBe(1);
    const rd2 = b.ready();
    expect(rd2.entries.map((e) => [e.index, e.term])).toEqual([[2, 2]]);
    b.advance(rd2);
    expect(b.log.stable).toBe(2);
  });
});

describe('§5.2 / Figure 2: term, vote and log survive a restart', () => {
  it('a restarted node keeps its term, vote and log, and rejoins as a follower', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.propose('a', 'x', 'y');
    net.restart('b');
    expect(net.node('b').status()).toMatchObject({
      term: 1,
      vote: 'a',
      lastIndex: 3,
      commitIndex: 3,
      role: 'follower',
    });
    expect(net.logOf('b')).toEqual(['·', 'x', 'y']);
    tickSettle(net, 3);
    expect(net.node('b').status()).toMatchObject({ leaderId: 'a', term: 1 });
    expect(net.applied.get('b')!.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  function votedThenRestarted(loseVote: boolean): boolean {
    const net = new Net(ABC, { preVote: false });
    net.node('a').campaign();
    net.drain();
    const [toB] = ofType(net.queue, 'vote', 'a', 'b');
    net.queue = [];
    net.node('b').step(toB!);
    net.cycle('b'); // b's vote for a is durable and its grant is sent
    if (loseVote) net.disks.get('b')!.vote = '';
    net.restart('b');
    net.node('b').step(voteReq('c', 'b', 1, 0, 0));
    const answer = ofType(net.cycle('b')?.messages ?? [], 'vote-resp', 'b', 'c');
    return answer[0]?.reject === false;
  }

  it('a restarted node does not vote twice in a term', () => {
    expect(votedThenRestarted(false)).toBe(false);
  });

  it('(control) were the vote not durable, the restarted node would vote again', () => {
    expect(votedThenRestarted(true)).toBe(true);
  });
});
