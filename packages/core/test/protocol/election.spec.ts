import { Net } from '../support/net';
import {
  appendReq,
  appendResp,
  cycleLone,
  entriesOf,
  heartbeat,
  loneNode,
  ofType,
  outbox,
  tickOnly,
  ticksUntil,
  voteReq,
  voteResp,
  watchReadies,
} from '../support/drive';

const ABC = ['a', 'b', 'c'];

describe('§5.1 terms: "current terms are exchanged whenever servers communicate"', () => {
  it('a server that sees a larger term updates its term and becomes a follower of it', () => {
    const b = loneNode('b', ABC, { term: 1 });
    b.step(heartbeat('a', 'b', 5, 0));
    expect(b.status()).toMatchObject({ role: 'follower', term: 5, vote: '', leaderId: 'a' });
    expect(cycleLone(b).hardState).toEqual({ term: 5, vote: '', commit: 0 });
  });

  it('a leader that discovers a larger term steps down to follower', () => {
    const net = new Net(ABC);
    net.elect('a');
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1 });
    net.node('a').step(appendResp('b', 'a', 7, 0, true));
    expect(net.node('a').status()).toMatchObject({ role: 'follower', term: 7, leaderId: '' });
    const rd = net.cycle('a')!;
    expect(rd.softState).toEqual({ role: 'follower', leaderId: '' });
    expect(rd.hardState).toMatchObject({ term: 7, vote: '' });
  });

  it('a candidate that discovers a larger term steps down to follower', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    expect(a.status()).toMatchObject({ role: 'candidate', term: 1, vote: 'a' });
    a.step(voteResp('b', 'a', 4, true));
    expect(a.status()).toMatchObject({ role: 'follower', term: 4, vote: '' });
  });

  it('a pre-candidate refused by a voter of a larger term adopts that term and becomes a follower', () => {
    const a = loneNode('a', ABC, { term: 2 });
    a.campaign();
    expect(a.status()).toMatchObject({ role: 'pre-candidate', term: 2 });
    a.step(voteResp('b', 'a', 6, true, 'pre-vote-resp'));
    expect(a.status()).toMatchObject({ role: 'follower', term: 6, vote: '' });
  });

  it('without check-quorum, a leader steps down on a RequestVote of a larger term', () => {
    const net = new Net(ABC, { checkQuorum: false });
    net.elect('a');
    const last = net.node('a').status().lastIndex;
    net.node('a').step(voteReq('c', 'a', 9, last, 1));
    expect(net.node('a').status()).toMatchObject({ role: 'follower', term: 9, vote: 'c' });
  });

  it('rejects a stale AppendEntries: answers with its current term and leaves its log alone', () => {
    const b = loneNode('b', ABC, { term: 3, terms: [1, 3] });
    b.step(appendReq('a', 'b', 2, 1, 1, entriesOf([2], 2), 2));
    const rd = cycleLone(b);
    expect(outbox(rd)).toEqual([expect.objectContaining({ type: 'append-resp', to: 'a', term: 3 })]);
    expect(b.status()).toMatchObject({ term: 3, commitIndex: 0, lastIndex: 2, leaderId: '' });
    expect(b.log.term(2)).toBe(3);
  });

  it('rejects a stale pre-vote, telling the sender its current term', () => {
    const b = loneNode('b', ABC, { term: 3 });
    b.step(voteReq('c', 'b', 2, 0, 0, 'pre-vote'));
    expect(outbox(cycleLone(b))).toEqual([
      { type: 'pre-vote-resp', from: 'b', to: 'c', term: 3, reject: true },
    ]);
  });

  it('never grants a stale RequestVote', () => {
    const b = loneNode('b', ABC, { term: 3 });
    b.step(voteReq('c', 'b', 2, 5, 2));
    const rd = cycleLone(b);
    expect(ofType(outbox(rd), 'vote-resp').filter((m) => !m.reject)).toEqual([]);
    expect(b.status()).toMatchObject({ term: 3, vote: '' });
    expect(rd.hardState).toBeUndefined();
  });

  it('a deposed leader learns the new term from the answer to its stale heartbeat and steps down', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('a');
    // a does not tick, so it cannot notice on its own (check-quorum) that it lost its quorum.
    for (let t = 0; t < 100 && !net.leaders().some((id) => id !== 'a'); t++) tickOnly(net, ['b', 'c'], 1);
    const [newLeader] = net.leaders().filter((id) => id !== 'a');
    expect(newLeader).toBeDefined();
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1 });
    net.heal();
    tickOnly(net, ['a'], 1);
    expect(net.node('a').status()).toMatchObject({
      role: 'follower',
      term: net.node(newLeader!).status().term,
    });
    expect(net.leaders()).toEqual([newLeader]);
  });
});

