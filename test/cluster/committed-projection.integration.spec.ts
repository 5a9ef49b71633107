// A projection built from the committed stream must equal the state machine
// it follows. Three replica processes run a tally (add(key, n), client
// sessions, a handler that throws for n = 0) over NATS and PostgreSQL, with
// the JetStream mirror on; clients resend commands with their sessions, and
// leaders are killed with SIGKILL. Folding the applied commands, whether
// read in-process (RaftNode.committed) or from JetStream (readCommitted),
// gives the machine's totals; folding every command would double-count.
import {
  committedStreamName,
  connectNats,
  decodeCommittedPosition,
  readCommitted,
  type CommittedMessage,
  type NatsConnection,
} from '@raftline/transport-nats';
import { jetstreamModule } from '../../packages/transport-nats/src/nats';
import { TallyProjection, type TallyProjections, type TallyView } from '../fixtures/tally';
import { clusterHarness, IDS, type Harness } from './support/harness';
import { sleep, startNatsServer, waitFor } from './support/nats';
import { nodeRows } from './support/postgres';
import { inspect, nodeStatus, stableLeader, type ReplicaCluster } from './support/replicas';
import { startSessionLoad, type SessionLoad, type SessionLoadResult } from './support/session-load';

const ELECTION_MS = 500;
const LOAD = { workers: 6, maxCommands: 4000, maxMs: 90_000, keys: 5, failEvery: 7, resendEvery: 5 };

/** What a tally replica reports (replica.ts with RAFT_MACHINE=tally). */
interface TallyReport {
  readonly id: string;
  readonly state: Record<string, number>;
  readonly appliedIndex: number;
  readonly projections?: TallyProjections;
}

async function reports(h: Harness, cluster: ReplicaCluster): Promise<(TallyReport | undefined)[]> {
  const all = await Promise.all(IDS.map((id) => inspect(h.nc(), cluster.options.cluster, id)));
  return all as unknown as (TallyReport | undefined)[];
}

/** Every message of the group's stream, up to its current end. */
async function readAll(
  nc: NatsConnection,
  cluster: ReplicaCluster,
  outcomes: 'applied' | 'all',
): Promise<CommittedMessage[]> {
  const { cluster: name, group } = cluster.options;
  const out: CommittedMessage[] = [];
  for await (const m of readCommitted({ connection: nc, cluster: name, group, outcomes, follow: false }))
    out.push(m);
  return out;
}

function fold(messages: readonly CommittedMessage[]): TallyView {
  const p = new TallyProjection();
  for (const m of messages) p.fold(m);
  return p.view();
}

/** Waits until `more` further commands are acknowledged. */
async function progress(load: SessionLoad, more: number, what: string): Promise<void> {
  const at = load.result.acked;
  await waitFor(what, () => load.result.acked >= at + more, 30_000);
}

/**
 * Waits (bounded) until every replica answers with one state and the mirror's
 * applied-only projection equals it, then checks what a consumer relies on.
 */
