// The model checker of the flag store's write guarantees, over what writers
// saw and the histories the store ends with. Every write of a run carries a
// unique marker and the version it expected (in its reason, `<marker> base
// <version>`), so each history entry says which write it is and what it was
// based on.
import type { HistoryEntry } from '../../src/index';

/** A write a writer sent: its key, marker, the version it expected, and what it heard back. */
export interface WriteSeen {
  readonly key: string;
  readonly marker: string;
  readonly base: number;
  readonly outcome: 'acked' | 'conflict' | 'unknown';
  /** For an acked write: the version the answer carried. */
  readonly version?: number;
}

/** The reason a write is sent with. */
export const reasonFor = (marker: string, base: number): string => `${marker} base ${base}`;

function parse(reason: string): { marker: string; base: number } | undefined {
  const m = /^(\S+) base (\d+)$/.exec(reason);
  return m ? { marker: m[1]!, base: Number(m[2]) } : undefined;
}

/**
 * Every violation, one line each; empty when none.
 * - no acknowledged change lost: each acked write is in its key's history at the version its answer gave;
 * - versions strictly increase along each history;
 * - a compare-and-set conflict is always detected: every entry was based on
 *   the version its key had just before it (0 after a delete), so of two
 *   writers racing with the same expected version at most one is in the
 *   history, and a write refused with a conflict never is;
 * - no write applies twice.
 * @param histories each key's full history (the run keeps every entry)
 */
export function checkWrites(
  writes: readonly WriteSeen[],
  histories: ReadonlyMap<string, readonly HistoryEntry[]>,
): string[] {
  const problems: string[] = [];
  const applied = new Map<string, { key: string; entry: HistoryEntry }>();
  for (const [key, entries] of histories) {
    let current = 0;
    let last = 0;
    const bases = new Map<number, string>();
    for (const entry of entries) {
      if (entry.version <= last) problems.push(`${key}: version ${entry.version} follows ${last}`);
      last = entry.version;
      const r = parse(entry.reason);
      if (!r) {
        problems.push(`${key}: entry ${entry.version} has no marker (${entry.reason})`);
        continue;
      }
      if (r.base !== current)
        problems.push(
          `${key}: ${r.marker} applied at ${entry.version} expecting ${r.base}, but the flag was at ${current}`,
        );
      const rival = bases.get(r.base);
      if (rival !== undefined)
        problems.push(`${key}: ${rival} and ${r.marker} both applied on version ${r.base}`);
      bases.set(r.base, r.marker);
      if (applied.has(r.marker)) problems.push(`${key}: ${r.marker} applied twice`);
      applied.set(r.marker, { key, entry });
      current = entry.action === 'deleted' ? 0 : entry.version;
      if (entry.action === 'deleted') bases.clear(); // version 0 again: the next creation starts a new chain
    }
  }
  for (const w of writes) {
    const found = applied.get(w.marker);
    if (w.outcome === 'acked') {
      if (!found)
        problems.push(
          `${w.key}: ${w.marker} was acknowledged at version ${w.version} but is not in the history`,
        );
      else if (found.entry.version !== w.version)
        problems.push(
          `${w.key}: ${w.marker} was acknowledged at version ${w.version}, the history has it at ${found.entry.version}`,
        );
    }
    if (w.outcome === 'conflict' && found)
      problems.push(
        `${w.key}: ${w.marker} was refused with a version conflict, yet applied at ${found.entry.version}`,
      );
  }
  return problems;
}