describe('§5.2 leader election', () => {
  it.each([10, 7])(
    'a follower that hears no leader campaigns after a random timeout in [electionTicks, 2 × electionTicks) (electionTicks %i)',
    (electionTicks) => {
      const firstCampaign = new Set<number>();
      for (let seed = 1; seed <= 300; seed++) {
        const a = loneNode('a', ABC, { seed, config: { electionTicks } });
        const t = ticksUntil(a, () => a.status().role !== 'follower');
        expect(t).toBeGreaterThanOrEqual(electionTicks);
        expect(t).toBeLessThan(2 * electionTicks);
        expect(ofType(outbox(a.ready()), 'pre-vote').map((m) => m.to)).toEqual(['b', 'c']);
        firstCampaign.add(t);
      }
      // Randomized: over many seeds every tick of the range is used.
      expect(firstCampaign.size).toBe(electionTicks);
    },
  );

  it('a candidate draws a fresh random timeout for each new election', () => {
    const a = loneNode('a', ABC, { seed: 3, config: { preVote: false } });
    const gaps: number[] = [];
    for (let k = 0; k < 60; k++) {
      const term = a.status().term;
      gaps.push(ticksUntil(a, () => a.status().term === term + 1));
      cycleLone(a);
    }
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(10);
      expect(g).toBeLessThan(20);
    }
    expect(new Set(gaps).size).toBeGreaterThan(5);
  });

  it('a candidate votes for itself and makes that vote durable before its requests leave', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    const rd = a.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(rd.messages.map((m) => [m.type, m.to])).toEqual([
      ['vote', 'b'],
      ['vote', 'c'],
    ]);
    expect(rd.leaderMessages).toEqual([]);
  });

  it('grants at most one vote per term (first come, first served)', () => {
    const b = loneNode('b', ABC);
    b.step(voteReq('a', 'b', 1, 0, 0));
    b.step(voteReq('c', 'b', 1, 0, 0));
    b.step(voteReq('a', 'b', 1, 0, 0)); // a retransmission from the same candidate is granted again
    expect(ofType(outbox(cycleLone(b)), 'vote-resp').map((m) => [m.to, m.reject])).toEqual([
      ['a', false],
      ['c', true],
      ['a', false],
    ]);
    expect(b.status()).toMatchObject({ term: 1, vote: 'a' });
  });

  it('persists the vote before the grant leaves: the grant is in Ready.messages of the Ready carrying the vote', () => {
    const b = loneNode('b', ABC);
    b.step(voteReq('a', 'b', 1, 0, 0));
    const rd = b.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(rd.messages).toEqual([{ type: 'vote-resp', from: 'b', to: 'a', term: 1, reject: false }]);
    expect(rd.leaderMessages).toEqual([]);
  });

  it('a candidate that wins a majority becomes leader and asserts itself to every peer', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    cycleLone(a);
    a.step(voteResp('b', 'a', 1, false));
    expect(a.status()).toMatchObject({ role: 'leader', leaderId: 'a', term: 1 });
    const rd = cycleLone(a);
    expect(rd.softState).toEqual({ role: 'leader', leaderId: 'a' });
    expect(ofType(rd.leaderMessages, 'append').map((m) => m.to)).toEqual(['b', 'c']);
  });

  it('a candidate refused by a majority goes back to follower in the same term', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    a.step(voteResp('b', 'a', 1, true));
    expect(a.status()).toMatchObject({ role: 'candidate' });
    a.step(voteResp('c', 'a', 1, true));
    expect(a.status()).toMatchObject({ role: 'follower', term: 1, vote: 'a' });
  });

  it('a candidate that hears from a leader of its own term recognizes it and returns to follower', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    a.step(heartbeat('b', 'a', 1, 0));
    expect(a.status()).toMatchObject({ role: 'follower', term: 1, vote: 'a', leaderId: 'b' });
  });

  it('a candidate that receives AppendEntries from a leader of its own term returns to follower and accepts them', () => {
    const a = loneNode('a', ABC, { config: { preVote: false } });
    a.campaign();
    a.step(appendReq('b', 'a', 1, 0, 0, entriesOf([1]), 0));
    expect(a.status()).toMatchObject({ role: 'follower', term: 1, vote: 'a', leaderId: 'b', lastIndex: 1 });
    expect(ofType(cycleLone(a).messages, 'append-resp')).toEqual([
      expect.objectContaining({ to: 'b', reject: false, index: 1 }),
    ]);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'split votes resolve: randomized timeouts elect exactly one leader (seed %i)',
    (seed) => {
      const net = new Net(['a', 'b', 'c', 'd'], { preVote: false }, seed);
      watchReadies(net); // throws on two leaders in one term
      net.node('a').campaign();
      net.node('b').campaign();
      net.drain();
      // c hears a first, d hears b first: two votes each, no majority of 3.
      const late = (m: { from: string; to: string }): boolean => m.from === 'a' && m.to === 'd';
      net.queue = [...net.queue.filter((m) => !late(m)), ...net.queue.filter(late)];
      net.settle();
      expect(net.leaders()).toEqual([]);
      expect(['a', 'b'].map((id) => net.node(id).status().role)).toEqual(['candidate', 'candidate']);
      expect(['c', 'd'].map((id) => net.node(id).status().vote)).toEqual(['a', 'b']);

      let ticks = 0;
      while (net.leaders().length === 0 && ticks < 500) {
        net.tickAll();
        net.settle();
        ticks++;
      }
      expect(net.leaders()).toHaveLength(1);
      const leader = net.node(net.leaders()[0]!).status();
      expect(leader.term).toBeGreaterThan(1);
      for (const id of net.ids)
        expect(net.node(id).status()).toMatchObject({ term: leader.term, leaderId: leader.id });
    },
  );
});

