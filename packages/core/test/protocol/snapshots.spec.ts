import { RaftProtocol, seededRandom } from '../../src/index';
import { RaftLog } from '../../src/protocol/log';
import { entriesOf, ofType, settleWhere } from '../support/drive';
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

  it('a snapshot the follower already holds only moves its commit index', () => {
    const net = new Net(ABC);
    net.elect('a');
    net.propose('a', 'x');
    const b = net.node('b');
    const last = b.log.lastIndex();
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: { index: last, term: 1, membership } });
    const rd = b.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(b.log.lastIndex()).toBe(last);
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
    net.node('a').snapshotFailed('c');
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
