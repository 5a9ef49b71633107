import { RaftProtocol, seededRandom, type Entry } from '../../src/index';
import { Net } from '../support/net';

const enc = (s: string) => new TextEncoder().encode(s);
const entry = (index: number, term: number, data: string): Entry => ({
  index,
  term,
  type: 'normal',
  data: enc(data),
});

describe('persistence contract - the durable commit index never covers an entry that is not on disk', () => {
  it('a Ready that replaces a stale entry does not persist a commit over it', () => {
    // Follower n2 holds [1@t1, 2@t1 stale] durably with commit 1 (found by the simulator with slow storage).
    const n2 = new RaftProtocol({
      id: 'n2',
      voters: ['n1', 'n2', 'n3'],
      random: seededRandom(1),
      hardState: { term: 1, vote: 'n1', commit: 1 },
      entries: [entry(1, 1, 'a'), entry(2, 1, 'stale')],
      applied: 1,
    });
    n2.step({
      type: 'append',
      from: 'n1',
      to: 'n2',
      term: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [entry(2, 2, 'committed')],
      commit: 2,
    });
    const rd = n2.ready();
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[2, 2]]);
    // Written in parallel with the entry: a crash in between must not leave commit 2 over the stale entry 2@t1.
    expect(rd.hardState?.commit).toBe(1);
    expect(rd.committed.map((e) => e.index)).toEqual([2]); // applying after persisting is still fine
    n2.advance(rd);
    expect(n2.ready().hardState?.commit).toBe(2); // once durable, the commit follows
  });
});

describe('appliedPart - committed entries applied before the Ready in hand is persisted', () => {
  it('moves the applied index, and a configuration entry applied early takes effect once', () => {
    const net = new Net(['a', 'b', 'c', 'd']);
    net.elect('a');
    net.settle();
    const a = net.node('a');
    // Two voters leave at once: joint consensus, which the leader leaves by appending a second entry.
    a.proposeMembership([
      { type: 'remove', node: 'c' },
      { type: 'remove', node: 'd' },
    ]);
    const joint = a.status().lastIndex;
    net.cycle('a'); // persisted, and sent to the others
    for (let round = 0; round < 4; round++) {
      const batch = net.queue;
      net.queue = [];
      for (const m of batch) net.deliverOne(m);
      for (const id of ['b', 'c', 'd']) net.cycle(id);
    }
    expect(a.status().commitIndex).toBe(joint);
    const rd = a.ready();
    expect(rd.committed.map((e) => e.index)).toEqual([joint]);
    a.appliedPart(rd.committed);
    expect(a.status()).toMatchObject({ appliedIndex: joint, lastIndex: joint + 1 }); // the leave-joint entry
    a.advance(rd);
    expect(a.status()).toMatchObject({ appliedIndex: joint, lastIndex: joint + 1 }); // not appended twice
    net.settle();
    expect(a.status()).toMatchObject({ voters: ['a', 'b'], outgoing: [], commitIndex: joint + 1 });
  });
});
