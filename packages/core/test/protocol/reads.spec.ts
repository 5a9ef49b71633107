import type { NodeId, ReadState } from '../../src/index';
import { Net } from '../support/net';
import { ofType, settleWhere, tickOnly, tickSettle, watchReadies, type Seen } from '../support/drive';

const ABC = ['a', 'b', 'c'];
const ABCDE = ['a', 'b', 'c', 'd', 'e'];
const E = 10; // default electionTicks

/** Every read state `id` has handed out so far, in order. */
function statesOf(seen: readonly Seen[], id: NodeId): ReadState[] {
  return seen.filter((s) => s.id === id).flatMap((s) => s.rd.readStates);
}

/** A Net with `a` elected, everything committed, and the Readies watched from now on. */
function ledBy(ids: NodeId[], config = {}): { net: Net; seen: Seen[] } {
  const net = new Net(ids, config);
  net.elect('a');
  return { net, seen: watchReadies(net) };
}

/** Ticks only the leader `times` times, losing everything it sends (its heartbeats go unanswered). */
function silentTicks(net: Net, times: number): void {
  for (let t = 0; t < times; t++) {
    net.node('a').tick();
    net.drain();
    net.queue = [];
  }
}

const LEASE = { leaseReads: true };

describe('thesis §6.4 ReadIndex', () => {
  it('the leader releases a read state only once a quorum has acknowledged a heartbeat carrying its context', () => {
    const { net, seen } = ledBy(ABCDE);
    const commit = net.node('a').status().commitIndex;
    expect(net.node('a').readIndex('r')).toBe(true);
    net.drain();
    expect(ofType(net.queue, 'heartbeat', 'a').map((m) => m.context)).toEqual(['r', 'r', 'r', 'r']);
    for (const m of net.queue.splice(0)) net.deliverOne(m);
    net.drain();
    const acks = ofType(net.queue.splice(0), 'heartbeat-resp');
    expect(acks.map((m) => m.context)).toEqual(['r', 'r', 'r', 'r']);
    net.deliverOne(acks[0]!); // the leader and one follower: 2 of 5
    net.drain();
    expect(statesOf(seen, 'a')).toEqual([]);
    net.deliverOne(acks[1]!); // 3 of 5: a quorum
    net.drain();
    expect(statesOf(seen, 'a')).toEqual([{ index: commit, context: 'r' }]);
    net.deliverOne(acks[2]!); // late acks change nothing
    net.drain();
    expect(statesOf(seen, 'a')).toHaveLength(1);
  });

  it('the read index is the commit index when the read arrived: not the last index, not the commit when confirmed', () => {
    const { net, seen } = ledBy(ABC);
    net.propose('a', 'x');
    const commit = net.node('a').status().commitIndex;
    net.node('a').propose([new TextEncoder().encode('y')]); // appended, not yet committed
    expect(net.node('a').status().lastIndex).toBe(commit + 1);
    net.node('a').readIndex('r');
    net.settle(); // y commits in the same rounds that confirm the read
    expect(net.node('a').status().commitIndex).toBe(commit + 1);
    expect(statesOf(seen, 'a')).toEqual([{ index: commit, context: 'r' }]);
  });

  it('a new leader that has not committed an entry of its term defers the read until it has', () => {
    const { net, seen } = ledBy(ABC);
    net.propose('a', 'x', 'y'); // committed up to 3 everywhere
    net.node('a').transferLeader('b');
    settleWhere(net, (m) => m.type !== 'append'); // b is elected, but its noop reaches nobody
    expect(net.node('b').status()).toMatchObject({ role: 'leader', term: 2, commitIndex: 3, lastIndex: 4 });
    const mark = net.sent.length;
    expect(net.node('b').readIndex('r')).toBe(true);
    net.settle();
    expect(statesOf(seen, 'b')).toEqual([]);
    expect(ofType(net.sent.slice(mark), 'heartbeat').filter((m) => m.context === 'r')).toEqual([]);
    tickOnly(net, ['b'], 1); // a heartbeat unblocks replication; the noop commits
    expect(net.node('b').status().commitIndex).toBe(4);
    expect(statesOf(seen, 'b')).toEqual([{ index: 4, context: 'r' }]);
  });

  it('a leader cut off from the majority never produces a read state, neither while it leads nor after it is deposed', () => {
    const { net, seen } = ledBy(ABC);
    net.isolate('a');
    expect(net.node('a').readIndex('r')).toBe(true);
    tickSettle(net, 2); // still the leader, heartbeats carry 'r' into the void
    expect(net.node('a').status().role).toBe('leader');
    tickSettle(net, 30 * E);
    expect(net.node('a').status().role).not.toBe('leader'); // check-quorum deposed it
    const [next] = net.leaders();
    expect(next).toBeDefined();
    net.heal();
    tickSettle(net, 3 * E);
    expect(net.node('a').status()).toMatchObject({ role: 'follower', leaderId: next });
    expect(seen.flatMap((s) => s.rd.readStates)).toEqual([]);
  });

  it('in a minority of a five-node cluster, one follower acknowledging is not enough', () => {
    const { net, seen } = ledBy(ABCDE);
    net.partition(['a', 'b'], ['c', 'd', 'e']);
    net.node('a').readIndex('r');
    net.node('b').readIndex('rb'); // forwarded to a, which cannot confirm it either
    tickSettle(net, 30 * E);
    expect(ofType(net.sent, 'heartbeat-resp', 'b', 'a').some((m) => m.context !== '')).toBe(true);
    expect(seen.flatMap((s) => s.rd.readStates)).toEqual([]);
  });

  it('one heartbeat round releases a whole batch of reads, in request order', () => {
    const { net, seen } = ledBy(ABC);
    const commit = net.node('a').status().commitIndex;
    for (const r of ['r1', 'r2', 'r3']) net.node('a').readIndex(r);
    net.drain();
    net.queue = []; // the rounds the requests started are lost
    const mark = net.sent.length;
    tickOnly(net, ['a'], 1);
    const beats = ofType(net.sent.slice(mark), 'heartbeat');
    expect(beats.map((m) => `${m.to}:${m.context}`)).toEqual(['b:r3', 'c:r3']);
    expect(statesOf(seen, 'a')).toEqual(['r1', 'r2', 'r3'].map((context) => ({ index: commit, context })));
  });

  it('a single-node cluster answers at once, without messages', () => {
    const net = new Net(['a']);
    net.elect('a');
    net.node('a').readIndex('r');
    const rd = net.cycle('a');
    expect(rd?.readStates).toEqual([{ index: 1, context: 'r' }]);
    expect(net.queue).toEqual([]);
  });

  it('a follower forwards read-index to the leader; the read-index-resp makes its Ready carry the read state', () => {
    const { net, seen } = ledBy(ABC);
    net.propose('a', 'x');
    expect(net.node('b').readIndex('f')).toBe(true);
    const rd = net.cycle('b');
    expect(rd?.messages).toEqual([
      { type: 'read-index', from: 'b', to: 'a', term: 1, context: 'f', lease: false },
    ]);
    net.settle();
    expect(ofType(net.sent, 'heartbeat').filter((m) => m.context === 'f')).toHaveLength(2);
    expect(ofType(net.sent, 'read-index-resp')).toEqual([
      expect.objectContaining({ from: 'a', to: 'b', context: 'f', index: 2, reject: false }),
    ]);
    expect(statesOf(seen, 'b')).toEqual([{ index: 2, context: 'f' }]);
    expect(statesOf(seen, 'a')).toEqual([]); // the leader keeps no read state for it
  });

  it('readIndex returns false, sending nothing, when no leader is known', () => {
    const net = new Net(ABC);
    expect(net.node('b').readIndex('f')).toBe(false);
    expect(net.node('b').readIndex('f', 'lease')).toBe(false);
    net.drain();
    expect(net.sent).toEqual([]);
  });
});

