import { RaftProtocol, seededRandom, type Message } from '../../src/index';
import { RaftLog } from '../../src/protocol/log';
import { appendResp, entriesOf, ofType, settleWhere, tickSettle } from '../support/drive';
import { Net } from '../support/net';

const ABC = ['a', 'b', 'c'];
const membership = { voters: ABC, outgoing: [], learners: [] };

/** Lets a take a "snapshot" at its applied index and compact its log to it, as RaftNode does. */
function snapshotAndCompact(net: Net, id: string): number {
  const n = net.node(id);
  const index = n.status().appliedIndex;
  n.snapshotCreated({ index, term: n.log.term(index)!, membership });
  n.compact(index);
  return index;
}

describe('§7 log compaction and InstallSnapshot - protocol', () => {
  it('sends a snapshot to a follower that needs compacted entries, which installs it and then replicates on', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('c');
    for (let i = 0; i < 10; i++) net.propose('a', `v${i}`);
    const snap = snapshotAndCompact(net, 'a');
    expect(net.node('a').log.firstIndex()).toBe(snap + 1);

    net.heal();
    net.tickAll(1); // a heartbeat round reveals how far behind c is
    const mark = net.sent.length;
    net.settle();
    const [install] = ofType(net.sent.slice(mark), 'snapshot', 'a');
    expect(install).toMatchObject({ to: 'c', snapshot: { index: snap, membership } });
    const status = net.node('c').status();
    expect(status.commitIndex).toBe(net.node('a').status().commitIndex);
    expect(net.node('c').log.snapshotPoint()).toEqual({ index: snap, term: 1 });
    expect(net.disks.get('c')!.log[0]?.index ?? snap + 1).toBeGreaterThan(snap); // the stored log was replaced

    net.propose('a', 'after');
    expect(net.logOf('c').slice(-1)).toEqual(['after']);
    expect(net.node('a').status().progress?.c?.state).toBe('replicate');
  });

  it('hands the snapshot out in a Ready before any entry after it, and acknowledges only after persisting', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('c');
    for (let i = 0; i < 5; i++) net.propose('a', `v${i}`);
    const snap = snapshotAndCompact(net, 'a');
    const c = net.node('c');
    c.step({ type: 'snapshot', from: 'a', to: 'c', term: 1, snapshot: { index: snap, term: 1, membership } });
    const rd = c.ready();
    expect(rd.snapshot).toEqual({ index: snap, term: 1, membership });
    expect(rd.entries).toEqual([]);
    expect(rd.committed).toEqual([]); // the snapshot replaces applying entries up to it
    expect(rd.leaderMessages).toEqual([]);
    expect(rd.messages).toEqual([
      expect.objectContaining({ type: 'append-resp', index: snap, reject: false }),
    ]);
  });

  it('a snapshot the follower already holds only moves its commit index, and is answered with its log', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.propose('a', 'x', 'y');
    const b = net.node('b');
    const last = b.log.lastIndex();
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: { index: 2, term: 1, membership } });
    const rd = b.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(b.log.lastIndex()).toBe(last);
    // The leader learns where b's log is, whatever it thought (a re-sent snapshot answers a lost ack).
    expect(rd.messages).toEqual([
      expect.objectContaining({ type: 'append-resp', to: 'a', index: b.log.committed, reject: false }),
    ]);
  });

  it('retries a snapshot the runtime failed to deliver', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.isolate('c');
    for (let i = 0; i < 5; i++) net.propose('a', `v${i}`);
    snapshotAndCompact(net, 'a');
    net.heal();
    net.tickAll(1);
    settleWhere(net, (m) => m.type !== 'snapshot'); // the snapshot is lost on the way
    expect(net.node('a').status().progress?.c?.state).toBe('snapshot');
    net.node('a').reportSnapshot('c', 'failed');
    net.tickAll(1);
    const mark = net.sent.length;
    net.settle();
    expect(ofType(net.sent.slice(mark), 'snapshot', 'a')).toHaveLength(1);
    expect(net.node('c').status().commitIndex).toBe(net.node('a').status().commitIndex);
  });

  it('refuses to compact beyond the durable snapshot or the applied index', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.propose('a', 'x');
    const a = net.node('a');
    expect(() => a.compact(1)).toThrow(/no durable snapshot/);
    a.snapshotCreated({ index: 99, term: 1, membership });
    expect(() => a.compact(50)).toThrow(/only \d+ is applied/);
  });

  it('restarts from a snapshot plus the log after it', () => {
    const log = new RaftLog(entriesOf([2, 2, 3], 11), 12, 10, { index: 10, term: 2 });
    expect(log.firstIndex()).toBe(11);
    expect(log.term(10)).toBe(2);
    expect(log.term(9)).toBeUndefined();
    expect(log.applied).toBe(10);
    expect(log.committed).toBe(12);
    const n = new RaftProtocol({
      id: 'a',
      voters: ['x'], // the snapshot's membership wins over the bootstrap list
      random: seededRandom(1),
      hardState: { term: 3, vote: '', commit: 12 },
      entries: entriesOf([2, 2, 3], 11),
      applied: 10,
      snapshot: { index: 10, term: 2, membership },
    });
    expect(n.members().voters).toEqual(ABC);
    expect(n.ready().committed.map((e) => e.index)).toEqual([11, 12]);
  });
});

