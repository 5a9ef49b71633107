// The coordinator's safety model, checked over one run: what the clients
// were told (every acknowledged result, with its replicated time and log
// index) against the committed history of every task (read at the end) and
// the final resources. Pure: it takes plain data and returns violations, so
// checker.spec.ts can feed it runs that break each property.
import type { HistoryPage, ResourceView, TaskEvent } from '../../src/index';

/** One command a client sent: its result when one came back, or 'unknown'. */
export interface OpRecord {
  readonly who: string;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly invokedAt: number;
  readonly outcome: 'ok' | 'unknown';
  /** The command's result (a success or a refusal) when outcome is 'ok'. */
  readonly result?: unknown;
}

export interface RunObservation {
  readonly ops: readonly OpRecord[];
  /** Every task's complete history (historyLimit large enough to keep all of it). */
  readonly histories: ReadonlyMap<string, HistoryPage>;
  /** Every task's resources at the end. */
  readonly resources: ReadonlyMap<string, readonly ResourceView[]>;
  /** The committed commands by log index (what the replicas applied). */
  readonly commands: ReadonlyMap<number, { readonly name: string; readonly args: readonly unknown[] }>;
}

/**
 * The commands that may end a tenure for each reason: an expiry is noticed
 * by any command that settles the task; everything else has one cause, and
 * an override only ever comes from a human's command.
 */
const END_CAUSES: Record<string, readonly string[] | 'any'> = {
  expired: 'any',
  'over-budget': 'any',
  stuck: ['renew'],
  resigned: ['resign'],
  unregistered: ['unregister'],
  revoked: ['revoke', 'removeTask'],
  overridden: ['designate'],
  paused: ['pause'],
  approval: ['checkpoint'],
};

/** One tenure, as the committed history records it. */
interface Tenure {
  readonly epoch: number;
  readonly holder: string;
  readonly grantIndex: number;
  readonly grantAt: number;
  endIndex: number | null;
  until: number | null;
  reason: string | null;
}

interface Lease {
  epoch: number;
  holder: string;
  expiresAt: number;
}
interface Result {
  ok: boolean;
  at: number;
  index: number;
  error?: string;
  epoch?: number | null;
  lease?: Lease;
  status?: string;
  checkpoint?: { seq: number; epoch: number; by: string; state: unknown } | null;
}

/** Tenures per task from the history, and the violations the history alone shows. */
function tenuresOf(task: string, page: HistoryPage, obs: RunObservation, violations: string[]): Tenure[] {
  const tenures: Tenure[] = [];
  if (page.firstSeq !== 1)
    violations.push(`${task}: history starts at seq ${page.firstSeq}: raise historyLimit`);
  for (const e of page.events) {
    const open = tenures[tenures.length - 1];
    if (e.kind === 'granted') {
      const prev = open?.epoch ?? 0;
      if (e.epoch <= prev)
        violations.push(`${task}: epoch ${e.epoch} granted after epoch ${prev} (not increasing)`);
      if (open && open.endIndex === null) {
        violations.push(
          `${task}: epoch ${e.epoch} granted to ${e.candidate} while epoch ${open.epoch} (${open.holder}) holds`,
        );
      }
      if (open && open.until !== null && e.at < open.until) {
        violations.push(
          `${task}: epoch ${e.epoch} granted at ${e.at}, before epoch ${open.epoch}'s lease ended at ${open.until}`,
        );
      }
      tenures.push({
        epoch: e.epoch,
        holder: e.candidate!,
        grantIndex: e.index,
        grantAt: e.at,
        endIndex: null,
        until: null,
        reason: null,
      });
    } else if (e.kind === 'ended') {
      if (!open || open.endIndex !== null || open.epoch !== e.epoch || open.holder !== e.candidate) {
        violations.push(`${task}: epoch ${e.epoch} of ${e.candidate} ended but it was not holding`);
        continue;
      }
      if (e.until === null || e.until > e.at || e.until < open.grantAt) {
        violations.push(
          `${task}: epoch ${e.epoch} ended at ${e.at} with until ${e.until} outside its tenure`,
        );
      }
      const causes = END_CAUSES[e.reason ?? ''];
      const cause = obs.commands.get(e.index)?.name;
      if (causes === undefined || (causes !== 'any' && !causes.includes(cause ?? ''))) {
        violations.push(
          `${task}: epoch ${e.epoch} ended (${e.reason}) by a ${cause ?? 'missing'} command at index ${e.index}`,
        );
      }
      Object.assign(open, { endIndex: e.index, until: e.until, reason: e.reason });
    }
  }
  return tenures;
}

/** The epoch a successful op acted under, and the holder it claims, or undefined for ops that act under none. */
function actedUnder(op: OpRecord, r: Result): { epoch: number; holder: string } | undefined {
  if (op.name === 'campaign')
    return r.status === 'elected' ? { epoch: r.lease!.epoch, holder: op.args[1] as string } : undefined;
  if (['renew', 'checkpoint', 'act', 'resign'].includes(op.name))
    return { epoch: op.args[1] as number, holder: op.who };
  return undefined;
}

