import { StateLostError, type Message } from '../../src/index';
import { Net } from '../support/net';
import {
  appendReq,
  cycleLone,
  entriesOf,
  heartbeat,
  loneNode,
  netWithLogs,
  ofType,
  round,
  settleWhere,
  termsOf,
  tickSettle,
  watchReadies,
} from '../support/drive';

const ABC = ['a', 'b', 'c'];
const FIVE = ['s1', 's2', 's3', 's4', 's5'];
const payloads = (net: Net, id: string): string[] =>
  net.applied.get(id)!.map((e) => (e.type === 'noop' ? '·' : new TextDecoder().decode(e.data)));

describe('§5.4.2 / §8: a new leader appends a no-op entry of its term', () => {
  it('appends the no-op at once; entries of earlier terms commit along with it', () => {
    const net = netWithLogs({ a: [1, 1], b: [1, 1], c: [1] }, 1);
    net.elect('a');
    const a = net.node('a');
    expect(a.status().term).toBe(2);
    expect(termsOf(a)).toEqual([1, 1, 2]);
    expect(a.log.entry(3)?.type).toBe('noop');
    for (const id of ABC) {
      expect(termsOf(net.node(id))).toEqual([1, 1, 2]);
      expect(net.node(id).status().commitIndex).toBe(3);
      expect(net.applied.get(id)!.map((e) => e.index)).toEqual([1, 2, 3]);
    }
  });
});

describe('§5.3 an entry is committed once the leader has replicated it on a majority', () => {
  it('does not commit while only a minority holds the entry, and commits once a majority does', () => {
    const net = new Net(FIVE);
    net.elect('s1');
    net.partition(['s1', 's2'], ['s3', 's4', 's5']);
    net.propose('s1', 'x');
    expect(net.node('s1').status()).toMatchObject({ lastIndex: 2, commitIndex: 1 });
    expect(net.logOf('s2')).toEqual(['·', 'x']);
    net.heal();
    net.partition(['s1', 's2', 's3'], ['s4', 's5']);
    tickSettle(net, 1); // the heartbeat exchange makes s1 resend to s3
    expect(net.logOf('s3')).toEqual(['·', 'x']);
    expect(net.node('s1').status().commitIndex).toBe(2);
    expect(payloads(net, 's1')).toEqual(['·', 'x']);
  });
});

describe('§5.4.2 Figure 8: an entry of an earlier term is never committed by counting replicas', () => {
  // The paper's base algorithm (no pre-vote, no check-quorum); one entry per
  // append so that an old entry can reach a follower without the new leader's no-op.
  const config = { preVote: false, checkQuorum: false, maxEntriesPerMessage: 1 };

  /** Plays Figure 8 (a)–(c); returns the network with s1 leading term 3 and x (term 1) at index 2 on s1, s2, s3. */
  function upToC(): Net {
    const net = new Net(FIVE, config);
    net.elect('s1'); // term 1, no-op at index 1 committed everywhere
    // (a) s1 replicates x at index 2 to s2 only.
    net.partition(['s1', 's2'], ['s3', 's4', 's5']);
    net.propose('s1', 'x');
    // (b) s1 crashes; s5 wins term 2 with votes from s3 and s4, appends its
    //     no-op at index 2, and crashes before it reaches anyone.
    net.heal();
    net.isolate('s1');
    net.node('s5').campaign();
    round(net);
    round(net);
    expect(net.node('s5').status()).toMatchObject({ role: 'leader', term: 2 });
    net.heal();
    net.isolate('s5');
    // (c) s1 restarts and wins term 3 (its first try, term 2, cannot win: s3 and s4 voted already).
    net.restart('s1', 7);
    net.elect('s1');
    expect(net.node('s1').status().role).not.toBe('leader');
    net.node('s1').campaign();
    // s1 sends x to s3, but its no-op of term 3 reaches s2 only (s3 sees it only
    // in the first probe, which it must refuse since it lacks index 2).
    const s3 = net.node('s3');
    const noopLands = (m: Message): boolean =>
      m.type === 'append' && m.entries.some((e) => e.term === 3) && s3.log.lastIndex() >= m.prevIndex;
    settleWhere(net, (m) => !(m.type === 'append' && (m.to === 's4' || (m.to === 's3' && noopLands(m)))));
    expect(net.node('s1').status()).toMatchObject({ role: 'leader', term: 3 });
    return net;
  }

  it('(c) x from term 1 is stored on a majority (s1, s2, s3) yet not committed', () => {
    const net = upToC();
    for (const id of ['s1', 's2', 's3']) expect(net.logOf(id).slice(0, 2)).toEqual(['·', 'x']);
    const progress = net.node('s1').status().progress!;
    expect([progress['s2']!.match, progress['s3']!.match]).toEqual([3, 2]);
    expect(termsOf(net.node('s1'))).toEqual([1, 1, 3]);
    for (const id of FIVE) expect(net.node(id).status().commitIndex).toBe(1);
  });

  it('(d) rightly so: s5 can then be elected and overwrite x on every follower', () => {
    const net = upToC();
    net.heal();
    net.isolate('s1');
    net.restart('s5', 8);
    net.elect('s5'); // term 3: s2, s3, s4 voted for s1 already
    net.elect('s5'); // term 4: s3 and s4 vote for s5 (its last term 2 is newer than their 1)
    expect(net.node('s5').status()).toMatchObject({ role: 'leader', term: 4 });
    for (const id of ['s2', 's3', 's4', 's5']) {
      expect(termsOf(net.node(id))).toEqual([1, 2, 4]);
      expect(net.logOf(id)).not.toContain('x');
      expect(payloads(net, id)).not.toContain('x');
    }
  });

  it('(e) once an entry of s1\u2019s own term is on a majority, x commits with it and s5 can no longer win', () => {
    const net = upToC();
    tickSettle(net, 1); // the heartbeat exchange lets s1 send its no-op to s3 and s4
    expect(net.node('s1').status().commitIndex).toBe(3);
    expect(payloads(net, 's1')).toEqual(['·', 'x', '·']);
    net.heal();
    net.isolate('s1');
    net.restart('s5', 8);
    for (let k = 0; k < 5; k++) net.elect('s5');
    expect(net.node('s5').status().role).not.toBe('leader');
    for (let t = 0; t < 500 && !net.leaders().some((id) => id !== 's1'); t++) tickSettle(net, 1);
    const [leader] = net.leaders().filter((id) => id !== 's1');
    expect(['s2', 's3', 's4']).toContain(leader);
    tickSettle(net, 2);
    for (const id of ['s2', 's3', 's4', 's5']) expect(payloads(net, id).slice(0, 2)).toEqual(['·', 'x']);
  });
});