describe('thesis §6.4.1 lease reads', () => {
  it("serves a 'lease' read through a heartbeat round when leaseReads is off (the default)", () => {
    const net = new Net(ABC);
    net.elect('a');
    tickSettle(net, 1);
    net.node('a').readIndex('l', 'lease');
    const rd = net.cycle('a');
    expect(rd?.readStates).toEqual([]);
    expect(rd?.leaderMessages.map((m) => m.type)).toEqual(['heartbeat', 'heartbeat']);
  });

  it('answers from the lease without a heartbeat round while a quorum acknowledged recently, on the leader and for a follower', () => {
    const { net, seen } = ledBy(ABC, LEASE);
    tickSettle(net, 1);
    const commit = net.node('a').status().commitIndex;
    net.node('a').readIndex('l', 'lease');
    const rd = net.cycle('a');
    expect(rd?.readStates).toEqual([{ index: commit, context: 'l' }]);
    expect(rd?.leaderMessages).toEqual([]);
    const mark = net.sent.length;
    net.node('b').readIndex('fl', 'lease');
    net.settle();
    expect(net.sent.slice(mark).map((m) => m.type)).toEqual(['read-index', 'read-index-resp']);
    expect(statesOf(seen, 'b')).toEqual([{ index: commit, context: 'fl' }]);
  });

  it.each([0, 2, 4])(
    'with leaseDriftTicks %i it trusts acks younger than electionTicks − leaseDriftTicks, and falls back to a round after',
    (drift) => {
      const valid = E - drift - 1;
      for (const unanswered of [valid, valid + 1]) {
        const { net, seen } = ledBy(ABC, { ...LEASE, leaseDriftTicks: drift });
        tickSettle(net, 1); // a quorum acknowledges a heartbeat sent now
        silentTicks(net, unanswered);
        expect(net.node('a').status().role).toBe('leader');
        net.node('a').readIndex('l', 'lease');
        const rd = net.cycle('a');
        const beats = ofType(rd?.leaderMessages ?? [], 'heartbeat').filter((m) => m.context === 'l');
        if (unanswered === valid) {
          expect(rd?.readStates).toEqual([expect.objectContaining({ context: 'l' })]);
          expect(beats).toEqual([]);
        } else {
          expect(rd?.readStates).toEqual([]);
          expect(beats).toHaveLength(2);
          net.settle();
          expect(statesOf(seen, 'a')).toEqual([expect.objectContaining({ context: 'l' })]);
        }
      }
    },
  );

  it('is never served again in a term in which the leader sent TimeoutNow, even after the transfer was abandoned', () => {
    const { net, seen } = ledBy(ABC, LEASE);
    tickSettle(net, 1);
    net.node('a').readIndex('before', 'lease');
    net.drain();
    expect(statesOf(seen, 'a').map((r) => r.context)).toEqual(['before']);
    net.node('a').transferLeader('b');
    tickSettle(net, E, (m) => m.type !== 'timeout-now'); // the TimeoutNow is lost; the transfer is abandoned
    expect(net.node('a').status()).toMatchObject({ role: 'leader', term: 1, leadTransferee: '' });
    expect(ofType(net.sent, 'timeout-now')).toHaveLength(1);
    net.node('a').readIndex('after', 'lease');
    expect(net.cycle('a')?.readStates).toEqual([]);
    net.settle(); // served, but only through a heartbeat round
    expect(statesOf(seen, 'a').map((r) => r.context)).toEqual(['before', 'after']);
  });

  it('is never served with check-quorum off (voters would not respect it)', () => {
    const { net, seen } = ledBy(ABC, { ...LEASE, checkQuorum: false });
    tickSettle(net, 1);
    net.node('a').readIndex('l', 'lease');
    expect(net.cycle('a')?.readStates).toEqual([]);
    net.settle();
    expect(statesOf(seen, 'a').map((r) => r.context)).toEqual(['l']);
  });

  it.each([0, 2])(
    'with leaseDriftTicks %i, an isolated old leader stops serving lease reads before the majority can elect a new leader',
    (drift) => {
      const net = new Net(ABC, { ...LEASE, leaseDriftTicks: drift });
      net.elect('a');
      tickSettle(net, 3);
      net.isolate('a');
      const seen = watchReadies(net);
      const served: number[] = [];
      let newLeaderAt = -1;
      for (let t = 1; t <= 5 * E && newLeaderAt < 0; t++) {
        tickSettle(net, 1); // lock-step clocks, a network faster than a tick
        const newer = ['b', 'c'].filter((id) => net.node(id).status().role === 'leader');
        if (newer.length > 0) newLeaderAt = t;
        if (net.node('a').status().role !== 'leader') continue;
        net.node('a').readIndex(`t${t}`, 'lease');
        if ((net.cycle('a')?.readStates.length ?? 0) > 0) {
          served.push(t);
          // Safety: whenever the old leader serves from its lease, nobody leads a newer term.
          expect(newer).toEqual([]);
        }
      }
      expect(served).toEqual(Array.from({ length: E - drift - 1 }, (_, k) => k + 1));
      expect(newLeaderAt).toBeGreaterThanOrEqual(E);
      expect(statesOf(seen, 'a')).toHaveLength(served.length); // nothing served later, via a round
    },
  );

  // The lease rests on voters refusing votes for electionTicks after hearing
  // from the leader (thesis §4.2.3, §6.4.1); a restarted voter forgets it heard
  // anything, so with leaseReads on it refuses votes for electionTicks after a restart.
  it('a voter that restarts still honours the lease it acknowledged before the crash', () => {
    const net = new Net(ABC, LEASE);
    net.elect('a');
    net.partition(['a'], ['c']);
    tickSettle(net, 2 * E); // c hears no leader; its pre-votes are refused by b, within the lease
    net.isolate('a');
    net.restart('b'); // b acknowledged a's last heartbeat, then crashed and came back at once
    net.node('c').campaign(); // c's election timer fires again
    net.settle();
    if (net.node('c').status().role === 'leader') net.propose('c', 'w');
    const seen = watchReadies(net);
    net.node('a').readIndex('l', 'lease');
    net.drain();
    const [served] = statesOf(seen, 'a');
    if (served) {
      // A lease read is only safe if nobody leads a newer term, i.e. no write it could miss has committed.
      expect(net.leaders()).toEqual(['a']);
      expect(served.index).toBe(net.node('c').status().commitIndex);
    }
  });
});