describe('§5.4.1 election restriction: a vote only for a log at least as up-to-date', () => {
  // The voter's log ends with (index 3, term 2).
  it.each([
    { what: 'a shorter log with the same last term', lastIndex: 2, lastTerm: 2, verdict: 'refused' },
    { what: 'an older last term, even with a longer log', lastIndex: 10, lastTerm: 1, verdict: 'refused' },
    { what: 'the same last entry', lastIndex: 3, lastTerm: 2, verdict: 'granted' },
    { what: 'a longer log with the same last term', lastIndex: 4, lastTerm: 2, verdict: 'granted' },
    { what: 'a newer last term, even with a shorter log', lastIndex: 1, lastTerm: 3, verdict: 'granted' },
  ])('a candidate with $what is $verdict', ({ lastIndex, lastTerm, verdict }) => {
    const refused = verdict === 'refused';
    const b = loneNode('b', ABC, { term: 2, terms: [1, 1, 2] });
    b.step(voteReq('c', 'b', 3, lastIndex, lastTerm));
    const [resp] = ofType(outbox(cycleLone(b)), 'vote-resp');
    expect(resp?.reject).toBe(refused);
    expect(b.status()).toMatchObject({ term: 3, vote: refused ? '' : 'c' });
  });

  it('a node that missed committed entries cannot become leader', () => {
    const net = new Net(ABC, { preVote: false, checkQuorum: false });
    net.elect('a');
    net.isolate('c');
    net.propose('a', 'x', 'y');
    expect(net.node('a').status().commitIndex).toBe(3);
    net.heal();
    const mark = net.sent.length;
    net.elect('c');
    const answers = ofType(net.sent.slice(mark), 'vote-resp', undefined, 'c');
    expect(answers.map((m) => [m.from, m.reject])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(net.node('c').status().role).not.toBe('leader');
    // Whoever leads next holds the committed entries.
    for (let t = 0; t < 500 && net.leaders().length === 0; t++) {
      net.tickAll();
      net.settle();
    }
    expect(net.leaders()).toHaveLength(1);
    expect(net.leaders()[0]).not.toBe('c');
    for (const id of net.ids) expect(net.logOf(id).slice(0, 3)).toEqual(['·', 'x', 'y']);
  });
});