describe('§5.3 followers learn the commit index from the leader', () => {
  it('from AppendEntries: the leader tells them once an entry commits', () => {
    const net = new Net(ABC);
    net.elect('a');
    const mark = net.sent.length;
    net.propose('a', 'x');
    const carriers = ofType(net.sent.slice(mark), 'append', 'a', 'b').filter((m) => m.commit === 2);
    expect(carriers).toHaveLength(1);
    for (const id of ABC) expect(payloads(net, id)).toEqual(['·', 'x']);
  });

  it('from heartbeats, when the append carrying the commit index was lost', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.node('a').propose([new TextEncoder().encode('x')]);
    settleWhere(net, (m) => !(m.type === 'append' && m.to === 'c' && m.entries.length === 0));
    expect(net.logOf('c')).toEqual(['·', 'x']);
    expect(net.node('c').status().commitIndex).toBe(1);
    tickSettle(net, 1);
    expect(net.node('c').status().commitIndex).toBe(2);
    expect(payloads(net, 'c')).toEqual(['·', 'x']);
  });

  it('never beyond the entries it holds that match the leader (AppendEntries)', () => {
    // b's entry 3 (term 2) is stale: the leader of term 3 committed a different entry 3.
    const b = loneNode('b', ABC, { term: 2, terms: [1, 1, 2] });
    b.step(appendReq('a', 'b', 3, 1, 1, entriesOf([1], 2), 3));
    const rd = cycleLone(b);
    expect(b.status().commitIndex).toBe(2);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
  });

  it('a heartbeat commits what it says (the leader sends no more than the follower acknowledged)', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1, 1, 1] });
    b.step(heartbeat('a', 'b', 1, 2));
    const rd = cycleLone(b);
    expect(b.status().commitIndex).toBe(2);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.messages).toEqual([
      { type: 'heartbeat-resp', from: 'b', to: 'a', term: 1, context: '', sentAt: 0 },
    ]);
  });

  it('a heartbeat committing beyond the entries it holds shows it lost acknowledged ones: StateLostError, nothing changes', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1, 1] });
    let thrown: unknown;
    try {
      b.step(heartbeat('a', 'b', 1, 5));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StateLostError);
    expect(thrown).toMatchObject({ nodeId: 'b', lastIndex: 2, leaderId: 'a', acknowledged: 5 });
    expect(b.status().commitIndex).toBe(0);
    expect(b.hasReady() ? b.ready().messages : []).toEqual([]);
  });

  it('an AppendEntries older than the follower\u2019s commit index is acknowledged up to that index', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1, 1, 1], commit: 3 });
    b.step(appendReq('a', 'b', 1, 1, 1, entriesOf([1], 2), 3));
    const rd = cycleLone(b);
    expect(ofType(rd.messages, 'append-resp')[0]).toMatchObject({ reject: false, index: 3 });
    expect(termsOf(b)).toEqual([1, 1, 1]);
  });
});

describe('§5.3 committed entries are applied in log order, each once, on every server', () => {
  it('hands out committed entries in order and at most maxCommittedPerReady per Ready', () => {
    const net = new Net(['a', 'b', 'c', 'd', 'e'], { maxCommittedPerReady: 3 });
    const seen = watchReadies(net);
    net.elect('a');
    for (let k = 0; k < 4; k++) net.propose('a', ...Array.from({ length: 5 }, (_, j) => `${k}.${j}`));
    const want = net.logOf('a');
    expect(want).toHaveLength(21);
    for (const id of net.ids) {
      expect(payloads(net, id)).toEqual(want);
      expect(net.applied.get(id)!.map((e) => e.index)).toEqual(want.map((_, i) => i + 1));
      expect(net.node(id).status()).toMatchObject({ commitIndex: 21, appliedIndex: 21 });
    }
    expect(Math.max(...seen.map((s) => s.rd.committed.length))).toBe(3);
  });
});
