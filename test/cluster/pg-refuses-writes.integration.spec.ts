// A whole cluster whose PostgreSQL server stays up but refuses its writes
// (the replicas' role loses INSERT, UPDATE and DELETE on their tables, as a
// full disk or a revoked grant would do), under load, then takes them again.
// Raft may acknowledge only what is durable: while writes are refused nothing
// commits, every replica that tries to write reports status().storageError,
// and once they are allowed again the cluster resumes by itself with every
// acknowledged command there exactly once. The server is the spec's own
// (ThrowawayPostgres), never the machine's.
import type { NodeStatus } from '@raftline/core';
import { awaitApplied, keys, NO_VIOLATIONS, startLoad, violations } from './support/load';
import { clusterHarness, IDS } from './support/harness';
import { sleep, waitFor } from './support/nats';
import { PG_SCHEMA } from './support/postgres';
import { nodeStatus, stableLeader } from './support/replicas';

const ELECTION_MS = 500;
/** How long writes are refused. */
const REFUSED_MS = 3000;
/** Replies already on their way when the grant went may still arrive for this long. */
const IN_FLIGHT_MS = 500;
/** The role the replicas connect as: not a superuser, so a revoked grant binds it. */
const ROLE = 'raftline_app';
const WRITES = 'INSERT, UPDATE, DELETE';

describe('cluster over NATS and PostgreSQL - the database refuses writes', () => {
  const h = clusterHarness({ postgres: 'throwaway' });

  it('nothing acknowledged while refused, storageError reported then cleared, nothing lost', async () => {
    const admin = h.admin();
    await admin.query(`CREATE ROLE ${ROLE} LOGIN`);
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${PG_SCHEMA} AUTHORIZATION ${ROLE}`);
    const url = new URL(h.pgUrl());
    await admin.query(`GRANT CREATE ON DATABASE "${url.pathname.slice(1)}" TO ${ROLE}`);
    url.username = ROLE;
    const cluster = h.cluster({ electionMs: ELECTION_MS, pgUrl: url.toString() });
    const { cluster: name, group } = cluster.options;
    const ask = (id: string) => nodeStatus(h.nc(), { cluster: name, group }, id);
    await cluster.startAll();
    await stableLeader(h.nc(), name, IDS, 20_000);
    const load = h.track(
      startLoad(h.client(cluster), { workers: 8, maxCommands: 20_000, maxMs: 90_000, prefix: 'w' }),
    );
    await waitFor('200 acknowledged commands', () => load.result.acked.length >= 200, 30_000);

    const storageErrors = new Map<string, string>();
    let revokedAt = 0;
    let grantingAt = 0;
    try {
      await admin.query(`REVOKE ${WRITES} ON ALL TABLES IN SCHEMA ${PG_SCHEMA} FROM ${ROLE}`);
      revokedAt = Date.now();
      while (Date.now() < revokedAt + REFUSED_MS) {
        const statuses = await Promise.all(IDS.map(ask));
        statuses.forEach((s, i) => {
          if (s?.storageError) storageErrors.set(IDS[i]!, s.storageError);
        });
        await sleep(100);
      }
    } finally {
      grantingAt = Date.now();
      await admin.query(`GRANT ${WRITES} ON ALL TABLES IN SCHEMA ${PG_SCHEMA} TO ${ROLE}`);
    }
    const grantedAt = Date.now();

    await waitFor(
      '100 commands acknowledged after writes are allowed again',
      () => load.result.acked.filter((a) => a.at > grantedAt).length >= 100,
      30_000,
    );
    let statuses: (NodeStatus | undefined)[] = [];
    for (let i = 0; i < 100; i++) {
      statuses = await Promise.all(IDS.map(ask));
      if (statuses.every((s) => s && !s.storageError)) break;
      await sleep(100);
    }
    load.stop();
    const result = await load.done;

    expect(cluster.unexpectedExits()).toEqual([]);
    const ackedWhileRefused = result.acked.filter(
      (a) => a.at > revokedAt + IN_FLIGHT_MS && a.at < grantingAt,
    );
    expect(keys(ackedWhileRefused)).toEqual([]);
    const failedWhileRefused = [...result.unknown, ...result.refused].filter(
      (f) => f.at > revokedAt && f.at < grantedAt + 1000,
    );
    expect(failedWhileRefused.length).toBeGreaterThan(0);
    // The leader's appends fail at once; a follower's once entries reach it (none may while nothing commits).
    expect(storageErrors.size).toBeGreaterThan(0);
    for (const message of storageErrors.values()) expect(message).toMatch(/permission denied/);
    expect(statuses.map((s) => (s ? (s.storageError ?? 'ok') : 'no answer'))).toEqual(['ok', 'ok', 'ok']);

    const reports = await awaitApplied(h.nc(), name, IDS, keys(result.acked), 20_000);
    expect(violations(IDS, reports, result)).toEqual(NO_VIOLATIONS);
    expect(result.wrongReplies).toEqual([]);
  }, 120_000);
});