function checkOp(op: OpRecord, r: Result, tenures: Tenure[], page: HistoryPage, violations: string[]): void {
  const task = op.args[0] as string;
  const under = actedUnder(op, r);
  if (r.ok && under) {
    const t = tenures.find((x) => x.epoch === under.epoch);
    const what = `${task}: ${op.who}'s ${op.name} under epoch ${under.epoch} (index ${r.index}, at ${r.at})`;
    if (!t) return void violations.push(`${what} succeeded, but epoch ${under.epoch} was never granted`);
    if (t.holder !== under.holder)
      violations.push(`${what} succeeded, but epoch ${under.epoch} is ${t.holder}'s`);
    const endsHere =
      (op.name === 'resign' && t.reason === 'resigned') ||
      (op.name === 'checkpoint' && t.reason === 'approval');
    const inside =
      r.index >= t.grantIndex &&
      (t.endIndex === null || r.index < t.endIndex || (r.index === t.endIndex && endsHere));
    if (!inside)
      violations.push(`${what} succeeded outside the tenure (indexes ${t.grantIndex}…${t.endIndex})`);
    if (t.until !== null && (r.at > t.until || (t.reason === 'expired' && r.at >= t.until))) {
      violations.push(`${what} succeeded after the lease ended at ${t.until} (${t.reason})`);
    }
    // A lease that ran out was honoured in full: nobody else held the task before any expiry its holder was told.
    if (r.lease && t.reason === 'expired' && r.lease.expiresAt > t.until!) {
      violations.push(`${what} was told its lease runs to ${r.lease.expiresAt}, but it ended at ${t.until}`);
    }
  }
  if (!r.ok && op.name === 'act' && (r.error === 'StaleEpochError' || r.error === 'LeaseExpiredError')) {
    const t = tenures.find((x) => x.epoch === op.args[1]);
    if (!t || t.endIndex === null || t.endIndex > r.index) {
      violations.push(
        `${task}: ${op.who}'s write under epoch ${String(op.args[1])} was refused (${r.error}) while that epoch held`,
      );
    }
  }
  if (r.ok && op.name === 'campaign' && r.status === 'elected') {
    const cps = page.events.filter((e: TaskEvent) => e.kind === 'checkpoint' && e.index < r.index);
    const last = cps[cps.length - 1];
    const got = r.checkpoint ?? null;
    if ((last?.checkpoint ?? null) !== (got?.seq ?? null)) {
      violations.push(
        `${task}: ${op.who} was elected (epoch ${r.lease!.epoch}) with checkpoint ${got?.seq ?? 'none'}, the last was ${last?.checkpoint ?? 'none'}`,
      );
    } else if (
      got &&
      (got.by !== last!.candidate ||
        got.epoch !== last!.epoch ||
        got.state !== `${got.by}|${got.epoch}|${last!.summary}`)
    ) {
      violations.push(
        `${task}: checkpoint ${got.seq} handed to ${op.who} is not the one ${last!.candidate} wrote`,
      );
    }
  }
}

/**
 * Checks a run: per task, epochs strictly increase and tenures never
 * overlap in replicated time, and each ended by a command that may end it
 * (an override only by a human's); every success under an epoch happened while
 * that epoch held the task (so no guarded write with a stale epoch, or past
 * its lease, was applied), and a lease its holder was told of was honoured
 * until it ran out; a refused write's epoch really was over; each resource
 * was last written under an epoch that held it then; a new coordinator got
 * the last checkpoint; the epochs clients saw per task never went back.
 * @returns the violations, one sentence each (empty: the run is safe)
 */
export function checkRun(obs: RunObservation): string[] {
  const violations: string[] = [];
  const tenures = new Map<string, Tenure[]>();
  for (const [task, page] of obs.histories) tenures.set(task, tenuresOf(task, page, obs, violations));
  const seen = new Map<string, { index: number; epoch: number }[]>();
  for (const op of obs.ops) {
    if (op.outcome !== 'ok' || typeof op.result !== 'object' || op.result === null) continue;
    const r = op.result as Result;
    const task = op.args[0];
    if (typeof task !== 'string' || !obs.histories.has(task)) continue;
    checkOp(op, r, tenures.get(task)!, obs.histories.get(task)!, violations);
    const epoch = r.lease?.epoch ?? r.epoch;
    if (typeof epoch === 'number') seen.set(task, [...(seen.get(task) ?? []), { index: r.index, epoch }]);
  }
  for (const [task, list] of seen) {
    const sorted = [...list].sort((a, b) => a.index - b.index);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.epoch < sorted[i - 1]!.epoch) {
        violations.push(
          `${task}: epoch ${sorted[i]!.epoch} reported at index ${sorted[i]!.index}, after ${sorted[i - 1]!.epoch}`,
        );
      }
    }
  }
  for (const [task, resources] of obs.resources) {
    for (const r of resources) {
      const t = tenures.get(task)?.find((x) => x.epoch === r.epoch);
      const ok =
        t !== undefined &&
        t.holder === r.writer &&
        r.writtenAt >= t.grantAt &&
        (t.until === null || r.writtenAt < t.until || (r.writtenAt === t.until && t.reason !== 'expired'));
      if (!ok)
        violations.push(
          `${task}: resource ${r.name} was written by ${r.writer} under epoch ${r.epoch} at ${r.writtenAt}, outside that tenure`,
        );
    }
  }
  return violations;
}