/**
 * c was cut off while a wrote and compacted past it; after a heartbeat round
 * a wants to send it a snapshot. Returns the snapshot's index.
 */
function needsSnapshot(net: Net): number {
  net.elect('a');
  net.isolate('c');
  for (let i = 0; i < 10; i++) net.propose('a', `v${i}`);
  const snap = snapshotAndCompact(net, 'a');
  net.heal();
  net.tickAll(1);
  return snap;
}

/** Loses c's append-resps once c holds the snapshot: the acknowledgement of its install among them. */
const lostAckOfC =
  (net: Net) =>
  (m: Message): boolean =>
    !(m.type === 'append-resp' && m.from === 'c' && net.node('c').log.snapshotPoint().index > 0);

describe('§7 InstallSnapshot - a follower never stays behind after an install', () => {
  it('after the transfer is reported finished, a heartbeat round brings back a follower whose install ack was lost', () => {
    const net = new Net(ABC);
    const snap = needsSnapshot(net);
    settleWhere(net, lostAckOfC(net)); // c installs the snapshot; its append-resp is lost
    const a = net.node('a');
    expect(net.node('c').status().commitIndex).toBe(snap);
    expect(a.status().progress?.c?.state).toBe('snapshot');
    expect(a.status().progress?.c?.match).toBeLessThan(snap);
    tickSettle(net, 3, lostAckOfC(net)); // heartbeats alone prove nothing about c's log
    expect(a.status().progress?.c?.state).toBe('snapshot');

    a.reportSnapshot('c', 'finished');
    expect(a.status().progress?.c).toMatchObject({ state: 'probe', next: snap + 1, inflight: 1 });
    tickSettle(net, 1); // heartbeat, its response releases a probe at the snapshot's index, c acknowledges
    expect(a.status().progress?.c).toMatchObject({ state: 'replicate', match: a.log.lastIndex() });
    net.propose('a', 'after');
    expect(net.node('c').status().commitIndex).toBe(a.status().commitIndex);
    expect(net.logOf('c').slice(-1)).toEqual(['after']);
  });

  it('a finished transfer the follower never installed is rejected at the probe and sent again', () => {
    const net = new Net(ABC);
    const snap = needsSnapshot(net);
    settleWhere(net, (m) => m.type !== 'snapshot'); // the install never reaches c's protocol
    const a = net.node('a');
    a.reportSnapshot('c', 'finished');
    const mark = net.sent.length;
    tickSettle(net, 2);
    expect(ofType(net.sent.slice(mark), 'snapshot', 'a')).toHaveLength(1);
    expect(net.node('c').log.snapshotPoint().index).toBe(snap);
    expect(net.node('c').status().commitIndex).toBe(a.status().commitIndex);
  });

  it('an acknowledgement showing the follower holds the snapshot ends snapshot state at once', () => {
    const net = new Net(ABC);
    const snap = needsSnapshot(net);
    settleWhere(net, lostAckOfC(net));
    const a = net.node('a');
    a.step(appendResp('c', 'a', 1, snap)); // e.g. its answer to a re-sent chunk of the same snapshot
    expect(a.status().progress?.c).toMatchObject({ state: 'replicate', match: snap });
    net.settle();
    expect(net.node('c').status().commitIndex).toBe(a.status().commitIndex);
    a.reportSnapshot('c', 'finished'); // the runtime's late word changes nothing any more
    expect(a.status().progress?.c?.state).toBe('replicate');
  });

  it('ignores a rejection that arrives while a snapshot is on its way: it answers an older append', () => {
    const net = new Net(ABC);
    needsSnapshot(net);
    settleWhere(net, lostAckOfC(net));
    const a = net.node('a');
    a.step({
      type: 'append-resp',
      from: 'c',
      to: 'a',
      term: 1,
      reject: true,
      index: 3,
      hintIndex: 1,
      hintTerm: 1,
    });
    expect(a.status().progress?.c?.state).toBe('snapshot');
  });

  it('a leader whose probe and heartbeats go unanswered sends the probe again once per election timeout', () => {
    const net = new Net(ABC, { electionTicks: 10, heartbeatTicks: 1 });
    net.isolate('c');
    net.elect('a'); // a's first probe to c is lost
    expect(net.node('a').status().progress?.c).toMatchObject({ state: 'probe', inflight: 1 });
    const mark = net.sent.length;
    tickSettle(net, 9);
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'c')).toHaveLength(0);
    tickSettle(net, 2);
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'c')).toHaveLength(1);
    tickSettle(net, 10); // one probe per election timeout, not one per heartbeat
    expect(ofType(net.sent.slice(mark), 'append', 'a', 'c')).toHaveLength(2);
    net.heal();
    tickSettle(net, 2);
    expect(net.logOf('c')).toEqual(net.logOf('a'));
  });
});
