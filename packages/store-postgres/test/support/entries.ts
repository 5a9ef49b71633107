import type { Entry, EntryType } from '@raftline/core';

/** An entry whose payload encodes its index and term, so a misplaced or stale row is visible. */
export function entry(index: number, term = 1, type: EntryType = 'normal'): Entry {
  const data = type === 'noop' ? new Uint8Array(0) : new TextEncoder().encode(`e${index}t${term}`);
  return { index, term, type, data };
}

/** Entries lo..hi inclusive, all of one term. */
export function entries(lo: number, hi: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

/**
 * Returns why `log` (read from firstIndex) is not a well-formed log written by
 * entry(): indexes must be contiguous from `first`, each payload must match its
 * index and term, and terms must never decrease. Undefined when it is fine.
 */
export function logProblem(log: readonly Entry[], first: number): string | undefined {
  let term = 0;
  for (const [i, e] of log.entries()) {
    if (e.index !== first + i) return `position ${i} holds index ${e.index}, expected ${first + i}`;
    if (new TextDecoder().decode(e.data) !== `e${e.index}t${e.term}`)
      return `entry ${e.index} has a foreign payload`;
    if (e.term < term) return `term decreases at ${e.index}`;
    term = e.term;
  }
  return undefined;
}
