// Whole clusters of replica processes over NATS with their logs in PostgreSQL
// (@raftline/store-postgres): kill -9 of every replica under load, then a
// restart on the same rows. Raft's durability claim (Figure 2: persistent
// state is on stable storage before responding to RPCs) means nothing a client
// saw acknowledged may be lost, even when no replica survives.
import {
  awaitApplied,
  capped,
  keys,
  NO_VIOLATIONS,
  startLoad,
  violations,
  type LoadResult,
} from './support/load';
import { clusterHarness, IDS, type Harness } from './support/harness';
import { sleep, waitFor } from './support/nats';
import { nodeRows } from './support/postgres';
import { nodeStatus, stableLeader, type ReplicaCluster } from './support/replicas';

const ELECTION_MS = 500;

/** Acks that arrived after `since`. */
function ackedSince(result: LoadResult, since: number): number {
  return result.acked.filter((a) => a.at > since).length;
}

/**
 * Runs the load until `before` more commands are acknowledged, kills every
 * replica with SIGKILL, restarts them all on their rows, and waits until
 * `after` commands are acknowledged by the restarted cluster.
 * @returns the acknowledged count at the moment of the kill
 */
async function killAllAndRestart(
  h: Harness,
  cluster: ReplicaCluster,
  result: LoadResult,
  o: { before: number; after: number },
): Promise<number> {
  const { cluster: name } = cluster.options;
  const start = result.acked.length;
  await waitFor(`${o.before} acknowledged commands`, () => result.acked.length >= start + o.before, 30_000);
  await cluster.kill9All();
  const ackedAtKill = result.acked.length;
  await sleep(200); // commands keep coming while nothing runs: they fail, none is acknowledged
  const restartedAt = Date.now();
  await cluster.startAll();
  await stableLeader(h.nc(), name, IDS, 20_000);
  await waitFor(
    `${o.after} commands acknowledged after the restart`,
    () => ackedSince(result, restartedAt) >= o.after,
    30_000,
  );
  return ackedAtKill;
}

/** Stops the load and checks every replica: acked applied exactly once, refused never, one order. */
async function expectNothingLost(
  h: Harness,
  cluster: ReplicaCluster,
  load: { stop(): void; done: Promise<LoadResult> },
) {
  load.stop();
  const result = await load.done;
  const reports = await awaitApplied(h.nc(), cluster.options.cluster, IDS, keys(result.acked), 20_000);
  expect(violations(IDS, reports, result)).toEqual(NO_VIOLATIONS);
  expect(result.wrongReplies).toEqual([]);
  expect(cluster.unexpectedExits()).toEqual([]);
  return result;
}

describe('cluster over NATS and PostgreSQL - kill -9 of every replica', () => {
  const h = clusterHarness();

  it('restarted on their rows, the replicas keep every acknowledged command exactly once, elect a leader and commit new commands', async () => {
    const cluster = h.cluster({ electionMs: ELECTION_MS });
    await cluster.startAll();
    await stableLeader(h.nc(), cluster.options.cluster, IDS, 20_000);
    const load = h.track(
      startLoad(h.client(cluster), { workers: 8, maxCommands: 20_000, maxMs: 90_000, prefix: 'k' }),
    );

    const ackedAtKill = await killAllAndRestart(h, cluster, load.result, { before: 300, after: 200 });

    const result = await expectNothingLost(h, cluster, load);
    expect(ackedAtKill).toBeGreaterThanOrEqual(300);
    // The load ran into the outage: some commands failed then, and none of those was acknowledged.
    expect(result.unknown.length + result.refused.length).toBeGreaterThan(0);
  }, 120_000);

  it('with frequent snapshots and compaction (a lagging replica catches up by InstallSnapshot), kill -9 of all loses nothing', async () => {
    const cluster = h.cluster({
      electionMs: ELECTION_MS,
      env: { SNAPSHOT_ENTRIES: '25', SNAPSHOT_TRAILING: '10' },
    });
    const { cluster: name, group } = cluster.options;
    await cluster.startAll();
    const leader = await stableLeader(h.nc(), name, IDS, 20_000);
    const load = h.track(
      startLoad(h.client(cluster), { workers: 8, maxCommands: 20_000, maxMs: 90_000, prefix: 's' }),
    );

    // A follower misses far more than the leader keeps behind its snapshot, so it needs the snapshot.
    const follower = IDS.find((id) => id !== leader)!;
    await waitFor('100 acknowledged commands', () => load.result.acked.length >= 100, 30_000);
    await cluster.kill9(follower);
    const missedFrom = load.result.acked.length;
    await waitFor(
      '200 commands while a follower is down',
      () => load.result.acked.length >= missedFrom + 200,
      30_000,
    );
    const leaderRows = await nodeRows(h.admin(), group, leader);
    expect(leaderRows.firstIndex).toBeGreaterThan((await nodeRows(h.admin(), group, follower)).lastIndex + 1);
    await cluster.start(follower);
    const caughtUp = keys(load.result.acked);
    const [report] = await awaitApplied(h.nc(), name, [follower], caughtUp, 20_000);
    const applied = new Set(report?.applied);
    expect(capped(caughtUp.filter((k) => !applied.has(k)))).toEqual([]);

    await killAllAndRestart(h, cluster, load.result, { before: 200, after: 200 });
    // The restarted replicas recovered from snapshots in PostgreSQL, then the log behind them.
    const statuses = await Promise.all(IDS.map((id) => nodeStatus(h.nc(), { cluster: name, group }, id)));
    for (const s of statuses) expect(s?.snapshotIndex).toBeGreaterThan(0);

    await expectNothingLost(h, cluster, load);
    for (const id of IDS) {
      const rows = await nodeRows(h.admin(), group, id);
      expect(rows.snapshots).toBe(1); // committing a snapshot deletes the older ones
      expect(rows.firstIndex).toBeGreaterThan(1); // compacted
      expect(rows.entries).toBe(rows.lastIndex - rows.firstIndex + 1); // contiguous, no hole
      expect(rows.snapshotIndex).toBeGreaterThanOrEqual(rows.firstIndex - 1);
    }
  }, 120_000);
});
