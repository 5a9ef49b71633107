import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import {
  createPostgresStores,
  embeddedExecutor,
  type SqlExecutor,
  type PostgresStores,
  type PostgresStoresOptions,
} from '../../src';

/** The shared test server (override with RAFTLINE_PG_URL). */
export const PG_URL = process.env.RAFTLINE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A name no other test (or concurrent run) uses: lower-case, a valid identifier. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

type Source = Pick<PostgresStoresOptions, 'pool' | 'executor' | 'url' | 'embedded'>;

/** A database for one spec file, set up in beforeAll and removed in afterAll. */
export interface Fixture {
  /** The schema this file's stores live in. */
  readonly schema: string;
  /** Opens the stores of node `owner` in group 'g'. */
  open(owner: string, extra?: Partial<PostgresStoresOptions>): Promise<PostgresStores>;
  /** Where the stores connect. */
  source(): Source;
}

/** Registers hooks that give the spec file its own schema on the shared server, dropped afterwards. */
export function postgresFixture(): Fixture & { admin(): Pool } {
  const schema = uniqueName('rl_test');
  let pool: Pool | undefined;
  beforeAll(() => {
    pool = new Pool({ connectionString: PG_URL, max: 4, application_name: `${schema}_admin` });
  });
  afterAll(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool?.end();
  });
  const admin = (): Pool => {
    if (!pool) throw new Error('postgresFixture used outside a test');
    return pool;
  };
  return {
    schema,
    admin,
    source: () => ({ pool: admin() }),
    open: (owner, extra) =>
      createPostgresStores({ groupId: 'g', nodeId: owner, schema, pool: admin(), ...extra }),
  };
}

/** Registers hooks that give the spec file one embedded PGlite database in a temporary directory. */
export function pgliteFixture(): Fixture & { db(): SqlExecutor } {
  const schema = 'raftline';
  let dataDir: string | undefined;
  let executor: SqlExecutor | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'raftline-pglite-'));
    executor = await embeddedExecutor(dataDir);
  }, 60_000);
  afterAll(async () => {
    await executor?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  const db = (): SqlExecutor => {
    if (!executor) throw new Error('pgliteFixture used outside a test');
    return executor;
  };
  return {
    schema,
    db,
    source: () => ({ executor: db() }),
    open: (owner, extra) =>
      createPostgresStores({ groupId: 'g', nodeId: owner, schema, executor: db(), ...extra }),
  };
}
