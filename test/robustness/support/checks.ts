// The checks at the end of a run: linearizability of the whole history,
// every acknowledged write applied exactly once, equal digests on every
// replica, no unexpected exit, and every bad frame counted.
import { pack } from '@raftline/core';
import { checkLinearizability, type Operation } from '@raftline/testing';
import { AdminClient, connectClient, groupSubjects, type QueryReceipt } from '@raftline/transport-nats';
import { sleep } from '../../cluster/support/nats';
import type { RobustCluster } from './cluster';
import { isLinearizable, type Invocation, type RobustnessTarget } from './target';
import type { HistoryEntry } from './workload';

/** What the checks found: one line per problem ([] = the run passed), and what they measured. */
export interface CheckReport {
  readonly problems: string[];
  /** The checker's verdict: ok, false, or unknown (time budget). */
  linearizable: 'ok' | 'violation' | 'unknown';
  checkedOps: number;
  /** Writes whose runs were compared on every replica. */
  writesChecked: number;
  /** Bad frames sent at the end, and how many each replica counted. */
  badFramesSent: number;
  badFramesCounted: Record<string, number>;
  verifyIndex?: number;
}

/** Splits the history into the checker's operations and the unordered (stale) reads. */
export function toOperations<I, O>(
  entries: readonly HistoryEntry<I, O>[],
): { ordered: Operation<I, O>[]; unordered: Operation<I, O>[] } {
  const ordered: Operation<I, O>[] = [];
  const unordered: Operation<I, O>[] = [];
  for (const e of entries) {
    // Refused and failed operations did not take effect; unknown ones may have, at any time after call.
    if (e.outcome !== 'ok' && !(e.outcome === 'unknown' && e.kind === 'command')) continue;
    const op: Operation<I, O> = {
      clientId: e.client,
      input: e.input,
      call: e.call,
      ...(e.outcome === 'ok' ? { output: e.output as O, return: e.return! } : {}),
    };
    const inv = { kind: e.kind, consistency: e.consistency } as Invocation<unknown>;
    (isLinearizable(inv) ? ordered : unordered).push(op);
  }
  return { ordered, unordered };
}

/**
 * The applied-once rule for counted writes: acknowledged ones ran exactly
 * once, unknown ones at most once, refused ones never, and none twice.
 * @returns one line per write that broke it on a replica
 */
export function appliedOnceProblems(
  entries: readonly HistoryEntry[],
  runsByReplica: Readonly<Record<string, Readonly<Record<string, number>>>>,
): string[] {
  const problems: string[] = [];
  for (const [replica, runs] of Object.entries(runsByReplica)) {
    const known = new Set<string>();
    for (const e of entries) {
      if (!e.writeId) continue;
      known.add(e.writeId);
      const n = runs[e.writeId] ?? 0;
      const bad =
        (e.outcome === 'ok' && n !== 1) ||
        (e.outcome === 'unknown' && n > 1) ||
        (e.outcome === 'refused' && n !== 0) ||
        (e.outcome === 'failed' && e.error === 'SessionExpiredError' && n !== 0);
      if (bad) problems.push(`${replica}: ${e.name} ${e.writeId} (${e.outcome}) ran ${n} times`);
    }
    for (const [id, n] of Object.entries(runs)) {
      if (!known.has(id)) problems.push(`${replica}: a write ${id} nobody sent ran ${n} times`);
    }
  }
  return problems;
}

const BAD_FRAMES = 5;

/**
 * Runs every check on a healed cluster whose workload has stopped.
 * @returns the report; its problems list each failed check
 */
