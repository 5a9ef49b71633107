import { RaftLog, entrySize } from '../../src/protocol/log';
import { entriesOf } from '../support/drive';

/** A log holding entries with the given terms, all durable, `committed` of them committed. */
function logOf(terms: readonly number[], committed = 0): RaftLog {
  return new RaftLog(entriesOf(terms), committed);
}

const figure7Leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

describe('RaftLog', () => {
  describe('construction from durable entries', () => {
    it('starts with every given entry durable, committed and applied clamped to what it holds', () => {
      const log = new RaftLog(entriesOf([1, 1, 2]), 10, 10);
      expect([log.firstIndex(), log.lastIndex(), log.lastTerm()]).toEqual([1, 3, 2]);
      expect([log.stable, log.committed, log.applied]).toEqual([3, 3, 3]);
      expect(log.unpersisted()).toEqual([]);
    });

    it('refuses a log with a gap', () => {
      expect(() => new RaftLog([...entriesOf([1]), ...entriesOf([1], 3)])).toThrow(
        /not contiguous at index 3/,
      );
    });

    it('an empty log ends at (0, 0) and answers term(0) = 0', () => {
      const log = new RaftLog();
      expect([log.lastIndex(), log.lastTerm(), log.term(0), log.term(1)]).toEqual([0, 0, 0, undefined]);
      expect(log.entry(1)).toBeUndefined();
    });
  });

  describe('slice(lo, hi, maxCount, maxBytes)', () => {
    const log = new RaftLog(
      Array.from({ length: 10 }, (_, k) => ({
        index: k + 1,
        term: 1,
        type: 'normal' as const,
        data: new Uint8Array(k === 7 ? 1000 : 100),
      })),
    );

    it('returns [lo, hi] clamped to the log', () => {
      expect(log.slice(3, 5).map((e) => e.index)).toEqual([3, 4, 5]);
      expect(log.slice(0, 99)).toHaveLength(10);
      expect(log.slice(6, 5)).toEqual([]);
    });

    it('stops at maxCount entries', () => {
      expect(log.slice(1, 10, 3).map((e) => e.index)).toEqual([1, 2, 3]);
    });

    it('stops before maxBytes would be exceeded (each entry counts its payload + 16)', () => {
      expect(entrySize(log.entry(1)!)).toBe(116);
      expect(log.slice(1, 10, Infinity, 348).map((e) => e.index)).toEqual([1, 2, 3]);
      expect(log.slice(1, 10, Infinity, 347).map((e) => e.index)).toEqual([1, 2]);
    });

    it('always returns the first entry, however large', () => {
      expect(log.slice(8, 10, Infinity, 300).map((e) => e.index)).toEqual([8]);
      expect(log.slice(7, 10, Infinity, 300).map((e) => e.index)).toEqual([7]);
    });
  });

  describe('findConflictByTerm(index, term): the last index ≤ index whose term is ≤ term', () => {
    it.each([
      [10, 6, 10],
      [10, 5, 7],
      [10, 4, 5],
      [10, 3, 3],
      [10, 2, 3],
      [6, 6, 6],
      [99, 6, 10],
      [10, 0, 0],
    ])('on the Figure 7 leader log, (%i, %i) → %i', (index, term, want) => {
      expect(logOf(figure7Leader).findConflictByTerm(index, term)).toBe(want);
    });
  });

  describe('appendAfter(prevIndex, entries): the follower side of §5.3', () => {
    it('skips entries it already holds and returns the last index known to match', () => {
      const log = logOf([1, 1, 1, 1]);
      expect(log.appendAfter(1, entriesOf([1], 2))).toBe(2);
      expect(log.lastIndex()).toBe(4);
    });

    it('truncates from the first conflicting entry and appends the rest', () => {
      const log = logOf([1, 1, 2, 2]);
      expect(log.appendAfter(2, entriesOf([3, 3, 3], 3))).toBe(5);
      expect(log.slice(1, 9).map((e) => e.term)).toEqual([1, 1, 3, 3, 3]);
    });

    it('refuses to truncate a committed entry', () => {
      const log = logOf([1, 1, 2], 3);
      expect(() => log.appendAfter(2, entriesOf([3], 3))).toThrow(/refusing to truncate committed entry 3/);
      expect(log.term(3)).toBe(2);
    });

    it('truncates an uncommitted entry right after the committed ones', () => {
      const log = logOf([1, 1, 2], 2);
      log.appendAfter(2, entriesOf([3], 3));
      expect(log.term(3)).toBe(3);
    });
  });

  describe('durability marks', () => {
    it('stableTo(index, term) marks entries durable once they are handed out and written', () => {
      const log = logOf([1]);
      log.append(entriesOf([2, 2], 2));
      expect(log.unpersisted().map((e) => e.index)).toEqual([2, 3]);
      log.persisting = 3;
      log.stableTo(3, 2);
      expect(log.stable).toBe(3);
      log.stableTo(2, 2); // never backwards
      expect(log.stable).toBe(3);
    });

    it('stableTo ignores entries that were replaced after they were handed out', () => {
      const log = logOf([1]);
      log.append(entriesOf([1, 1], 2));
      log.persisting = 3; // entries 2..3 (term 1) handed out to the driver
      log.appendAfter(1, entriesOf([2], 2)); // replaced by 2 (term 2) before the write finished
      expect(log.persisting).toBe(1);
      log.stableTo(3, 1);
      expect(log.stable).toBe(1);
      log.stableTo(2, 1);
      expect(log.stable).toBe(1);
      expect(log.unpersisted().map((e) => [e.index, e.term])).toEqual([[2, 2]]);
    });

    it('truncation lowers the durable mark below the replaced entries', () => {
      const log = logOf([1, 1, 1]);
      log.appendAfter(1, entriesOf([2], 2));
      expect(log.stable).toBe(1);
    });
  });

  describe('commit and apply marks', () => {
    it('commitTo never lowers the commit index and refuses to pass the last index', () => {
      const log = logOf([1, 1, 1]);
      log.commitTo(2);
      log.commitTo(1);
      expect(log.committed).toBe(2);
      expect(() => log.commitTo(4)).toThrow(/commit 4 is beyond the last index 3/);
    });

    it('unapplied(max) hands out committed entries not yet handed out, at most max', () => {
      const log = logOf([1, 1, 1, 1], 4);
      expect(new RaftLog(entriesOf([1, 1, 1, 1]), 4, 1).unapplied(2).map((e) => e.index)).toEqual([2, 3]);
      log.applying = 4;
      expect(log.unapplied(10)).toEqual([]);
      log.appliedTo(4);
      log.appliedTo(2);
      expect(log.applied).toBe(4);
    });
  });

  describe('isUpToDate(lastIndex, lastTerm): §5.4.1', () => {
    it.each([
      [3, 2, true],
      [4, 2, true],
      [2, 2, false],
      [1, 3, true],
      [9, 1, false],
    ])('against a log ending at (3, 2): (%i, %i) → %s', (lastIndex, lastTerm, want) => {
      expect(logOf([1, 1, 2]).isUpToDate(lastIndex, lastTerm)).toBe(want);
    });
  });
});
