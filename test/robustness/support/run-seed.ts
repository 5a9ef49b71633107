// One robustness run: a fresh cluster on the environment's servers, the
// workload, the seeded nemesis, healing, the checks, the history file and
// the one summary line.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AdminClient } from '@raftline/transport-nats';
import { sleep } from '../../cluster/support/nats';
import { singleFaultGaps, summarizeGaps, type AvailabilitySummary } from './availability';
import { checkRun, type CheckReport } from './checks';
import { RobustCluster } from './cluster';
import type { Environment } from './environment';
import { Nemesis } from './faults';
import { kvTarget } from './kv-target';
import { planFaults, type FaultWeights } from './nemesis';
import type { RobustnessTarget } from './target';
import { startWorkload, type HistoryEntry } from './workload';

/** How one run goes. */
export interface RunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly electionMs: number;
  readonly clients: number;
  /** Where the history file goes (created if missing). */
  readonly outDir: string;
  /** The machine and its model (default: the kv registers). */
  readonly target?: RobustnessTarget<unknown, unknown, unknown>;
  /** The --machine module the target came from, for the replay command. */
  readonly targetModule?: string;
  readonly weights?: FaultWeights;
  /** The linearizability checker's budget (default 60 s). */
  readonly checkerTimeoutMs?: number;
  /** More NodeConfig fields for every replica (defaults: lease reads on, a snapshot every 300 entries). */
  readonly raft?: Readonly<Record<string, unknown>>;
}

/** What a run found. */
export interface RunResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly summary: string;
  readonly historyFile: string;
  readonly availability: AvailabilitySummary;
  readonly checks: CheckReport;
}

/** Counts of outcomes, for the summary. */
function outcomes(entries: readonly HistoryEntry[]): Record<string, number> {
  const out: Record<string, number> = { ok: 0, unknown: 0, refused: 0, failed: 0 };
  for (const e of entries) out[e.outcome ?? 'unknown'] = (out[e.outcome ?? 'unknown'] ?? 0) + 1;
  return out;
}

