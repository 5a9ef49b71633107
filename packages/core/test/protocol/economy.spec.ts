import type { Message } from '../../src/index';
import { Net } from '../support/net';
import { ofType, tickSettle, tickStaggered, watchReadies } from '../support/drive';

const ABC = ['a', 'b', 'c'];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function countByType(msgs: readonly Message[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of msgs) out[m.type] = (out[m.type] ?? 0) + 1;
  return out;
}

describe('message economy: an election', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])(
    'the first election of a quiet 3-node cluster takes one round: 2 pre-votes, 2 votes, one leader (seed %i)',
    (seed) => {
      const net = new Net(ABC, {}, seed);
      const elected = tickStaggered(net, 100, () => net.leaders().length > 0);
      expect(elected).toBe(true);
      expect(net.leaders()).toHaveLength(1);
      const leader = net.leaders()[0]!;
      expect(net.node(leader).status().term).toBe(1);
      const counts = countByType(net.sent);
      expect([counts['pre-vote'], counts['vote']]).toEqual([2, 2]);
      expect(ofType(net.sent, 'pre-vote').every((m) => m.from === leader)).toBe(true);
      expect(ofType(net.sent, 'vote').every((m) => m.from === leader)).toBe(true);
      // The new leader announces itself with one append per follower.
      expect(ofType(net.sent, 'append', leader).filter((m) => m.entries.length > 0)).toHaveLength(2);
    },
  );
});

describe('message economy: replication batches', () => {
  it.each([
    {
      how: 'in one propose() call',
      propose: (net: Net) => net.node('a').propose(Array.from({ length: 10 }, (_, k) => enc(`p${k}`))),
    },
    {
      how: 'in ten propose() calls',
      propose: (net: Net) => Array.from({ length: 10 }, (_, k) => net.node('a').propose([enc(`p${k}`)])),
    },
  ])(
    '10 proposals made before one Ready ($how) reach each follower in at most 3 AppendEntries',
    ({ propose }) => {
      const net = new Net(ABC);
      net.elect('a');
      const mark = net.sent.length;
      propose(net);
      net.settle();
      const sent = net.sent.slice(mark);
      for (const to of ['b', 'c']) {
        const appends = ofType(sent, 'append', 'a', to);
        expect(appends.length).toBeLessThanOrEqual(3);
        expect(appends[0]!.entries).toHaveLength(10); // every proposal in the first one
        expect(ofType(sent, 'append-resp', to, 'a').length).toBe(appends.length);
        expect(net.node(to).status().commitIndex).toBe(11);
      }
    },
  );

  it('a steady stream of proposals costs one append per follower per Ready, plus one to carry the commit index', () => {
    const net = new Net(ABC);
    net.elect('a');
    const mark = net.sent.length;
    for (let k = 0; k < 20; k++) net.propose('a', `p${k}`);
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'b').length).toBeLessThanOrEqual(2 * 20);
    expect(net.node('b').status().commitIndex).toBe(21);
  });
});

describe('message economy: an idle cluster', () => {
  it.each([1, 3])(
    'an idle leader sends only heartbeats, one per follower every heartbeatTicks (%i)',
    (heartbeatTicks) => {
      const net = new Net(ABC, { heartbeatTicks });
      net.elect('a');
      const seen = watchReadies(net);
      const mark = net.sent.length;
      tickSettle(net, 120);
      const sent = net.sent.slice(mark);
      expect(countByType(sent)).toEqual({
        heartbeat: 2 * (120 / heartbeatTicks),
        'heartbeat-resp': 2 * (120 / heartbeatTicks),
      });
      expect(ofType(sent, 'heartbeat').every((m) => m.from === 'a' && m.commit === 1)).toBe(true);
      // Nothing is written either: no entries, no hard state.
      expect(seen.filter(({ rd }) => rd.entries.length > 0 || rd.hardState !== undefined)).toEqual([]);
      expect(net.leaders()).toEqual(['a']);
    },
  );
});

describe('message economy: lazyCommitNotify', () => {
  it('a lone command costs one append per follower: the commit rides on the next append, or goes at the next tick', () => {
    const net = new Net(ABC, { lazyCommitNotify: true });
    net.elect('a');
    net.tickAll(); // the election's no-op: its commit goes out at the tick
    net.settle();
    expect(net.node('b').status().commitIndex).toBe(1);
    let mark = net.sent.length;
    net.propose('a', 'x');
    expect(net.node('a').status().commitIndex).toBe(2);
    for (const to of ['b', 'c']) {
      expect(ofType(net.sent.slice(mark), 'append', 'a', to)).toHaveLength(1);
      expect(net.node(to).status().commitIndex).toBe(1); // not told yet
    }
    // The next command's append carries the commit of the last.
    mark = net.sent.length;
    net.propose('a', 'y');
    const [toB] = ofType(net.sent.slice(mark), 'append', 'a', 'b');
    expect(toB).toMatchObject({ commit: 2, entries: [{ index: 3 }] });
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'b')).toHaveLength(1);
    expect(net.node('b').status().commitIndex).toBe(2);
    // Quiet: the next tick tells every follower, once.
    mark = net.sent.length;
    net.tickAll();
    net.settle();
    for (const to of ['b', 'c']) {
      expect(ofType(net.sent.slice(mark), 'append', 'a', to)).toMatchObject([{ commit: 3, entries: [] }]);
      expect(net.node(to).status().commitIndex).toBe(3);
    }
    mark = net.sent.length;
    net.tickAll();
    net.settle();
    expect(ofType(net.sent.slice(mark), 'append')).toEqual([]);
  });

  it('a steady stream of proposals costs one append per follower per command, and followers keep up but the last', () => {
    const net = new Net(ABC, { lazyCommitNotify: true });
    net.elect('a');
    const mark = net.sent.length;
    for (let k = 0; k < 20; k++) net.propose('a', `p${k}`);
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'b')).toHaveLength(20);
    expect(net.node('b').status().commitIndex).toBe(20);
  });

  it("a follower's lease read gets the commit index with its read index, not a tick later", () => {
    const net = new Net(ABC, { lazyCommitNotify: true, leaseReads: true });
    net.elect('a');
    net.tickAll(); // a heartbeat round: the lease holds
    net.settle();
    net.propose('a', 'x');
    expect(net.node('b').status().commitIndex).toBe(1);
    expect(net.node('b').readIndex('r1', 'lease')).toBe(true);
    net.settle();
    expect(ofType(net.sent, 'read-index-resp', 'a', 'b')).toMatchObject([{ index: 2 }]);
    expect(net.node('b').status().commitIndex).toBe(2); // it can apply what it reads at
    expect(net.node('c').status().commitIndex).toBe(1); // no tick came: only the reader was told
  });

  it('a commit that takes in a configuration entry is told at once: followers act on it', () => {
    const net = new Net(ABC, { lazyCommitNotify: true });
    net.elect('a');
    net.node('a').proposeMembership([{ type: 'add-learner', node: 'l' }]);
    net.settle();
    const { commitIndex } = net.node('a').status();
    expect(commitIndex).toBe(2);
    for (const to of ['b', 'c']) expect(net.node(to).status().commitIndex).toBe(commitIndex);
  });
});
