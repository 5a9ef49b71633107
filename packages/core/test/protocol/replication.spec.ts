import { Net } from '../support/net';
import {
  appendReq,
  cycleLone,
  entriesOf,
  loneNode,
  netWithLogs,
  ofType,
  outbox,
  settleWhere,
  termsOf,
  tickSettle,
} from '../support/drive';

const ABC = ['a', 'b', 'c'];
const repeat = (term: number, n: number): number[] => Array.from({ length: n }, () => term);

describe('§5.3 log replication: the AppendEntries consistency check', () => {
  it('a follower appends entries that follow a matching previous entry and acknowledges the last one', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1, 1] });
    b.step(appendReq('a', 'b', 1, 2, 1, entriesOf([1, 1], 3), 0));
    const rd = cycleLone(b);
    expect(rd.entries.map((e) => e.index)).toEqual([3, 4]);
    expect(ofType(rd.messages, 'append-resp')).toEqual([
      expect.objectContaining({ to: 'a', reject: false, index: 4 }),
    ]);
    expect(termsOf(b)).toEqual([1, 1, 1, 1]);
  });

  it.each([
    { what: 'holds with another term', prevIndex: 3, prevTerm: 3 },
    { what: 'does not hold at all', prevIndex: 5, prevTerm: 3 },
  ])(
    'refuses entries whose previous entry it $what, keeps its log, and hints where to retry',
    ({ prevIndex, prevTerm }) => {
      const b = loneNode('b', ABC, { term: 2, terms: [1, 1, 2] });
      b.step(appendReq('a', 'b', 3, prevIndex, prevTerm, entriesOf([3], prevIndex + 1), 0));
      const rd = cycleLone(b);
      expect(ofType(rd.messages, 'append-resp')).toEqual([
        expect.objectContaining({ reject: true, index: prevIndex, hintIndex: 3, hintTerm: 2 }),
      ]);
      expect(rd.entries).toEqual([]);
      expect(termsOf(b)).toEqual([1, 1, 2]);
    },
  );

  it('deletes an entry that conflicts with a new one, and all that follow it, then appends', () => {
    const b = loneNode('b', ABC, { term: 2, terms: [1, 2, 2, 2] });
    b.step(appendReq('a', 'b', 3, 1, 1, entriesOf([3], 2), 0));
    const rd = cycleLone(b);
    expect(termsOf(b)).toEqual([1, 3]);
    // The driver is told to replace its stored suffix from index 2 on.
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[2, 3]]);
    expect(ofType(rd.messages, 'append-resp')[0]).toMatchObject({ reject: false, index: 2 });
  });

  it('a delayed, shorter AppendEntries that matches truncates nothing', () => {
    const b = loneNode('b', ABC, { term: 1, terms: [1, 1, 1, 1] });
    b.step(appendReq('a', 'b', 1, 1, 1, entriesOf([1], 2), 0));
    const rd = cycleLone(b);
    expect(termsOf(b)).toEqual([1, 1, 1, 1]);
    expect(rd.entries).toEqual([]);
    expect(ofType(rd.messages, 'append-resp')[0]).toMatchObject({ reject: false, index: 2 });
  });

  it('Log Matching: after replication every log holds the same entries as the leader', () => {
    const net = new Net(['a', 'b', 'c', 'd', 'e']);
    net.elect('a');
    for (let k = 0; k < 5; k++) net.propose('a', `x${k}`, `y${k}`);
    const want = net.node('a').log.slice(1, 11);
    for (const id of net.ids) expect(net.node(id).log.slice(1, 11)).toEqual(want);
  });
});

describe('§5.3 Figure 7: when a leader of term 8 comes to power, it brings every follower to its log', () => {
  // Figure 7 of the Raft paper: each log listed as the term of each entry.
  const leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };

  function figure7(): Net {
    const net = netWithLogs({ L: leader, ...followers }, 7);
    net.elect('L'); // votes from a, b, e, f; c and d hold more up-to-date logs
    expect(net.leaders()).toEqual(['L']);
    expect(net.node('L').status().term).toBe(8);
    return net;
  }

  it('the leader is elected by a, b, e and f (c and d refuse: their logs are more up-to-date)', () => {
    const net = figure7();
    const refused = ofType(net.sent, 'vote-resp', undefined, 'L').filter((m) => m.reject);
    expect(refused.map((m) => m.from).sort()).toEqual(['c', 'd']);
  });

  it.each(Object.keys(followers))(
    'follower (%s) converges to the leader log, with at most one refused probe',
    (id) => {
      const net = figure7();
      const want = [...leader, 8]; // the leader's no-op of term 8 follows its log
      expect(termsOf(net.node('L'))).toEqual(want);
      expect(termsOf(net.node(id))).toEqual(want);
      expect(net.node(id).status().commitIndex).toBe(11);
      const refusals = ofType(net.sent, 'append-resp', id, 'L').filter((m) => m.reject);
      expect(refusals.length).toBeLessThanOrEqual(1);
    },
  );
});

