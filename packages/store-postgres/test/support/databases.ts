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

type Open = (owner: string, extra?: Partial<PostgresStoresOptions>) => Promise<PostgresStores>;

/**
 * One holder per node, as in production (a second open of a node is
 * refused): opening an owner again first closes its previous stores, as a
 * restarted process finds its old one gone. closeAll() closes what is left.
 */
function oneHolderPerOwner(open: Open): { open: Open; closeAll(): Promise<void> } {
  const held = new Map<string, PostgresStores>();
  return {
    open: async (owner, extra) => {
      await held.get(owner)?.close();
      const stores = await open(owner, extra);
      held.set(owner, stores);
      return stores;
    },
    closeAll: async () => {
      await Promise.all([...held.values()].map((s) => s.close()));
      held.clear();
    },
  };
}

/** Registers hooks that give the spec file its own schema on the shared server, dropped afterwards. */
export function postgresFixture(): Fixture & { admin(): Pool } {
  const schema = uniqueName('rl_test');
  let pool: Pool | undefined;
  const holders = oneHolderPerOwner((owner, extra) =>
    createPostgresStores({ groupId: 'g', nodeId: owner, schema, pool: admin(), ...extra }),
  );
  beforeAll(() => {
    pool = new Pool({ connectionString: PG_URL, max: 4, application_name: `${schema}_admin` });
  });
  afterAll(async () => {
    await holders.closeAll();
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
    open: holders.open,
  };
}

/** Registers hooks that give the spec file one embedded PGlite database in a temporary directory. */
export function pgliteFixture(): Fixture & { db(): SqlExecutor } {
  const schema = 'raftline';
  let dataDir: string | undefined;
  let executor: SqlExecutor | undefined;
  const holders = oneHolderPerOwner((owner, extra) =>
    createPostgresStores({ groupId: 'g', nodeId: owner, schema, executor: db(), ...extra }),
  );
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'raftline-pglite-'));
    executor = await embeddedExecutor(dataDir);
  }, 60_000);
  afterAll(async () => {
    await holders.closeAll();
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
    open: holders.open,
  };
}