async function expectProjectionsMatch(
  h: Harness,
  cluster: ReplicaCluster,
  streamNc: NatsConnection,
  result: SessionLoadResult,
  o: { inProcess: boolean },
) {
  const started = Date.now();
  const deadline = started + 30_000;
  let settleMs = 0;
  let last: { replicas: (TallyReport | undefined)[]; all: CommittedMessage[]; applied: CommittedMessage[] };
  for (;;) {
    const replicas = await reports(h, cluster);
    const all = await readAll(streamNc, cluster, 'all');
    const applied = await readAll(streamNc, cluster, 'applied');
    last = { replicas, all, applied };
    const same = (a: Record<string, number> | undefined, b: Record<string, number> | undefined) =>
      a !== undefined && b !== undefined && JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
    const state = replicas[0]?.state;
    const settled =
      replicas.every((r) => r && same(r.state, state) && r.appliedIndex === replicas[0]!.appliedIndex) &&
      same(fold(applied).totals, state) &&
      (!o.inProcess || replicas.every((r) => r?.projections?.all.lastIndex === all[all.length - 1]?.index));
    settleMs = Date.now() - started;
    if (settled || Date.now() > deadline) break;
    await sleep(250);
  }
  const { replicas, all, applied } = last;
  const state = sortKeys(replicas[0]!.state);
  for (const r of replicas) expect(sortKeys(r!.state)).toEqual(state);

  // The stream holds every committed command, gap-free by sequence; the default read is the applied ones.
  expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
  expect(applied).toEqual(all.filter((m) => m.outcome.kind === 'applied'));
  const mirror = fold(all);
  expect(sortKeys(fold(applied).totals)).toEqual(state);
  expect(sortKeys(mirror.totals)).toEqual(state);
  // A projection that ignores outcomes double-counts the session retries.
  expect(mirror.counts.duplicate).toBeGreaterThanOrEqual(result.resent.length);
  expect(result.resent.length).toBeGreaterThan(0);
  expect(mirror.naive).not.toEqual(mirror.totals);

  // Each duplicate names the earlier entry of its (client, seq), which ran its handler once.
  const byIndex = new Map(all.map((m) => [m.index, m]));
  const first = new Map<string, CommittedMessage>();
  const problems: string[] = [];
  for (const m of all) {
    const s = m.command.session!;
    const key = `${s.clientId}#${s.seq}`;
    if (m.outcome.kind === 'duplicate') {
      const of = byIndex.get(m.outcome.of);
      const ofSession = of?.command.session;
      if (!of || of.index >= m.index || ofSession?.clientId !== s.clientId || ofSession.seq !== s.seq) {
        problems.push(`${m.index} (${key}) names ${m.outcome.of}, which is not its first application`);
      }
    } else if (m.outcome.kind === 'failed' && m.outcome.error.name === 'SessionExpiredError') {
      // A stale attempt that arrived after the client moved on: refused by the session, changing nothing.
    } else if (first.has(key))
      problems.push(`${key} ran at ${first.get(key)!.index} and again at ${m.index}`);
    else first.set(key, m);
    const n = m.command.args[1];
    if (m.outcome.kind === 'applied' && n === 0) problems.push(`${m.index}: add 0 applied`);
    if (m.outcome.kind === 'failed' && m.outcome.error.name === 'CommandFailedError' && n !== 0) {
      problems.push(`${m.index}: add ${String(n)} failed`);
    }
  }
  expect(problems).toEqual([]);
  for (const { clientId, seq } of result.resent) {
    const entries = all.filter(
      (m) => m.command.session?.clientId === clientId && m.command.session.seq === seq,
    );
    expect(entries.filter((m) => m.outcome.kind === 'duplicate').length).toBeGreaterThanOrEqual(1);
  }
  const failedByHandler = all.filter(
    (m) => m.outcome.kind === 'failed' && m.outcome.error.name === 'CommandFailedError',
  );
  expect(failedByHandler.length).toBeGreaterThanOrEqual(result.failed);
  expect(result.failed).toBeGreaterThan(0);
  expect(result.resendMismatches).toEqual([]);

  if (o.inProcess) {
    for (const r of replicas) {
      const p = r!.projections!;
      expect({ id: r!.id, error: p.applied.error ?? p.all.error }).toEqual({ id: r!.id, error: undefined });
      expect(sortKeys(p.applied.totals)).toEqual(state);
      expect(sortKeys(p.all.totals)).toEqual(state);
      expect(p.all.counts).toEqual(mirror.counts);
      expect(p.applied.counts).toEqual({ applied: mirror.counts.applied, failed: 0, duplicate: 0 });
    }
  }
  expect(cluster.unexpectedExits()).toEqual([]);
  if (process.env.RAFTLINE_TEST_REPORT) {
    process.stderr.write(
      `${JSON.stringify({ settleMs, stream: all.length, counts: mirror.counts, result })}\n`,
    );
  }
  return { all, mirror };
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

describe('committed stream - projections over NATS and PostgreSQL equal the machine', () => {
  const h = clusterHarness();

  it('under kill -9 of the leader and session retries, in-process and JetStream projections of applied commands equal the state; every retry shows once as a duplicate of its first index', async () => {
    const cluster = h.cluster({
      electionMs: ELECTION_MS,
      env: { RAFT_MACHINE: 'tally', RAFT_PROJECTION: '1', RAFT_MIRROR: '1' },
    });
    const { cluster: name } = cluster.options;
    await cluster.startAll();
    await stableLeader(h.nc(), name, IDS, 20_000);
    const load = startSessionLoad(h.client(cluster), { ...LOAD, prefix: 'a' });
    try {
      await progress(load, 150, 'commands through the first leader');
      for (let round = 0; round < 2; round++) {
        const leader = await stableLeader(h.nc(), name, IDS, 20_000);
        await cluster.kill9(leader);
        await progress(load, 100, `commands after kill -9 of ${leader}`);
        await cluster.start(leader); // replays its log from PostgreSQL, and its projections from index 1
        await progress(load, 100, `commands after restarting ${leader}`);
      }
    } finally {
      load.stop();
    }
    const result = await load.done;
    const { all } = await expectProjectionsMatch(h, cluster, h.nc(), result, { inProcess: true });
    expect(all.length).toBeGreaterThan(400);
  }, 150_000);

  it(
    'after kill -9 of every replica while JetStream is down, the new leader continues the stream from its tail, before its snapshot, with the outcomes the snapshot kept',
    async () => {
      const js = await startNatsServer();
      const jnc = await connectNats({ servers: js.url });
      try {
        const cluster = h.cluster({
          electionMs: ELECTION_MS,
          env: {
            RAFT_MACHINE: 'tally',
            RAFT_MIRROR: '1',
            RAFT_MIRROR_NATS_URL: js.url,
            SNAPSHOT_ENTRIES: '30',
            SNAPSHOT_TRAILING: '5',
          },
        });
        const { cluster: name, group } = cluster.options;
        await cluster.startAll();
        await stableLeader(h.nc(), name, IDS, 20_000);
        const load = startSessionLoad(h.client(cluster), { ...LOAD, prefix: 'b' });
        let tail = 0;
        const snapshotIndex: number[] = [];
        try {
          await progress(load, 150, 'commands mirrored while JetStream is up');
          await js.stop(); // the mirror stops where it is; Raft goes on
          const statuses = await Promise.all(
            IDS.map((id) => nodeStatus(h.nc(), { cluster: name, group }, id)),
          );
          const commitAtStop = Math.max(...statuses.map((s) => s?.commitIndex ?? 0));
          // Bounded poll: two more snapshots on every replica while the mirror cannot publish.
          for (let deadline = Date.now() + 30_000; ; await sleep(100)) {
            const rows = await Promise.all(IDS.map((id) => nodeRows(h.admin(), group, id)));
            if (rows.every((r) => r.snapshotIndex >= commitAtStop + 60)) break;
            if (Date.now() > deadline)
              throw new Error(`snapshots did not pass ${commitAtStop + 60}: ${JSON.stringify(rows)}`);
          }
          await cluster.kill9All();
          await js.start();
          tail = await streamTailIndex(jnc, committedStreamName(name, group)); // once reconnected
          for (const id of IDS) {
            const rows = await nodeRows(h.admin(), group, id);
            // The log was kept from the stream's tail (the mirror pins it) although snapshots went past it.
            expect({
              id,
              keptFromTail: rows.firstIndex <= tail,
              snapshotPastTail: rows.snapshotIndex > tail,
            }).toEqual({
              id,
              keptFromTail: true,
              snapshotPastTail: true,
            });
            snapshotIndex.push(rows.snapshotIndex);
          }
          await cluster.startAll();
          await stableLeader(h.nc(), name, IDS, 20_000);
          await progress(load, 150, 'commands after restarting every replica');
        } finally {
          load.stop();
        }
        const result = await load.done;
        const { all } = await expectProjectionsMatch(h, cluster, jnc, result, { inProcess: false });
        // Entries between the tail and the snapshots were read back from the log, outcomes from the snapshot.
        const covered = all.filter((m) => m.index > tail && m.index <= Math.min(...snapshotIndex));
        expect(covered.length).toBeGreaterThan(30);
        expect(covered.filter((m) => m.outcome.kind !== 'applied').length).toBeGreaterThan(0);
      } finally {
        await jnc.close();
        await js.dispose();
      }
    },
    150_000,
  );
});

/** The log index of a stream's last message, retried (bounded) while the connection reconnects. */
async function streamTailIndex(nc: NatsConnection, stream: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const jsm = await jetstreamModule.jetstreamManager(nc, { timeout: 1000 });
      const seq = (await jsm.streams.info(stream)).state.last_seq;
      const msg = await jsm.streams.getMessage(stream, { seq });
      return msg ? decodeCommittedPosition(msg.data).index : 0;
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(250);
    }
  }
}