describe('§5.3 fast backtracking: a rejection skips a whole conflicting term', () => {
  const prefix = repeat(1, 10);
  const diverged = [...prefix, ...repeat(2, 25), ...repeat(3, 25)];

  it.each([
    { what: 'a suffix as long as the leader\u2019s', leaderLog: [...prefix, ...repeat(4, 50)] },
    { what: 'a suffix longer than the leader\u2019s log', leaderLog: [...prefix, ...repeat(4, 2)] },
    {
      what: 'a suffix, while the leader also holds entries of those terms',
      leaderLog: [...prefix, ...repeat(2, 20), ...repeat(4, 30)],
    },
  ])(
    'repairs a follower diverged by 50 entries across 2 terms ($what) in a handful of round trips',
    ({ leaderLog }) => {
      const net = netWithLogs({ L: leaderLog, m: leaderLog, f: diverged }, 4);
      net.elect('L');
      expect(net.leaders()).toEqual(['L']);
      expect(termsOf(net.node('f'))).toEqual(termsOf(net.node('L')));
      const appends = ofType(net.sent, 'append', 'L', 'f');
      const acks = ofType(net.sent, 'append-resp', 'f', 'L');
      expect(appends.length).toBeLessThanOrEqual(4);
      expect(acks.length).toBe(appends.length);
      expect(acks.filter((m) => m.reject).length).toBeLessThanOrEqual(2);
    },
  );

  it('brings a follower lacking 50 entries up to date in one batch after a single refusal', () => {
    const net = netWithLogs({ L: diverged, m: diverged, f: prefix }, 3);
    net.elect('L');
    expect(termsOf(net.node('f'))).toEqual(termsOf(net.node('L')));
    const withEntries = ofType(net.sent, 'append', 'L', 'f').filter((m) => m.entries.length > 0);
    expect(withEntries.map((m) => m.entries.length)).toEqual([1, 51]);
  });
});

describe('replication flow control: pipelined appends, bounded batches, recovery of lost appends', () => {
  it('sends a replicating follower up to maxInflightMessages appends without waiting for acks', () => {
    const net = new Net(ABC, { maxInflightMessages: 2, maxEntriesPerMessage: 1 });
    net.elect('a');
    net.node('a').propose(['1', '2', '3', '4', '5'].map((s) => new TextEncoder().encode(s)));
    const rd = net.cycle('a')!;
    for (const to of ['b', 'c']) {
      expect(ofType(rd.leaderMessages, 'append', 'a', to).map((m) => m.entries.length)).toEqual([1, 1]);
      expect(net.node('a').status().progress?.[to]).toMatchObject({ state: 'replicate', inflight: 2 });
    }
    net.settle();
    for (const id of net.ids) expect(net.logOf(id)).toEqual(['·', '1', '2', '3', '4', '5']);
    expect(net.node('a').status().commitIndex).toBe(6);
  });

  it('ignores a stale rejection of an append that the follower has since acknowledged', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.propose('a', 'x');
    const before = net.node('a').status().progress?.['b'];
    expect(before).toMatchObject({ state: 'replicate', match: 2, next: 3 });
    net.node('a').step({
      type: 'append-resp',
      from: 'b',
      to: 'a',
      term: 1,
      reject: true,
      index: 1,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(net.node('a').status().progress?.['b']).toEqual(before);
    expect(net.cycle('a')).toBeUndefined();
  });

  it('ignores a rejection that does not answer the outstanding probe', () => {
    const net = netWithLogs({ L: [1, 1, 2], m: [1, 1, 2], f: [1, 1, 1, 1, 1] }, 2);
    net.node('L').campaign();
    settleWhere(net, (m) => m.type !== 'append'); // elected; the first probes are lost
    const before = net.node('L').status().progress?.['f'];
    expect(before).toMatchObject({ state: 'probe', next: 4, inflight: 1 });
    net.node('L').step({
      type: 'append-resp',
      from: 'f',
      to: 'L',
      term: 3,
      reject: true,
      index: 1,
      hintIndex: 1,
      hintTerm: 1,
    });
    expect(net.node('L').status().progress?.['f']).toEqual(before);
  });

  it('splits a batch at maxBytesPerMessage, but a single larger entry still goes alone', () => {
    const net = new Net(ABC, { maxBytesPerMessage: 300 });
    net.elect('a');
    const mark = net.sent.length;
    net.node('a').propose([...Array.from({ length: 10 }, () => new Uint8Array(100)), new Uint8Array(1000)]);
    net.settle();
    const sizes = ofType(net.sent.slice(mark), 'append', 'a', 'b')
      .map((m) => m.entries.length)
      .filter((n) => n > 0);
    expect(sizes).toEqual([2, 2, 2, 2, 2, 1]); // 100-byte payloads count 116 bytes each
    expect(net.node('b').status().lastIndex).toBe(12);
  });

  it('a follower whose appends were lost is caught up after the next heartbeat exchange', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.node('a').propose([new TextEncoder().encode('x')]);
    settleWhere(net, (m) => m.to !== 'c');
    expect(net.logOf('c')).toEqual(['·']);
    expect(net.node('a').status().commitIndex).toBe(2);
    tickSettle(net, 1);
    expect(net.logOf('c')).toEqual(['·', 'x']);
    expect(net.node('c').status().commitIndex).toBe(2);
  });

  it('while probing, sends one append at a time and retries only after hearing from the follower', () => {
    const net = netWithLogs({ L: [1, 1, 2], m: [1, 1, 2], f: [1, 1, 1, 1, 1] }, 2);
    net.node('L').campaign();
    settleWhere(net, (m) => m.type !== 'append'); // the election succeeds, every probe is lost
    expect(net.leaders()).toEqual(['L']);
    net.node('L').propose([new TextEncoder().encode('x')]);
    net.drain();
    expect(ofType(net.sent, 'append', 'L', 'f')).toHaveLength(1);
    expect(net.node('L').status().progress?.['f']).toMatchObject({ state: 'probe', inflight: 1 });
    tickSettle(net, 1); // heartbeat, response, then a new probe
    expect(termsOf(net.node('f'))).toEqual([1, 1, 2, 3, 3]);
    expect(net.logOf('f').slice(3)).toEqual(['·', 'x']);
    expect(outbox(net.node('f').ready())).toEqual([]);
  });
});