/** Waits until the admin API reports a leader. @throws Error when none within timeoutMs */
async function someLeader(c: RobustCluster, timeoutMs: number): Promise<string> {
  const admin = new AdminClient({
    connection: c.env.nc,
    cluster: c.cluster,
    group: c.group,
    timeoutMs: 2000,
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = await admin
      .status()
      .then((s) => s.leaderId)
      .catch(() => '');
    if (leader) return leader;
    await sleep(100);
  }
  throw new Error(`no leader within ${timeoutMs} ms`);
}

/**
 * Runs one seed on env's servers and writes its history to
 * `<outDir>/robustness-n<nodes>[-s<nats-servers>]-seed<seed>.jsonl` (a line
 * of settings and the plan, one per fault, then one per operation).
 * @returns the result; `ok` is false when any check failed (its problems say which)
 * @throws Error when the cluster does not start or elect a leader (nothing to check)
 */
export async function runSeed(env: Environment, o: RunOptions): Promise<RunResult> {
  const target = o.target ?? (kvTarget() as unknown as RobustnessTarget<unknown, unknown, unknown>);
  const plan = planFaults({
    seed: o.seed,
    durationMs: o.durationMs,
    electionMs: o.electionMs,
    natsServers: env.nats.count,
    ...(o.weights ? { weights: o.weights } : {}),
  });
  const servers = env.nats.count;
  const runName = `robustness-n${o.nodes}${servers > 1 ? `-s${servers}` : ''}-seed${o.seed}`;
  // Each replica's log (level info), kept when the run fails.
  const logDir = join(o.outDir, `${runName}.logs`);
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const cluster = await RobustCluster.create(env, {
    logDir,
    nodes: o.nodes,
    electionMs: o.electionMs,
    machine: target.machine,
    ...(target.export ? { export: target.export } : {}),
    raft: {
      leaseReads: true,
      snapshotEntries: 300,
      snapshotLogRatio: 0, // every 300 entries, however large the state: snapshots during faults
      snapshotTrailingEntries: 50,
      ...o.raft,
    },
  });
  try {
    await cluster.startAll();
    await someLeader(cluster, 30_000);
    const origin = performance.now();
    const workload = await startWorkload(target, {
      nc: env.nc,
      cluster: cluster.cluster,
      group: cluster.group,
      clients: o.clients,
      seed: (o.seed * 2654435761) >>> 0,
      origin,
      thinkMs: 20,
      timeoutMs: 4 * o.electionMs,
    });
    const nemesis = new Nemesis(cluster, origin);
    let healError: unknown;
    try {
      await nemesis.runPlan(plan);
    } finally {
      await nemesis.healAll().catch((err: unknown) => (healError = err));
      // A quiet tail: every client gets answers again before the history closes.
      const tail = Math.max(3000, o.durationMs - (performance.now() - origin));
      await sleep(tail);
      await workload.stop();
    }
    const checks = await checkRun(cluster, target, workload.entries, {
      checkerTimeoutMs: o.checkerTimeoutMs ?? 60_000,
    });
    if (healError) checks.problems.push(`healing failed: ${String(healError)}`);
    const gaps = singleFaultGaps(nemesis.records, workload.acks);
    const availability = summarizeGaps(gaps);

    const historyFile = join(o.outDir, `${runName}.jsonl`);
    const lines = [
      JSON.stringify({
        seed: o.seed,
        nodes: o.nodes,
        natsServers: env.nats.count,
        durationMs: o.durationMs,
        electionMs: o.electionMs,
        clients: o.clients,
        target: target.name,
        machine: target.machine,
        plan,
      }),
      ...nemesis.records.map((r) => JSON.stringify({ fault: r })),
      ...workload.entries.map((e) => JSON.stringify(e)),
    ];
    writeFileSync(historyFile, `${lines.join('\n')}\n`);

    const counts = outcomes(workload.entries as readonly HistoryEntry[]);
    const happened = nemesis.records.filter((r) => !r.skipped).length;
    const avail = Object.entries(availability)
      .map(([k, v]) => `${k} ${v.count}× med ${v.medianMs} max ${Number.isFinite(v.maxMs) ? v.maxMs : '∞'}`)
      .join('; ');
    const ok = checks.problems.length === 0;
    const summary =
      `robustness ${ok ? 'PASS' : 'FAIL'} target=${target.name} nodes=${o.nodes} nats=${servers} seed=${o.seed} ` +
      `${Math.round(o.durationMs / 1000)}s: ops ${workload.entries.length} (ok ${counts.ok}, unknown ${counts.unknown}, ` +
      `refused ${counts.refused}, failed ${counts.failed}); faults ${happened}/${plan.length} ` +
      `(${[...new Set(nemesis.records.filter((r) => !r.skipped).map((r) => r.kind))].join(',')}); ` +
      `linearizable ${checks.linearizable} (${checks.checkedOps} ops); writes checked ${checks.writesChecked}; ` +
      `digests ${checks.verifyIndex !== undefined ? `@${checks.verifyIndex}` : '-'}; ` +
      `exits ${cluster.unexpectedExits().length}; bad frames ${Object.values(checks.badFramesCounted).join('/')} of ${checks.badFramesSent}; ` +
      `availability ms (ET ${o.electionMs}): ${avail || '-'}; ` +
      `${ok ? '' : `problems: ${checks.problems.slice(0, 3).join(' | ')}; replica logs ${logDir}; `}` +
      `history ${historyFile}; replay: npm run test:robustness -- --seed ${o.seed} --nodes ${o.nodes} --nats-servers ${servers} --duration ${Math.round(o.durationMs / 1000)}${o.targetModule ? ` --machine ${o.targetModule}` : ''}`;
    if (ok) rmSync(logDir, { recursive: true, force: true });
    else writeFileSync(join(logDir, 'nats-routes.txt'), `${(await env.nats.describeRoutes()).join('\n')}\n`);
    return {
      seed: o.seed,
      nodes: o.nodes,
      ok,
      problems: checks.problems,
      summary,
      historyFile,
      availability,
      checks,
    };
  } finally {
    await cluster.dispose();
  }
}
