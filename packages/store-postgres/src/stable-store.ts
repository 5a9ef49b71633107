import type { HardState, StableStore } from '@raftline/core';
import { StoreBase, type StoreContext } from './store-base';

interface HardStateRecord {
  term: string | number;
  vote: string;
  commit_index: string | number;
}

/**
 * StableStore over PostgreSQL or PGlite: one row per (group, node) in
 * hard_state, written with a single upsert. Methods throw
 * StoreUnavailableError when the database fails and StoreClosedError after close().
 */
export class PostgresStableStore extends StoreBase implements StableStore {
  constructor(context: StoreContext) {
    super(context, 'stable store');
  }

  /** Returns the saved hard state, or undefined for a node that never saved one. */
  async load(): Promise<HardState | undefined> {
    return this.run('load()', async () => {
      const res = await this.db.query<HardStateRecord>(this.sql.loadHardState, this.key);
      const row = res.rows[0];
      if (!row) return undefined;
      return { term: Number(row.term), vote: row.vote, commit: Number(row.commit_index) };
    });
  }

  /** Saves the hard state; resolves once it is committed. */
  async save(state: HardState): Promise<void> {
    return this.run(`save(term ${state.term})`, async () => {
      await this.db.query(this.sql.saveHardState, [...this.key, ...hardStateParams(state)], {
        prepared: true,
      });
    });
  }
}

/** The parameters of saveHardState after (group, node): term, vote, commit. */
export function hardStateParams(state: HardState): [number, string, number] {
  return [state.term, state.vote, state.commit];
}
