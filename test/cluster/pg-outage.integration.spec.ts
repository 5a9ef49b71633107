// A whole cluster whose PostgreSQL server goes down under load, by a fast
// shutdown or by kill -9 (a crash: the server recovers from its WAL), and
// comes back. Raft may acknowledge only what is on stable storage (Figure 2),
// so while the database is down nothing commits: commands fail (outcome
// unknown or refused), RaftNode retries its writes and reports
// status().storageError, and once the database is back the cluster resumes by
// itself and every acknowledged command is there exactly once. The server is
// the spec's own (ThrowawayPostgres), never the machine's.
import type { NodeStatus } from '@raftline/core';
import { awaitApplied, keys, NO_VIOLATIONS, startLoad, violations } from './support/load';
import { clusterHarness, IDS, type Harness } from './support/harness';
import { sleep, waitFor } from './support/nats';
import { nodeStatus, stableLeader } from './support/replicas';

const ELECTION_MS = 500;
/** How long PostgreSQL stays down. */
const OUTAGE_MS = 2000;
/** Replies already on their way when the server stopped may still arrive for this long. */
const IN_FLIGHT_MS = 500;

/** The ways the server goes down. */
const OUTAGES = [
  { how: 'stopped (fast shutdown)', down: (h: Harness) => h.postgres().stop({ mode: 'fast' }) },
  { how: 'killed with kill -9', down: (h: Harness) => h.postgres().kill9() },
];

describe('cluster over NATS and PostgreSQL - PostgreSQL outage', () => {
  const h = clusterHarness({ postgres: 'throwaway' });

  it.each(OUTAGES)(
    '$how and started under load: nothing acknowledged while down, storageError reported then cleared, nothing lost',
    async ({ down }) => {
      const cluster = h.cluster({ electionMs: ELECTION_MS });
      const { cluster: name, group } = cluster.options;
      const ask = (id: string) => nodeStatus(h.nc(), { cluster: name, group }, id);
      await cluster.startAll();
      await stableLeader(h.nc(), name, IDS, 20_000);
      const load = h.track(
        startLoad(h.client(cluster), { workers: 8, maxCommands: 20_000, maxMs: 90_000, prefix: 'o' }),
      );
      await waitFor('200 acknowledged commands', () => load.result.acked.length >= 200, 30_000);

      const storageErrors = new Map<string, string>();
      let stoppedAt = 0;
      let startingAt = 0;
      try {
        await down(h);
        stoppedAt = Date.now();
        while (Date.now() < stoppedAt + OUTAGE_MS) {
          const statuses = await Promise.all(IDS.map(ask));
          statuses.forEach((s, i) => {
            if (s?.storageError) storageErrors.set(IDS[i]!, s.storageError);
          });
          await sleep(100);
        }
      } finally {
        startingAt = Date.now();
        await h.postgres().start();
      }
      const upAt = Date.now();

      await waitFor(
        '100 commands acknowledged after PostgreSQL is back',
        () => load.result.acked.filter((a) => a.at > upAt).length >= 100,
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
      // While the server was down: no acknowledgement, failed commands, a storage error on some replica.
      const ackedWhileDown = result.acked.filter((a) => a.at > stoppedAt + IN_FLIGHT_MS && a.at < startingAt);
      expect(keys(ackedWhileDown)).toEqual([]);
      const failedWhileDown = [...result.unknown, ...result.refused].filter(
        (f) => f.at > stoppedAt && f.at < upAt + 1000,
      );
      expect(failedWhileDown.length).toBeGreaterThan(0);
      expect([...storageErrors.values()].length).toBeGreaterThan(0);
      for (const message of storageErrors.values()) expect(message).toMatch(/storage write|log compaction/);
      // Once it is back: every replica answers, none reports a storage error.
      expect(statuses.map((s) => (s ? (s.storageError ?? 'ok') : 'no answer'))).toEqual(['ok', 'ok', 'ok']);

      const reports = await awaitApplied(h.nc(), name, IDS, keys(result.acked), 20_000);
      expect(violations(IDS, reports, result)).toEqual(NO_VIOLATIONS);
      expect(result.wrongReplies).toEqual([]);
    },
    120_000,
  );
});