export async function checkRun<S, I, O>(
  c: RobustCluster,
  target: RobustnessTarget<S, I, O>,
  entries: readonly HistoryEntry<I, O>[],
  options: { checkerTimeoutMs: number },
): Promise<CheckReport> {
  const problems: string[] = [];
  const report: CheckReport = {
    problems,
    linearizable: 'unknown',
    checkedOps: 0,
    writesChecked: 0,
    badFramesSent: 0,
    badFramesCounted: {},
  };
  const { ordered, unordered } = toOperations(entries);
  const verdict = checkLinearizability(ordered, target.model, { timeoutMs: options.checkerTimeoutMs });
  if (verdict.ok === true) {
    report.linearizable = 'ok';
    report.checkedOps = verdict.checkedOps;
  } else if (verdict.ok === false) {
    report.linearizable = 'violation';
    problems.push(`not linearizable: ${verdict.explanation}`);
  } else {
    problems.push(`linearizability unknown: ${verdict.reason}`);
  }
  problems.push(...(target.checkUnordered?.(ordered, unordered) ?? []));

  const admin = new AdminClient({
    connection: c.env.nc,
    cluster: c.cluster,
    group: c.group,
    timeoutMs: 10_000,
    requestTimeoutMs: 3000,
  });
  await caughtUp(admin, c.ids, 30_000).catch((err: unknown) => problems.push(String(err)));

  if (target.runsQuery) {
    const client = await connectClient({ connection: c.env.nc, cluster: c.cluster, group: c.group });
    const runs: Record<string, Record<string, number>> = {};
    try {
      for (const id of c.ids) {
        const query = client.query.bind(client) as unknown as (
          n: string,
          a: unknown[],
          o: object,
        ) => Promise<QueryReceipt<Record<string, number>>>;
        runs[id] = (await query(target.runsQuery, [], { consistency: 'stale', replica: id })).value;
      }
    } catch (err) {
      problems.push(`could not read the runs of every replica: ${String(err)}`);
    } finally {
      client.close();
    }
    problems.push(...appliedOnceProblems(entries as readonly HistoryEntry[], runs));
    report.writesChecked = entries.filter((e) => e.writeId).length;
  }

  let verify: Awaited<ReturnType<AdminClient['verify']>> | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      verify = await admin.verify({ timeoutMs: 15_000 });
      if (verify.agree) break;
    } catch (err) {
      if (attempt === 4) problems.push(`verify failed: ${String(err)}`);
    }
    await sleep(1000);
  }
  if (verify) {
    report.verifyIndex = verify.index;
    if (verify.disagreeing.length > 0) problems.push(`digests differ: ${verify.disagreeing.join(', ')}`);
    if (!verify.agree) problems.push(`verify: no agreement (missing ${verify.missing.join(', ') || '-'})`);
  }

  for (const exit of c.unexpectedExits()) problems.push(`unexpected exit: ${exit.slice(0, 600)}`);
  await badFrames(c, admin, report).catch((err: unknown) =>
    problems.push(`bad frames not counted: ${String(err)}`),
  );
  return report;
}

/** Waits until every replica answers and has applied the leader's commit index. */
async function caughtUp(admin: AdminClient, ids: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const s = await admin.status();
      const leader = s.replicas.find((r) => r.reachable && r.node === s.leaderId);
      const commit = leader?.reachable ? leader.status.commitIndex : Infinity;
      const behind = ids.filter((id) => {
        const r = s.replicas.find((x) => x.node === id);
        return !r?.reachable || r.status.appliedIndex < commit;
      });
      if (leader && behind.length === 0) return;
      last = `leader ${s.leaderId || '-'}, behind: ${behind.join(', ')}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`replicas did not catch up within ${timeoutMs} ms (${last})`);
}

/** Frames that are no frames, published to every replica's Raft subject: each must count them all. */
async function badFrames(c: RobustCluster, admin: AdminClient, report: CheckReport): Promise<void> {
  const count = async (id: string): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const s = await admin.replicaStatus(id);
        return Object.values(s.drops.received ?? {}).reduce((a, b) => a + b, 0);
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(500);
      }
    }
  };
  const subjects = groupSubjects(c.cluster, c.group);
  const before: Record<string, number> = {};
  for (const id of c.ids) before[id] = await count(id);
  for (let k = 0; k < BAD_FRAMES; k++) {
    for (const id of c.ids) {
      c.env.nc.publish(subjects.raft(id), k % 2 ? new Uint8Array([0xc1, k]) : pack({ not: 'a frame', k }));
    }
  }
  report.badFramesSent = BAD_FRAMES;
  await c.env.nc.flush();
  const deadline = Date.now() + 5000;
  for (const id of c.ids) {
    let counted = 0;
    while (Date.now() < deadline) {
      counted = (await count(id)) - before[id]!;
      if (counted >= BAD_FRAMES) break;
      await sleep(100);
    }
    report.badFramesCounted[id] = counted;
    if (counted !== BAD_FRAMES) {
      report.problems.push(`${id} counted ${counted} of ${BAD_FRAMES} bad frames`);
    }
  }
}
