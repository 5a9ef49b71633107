import type { MigrationInterface, QueryRunner } from 'typeorm';
import { quoteSchema } from '../sql';

/** The schema the DataSource was opened for (DataSource option `schema`). */
function schemaOf(runner: QueryRunner): string {
  const schema = (runner.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('the migration DataSource has no schema option');
  return quoteSchema(schema);
}

/**
 * Creates the store's tables (see entities.ts). Every statement is IF NOT
 * EXISTS, so re-running it over an existing schema is harmless; concurrent
 * starts are serialized by an advisory lock in migrate.ts.
 */
export class StoreSchema1763800000000 implements MigrationInterface {
  readonly name = 'StoreSchema1763800000000';

  async up(runner: QueryRunner): Promise<void> {
    const s = schemaOf(runner);
    const owner = 'group_id text NOT NULL, node_id text NOT NULL';
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.log_entry (${owner}, idx bigint NOT NULL, term bigint NOT NULL, ` +
        `type smallint NOT NULL, payload bytea NOT NULL, ` +
        `CONSTRAINT log_entry_pkey PRIMARY KEY (group_id, node_id, idx))`,
    );
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.log_bounds (${owner}, first_index bigint NOT NULL, ` +
        `CONSTRAINT log_bounds_pkey PRIMARY KEY (group_id, node_id))`,
    );
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.hard_state (${owner}, term bigint NOT NULL, vote text NOT NULL, ` +
        `commit_index bigint NOT NULL, CONSTRAINT hard_state_pkey PRIMARY KEY (group_id, node_id))`,
    );
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.snapshot (id bigint GENERATED ALWAYS AS IDENTITY NOT NULL, ${owner}, ` +
        `snapshot_index bigint NOT NULL, term bigint NOT NULL, size bigint NOT NULL, voters text[] NOT NULL, ` +
        `chunk_count integer NOT NULL DEFAULT 0, committed boolean NOT NULL DEFAULT false, ` +
        `CONSTRAINT snapshot_pkey PRIMARY KEY (id))`,
    );
    await runner.query(
      `CREATE INDEX IF NOT EXISTS snapshot_owner_idx ON ${s}.snapshot (group_id, node_id, committed)`,
    );
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.snapshot_chunk (snapshot_id bigint NOT NULL, chunk_no integer NOT NULL, ` +
        `data bytea NOT NULL, CONSTRAINT snapshot_chunk_pkey PRIMARY KEY (snapshot_id, chunk_no), ` +
        `CONSTRAINT snapshot_chunk_snapshot_fkey FOREIGN KEY (snapshot_id) REFERENCES ${s}.snapshot (id) ` +
        `ON DELETE CASCADE)`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    const s = schemaOf(runner);
    for (const table of ['snapshot_chunk', 'snapshot', 'hard_state', 'log_bounds', 'log_entry']) {
      await runner.query(`DROP TABLE IF EXISTS ${s}.${table}`);
    }
  }
}

/** Adds node_lock (see entities.ts and node-lock.ts); IF NOT EXISTS, like the first migration. */
export class NodeLock1763900000000 implements MigrationInterface {
  readonly name = 'NodeLock1763900000000';

  async up(runner: QueryRunner): Promise<void> {
    const s = schemaOf(runner);
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${s}.node_lock (group_id text NOT NULL, node_id text NOT NULL, ` +
        `epoch bigint NOT NULL, holder text NOT NULL, acquired_at timestamptz NOT NULL, ` +
        `CONSTRAINT node_lock_pkey PRIMARY KEY (group_id, node_id))`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE IF EXISTS ${schemaOf(runner)}.node_lock`);
  }
}

/** Every migration of the store, oldest first. */
export const storeMigrations = [StoreSchema1763800000000, NodeLock1763900000000];
