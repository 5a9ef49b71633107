// Checks over what real processes left behind: the agents' JSON lines
// (scripts/agent-process.ts) and the task's history from the replicas.
// Each returns the problems it found, as sentences (empty: none).
import type { TaskEvent } from '../../src';

type Line = Record<string, unknown>;

/** One span of local time during which an agent believed it held an epoch. */
export interface Belief {
  readonly agent: string;
  readonly epoch: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The spans an agent believed it held the task: from each 'elected' to the
 * earlier of its 'lost' and its last deadline ('elected'/'renewed'); a
 * process killed or paused believes until its last deadline at most (it
 * re-checks the deadline before it acts).
 */
export function beliefsOf(agent: string, lines: readonly Line[]): Belief[] {
  const spans: Belief[] = [];
  let open: { epoch: number; from: number; deadline: number } | null = null;
  const close = (to: number): void => {
    if (open) spans.push({ agent, epoch: open.epoch, from: open.from, to: Math.min(to, open.deadline) });
    open = null;
  };
  for (const l of lines) {
    if (l.event === 'elected') {
      close(l.t as number);
      open = { epoch: l.epoch as number, from: l.t as number, deadline: l.deadline as number };
    } else if (l.event === 'renewed' && open && open.epoch === l.epoch) {
      open.deadline = l.deadline as number;
    } else if (l.event === 'lost') {
      close(l.t as number);
    }
  }
  close(Infinity);
  return spans;
}

/** Two agents believing they held the task at the same local time (the processes share one clock). */
export function overlappingBeliefs(beliefs: readonly Belief[]): string[] {
  const sorted = [...beliefs].sort((a, b) => a.from - b.from);
  const problems: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (a.agent !== b.agent && b.from < a.to) {
      problems.push(
        `${a.agent} (epoch ${a.epoch}) believed it held the task until ${a.to}, ${b.agent} (epoch ${b.epoch}) from ${b.from}`,
      );
    }
  }
  return problems;
}

/** One tenure in the history: its grant and its end (null: still held). */
interface Tenure {
  readonly granted: TaskEvent;
  readonly ended: TaskEvent | null;
}

function tenures(events: readonly TaskEvent[]): Map<number, Tenure> {
  const byEpoch = new Map<number, Tenure>();
  for (const e of events) {
    if (e.kind === 'granted') byEpoch.set(e.epoch, { granted: e, ended: null });
    if (e.kind === 'ended' && byEpoch.has(e.epoch))
      byEpoch.set(e.epoch, { ...byEpoch.get(e.epoch)!, ended: e });
  }
  return byEpoch;
}

/**
 * The history's grants: epochs 1, 2, 3 … in log order, each tenure ended
 * (its lease stopped, `until`) no later than the next grant's time, and no
 * grant while a tenure is open.
 */
export function historyProblems(events: readonly TaskEvent[]): string[] {
  const problems: string[] = [];
  let last = 0;
  let open: TaskEvent | null = null;
  let lastUntil = -Infinity;
  for (const e of events) {
    if (e.kind === 'granted') {
      if (e.epoch !== last + 1) problems.push(`epoch ${e.epoch} granted after epoch ${last}`);
      if (open)
        problems.push(`epoch ${e.epoch} granted at index ${e.index} while epoch ${open.epoch} was open`);
      if (e.at < lastUntil)
        problems.push(`epoch ${e.epoch} granted at ${e.at}, before the last lease ended (${lastUntil})`);
      last = e.epoch;
      open = e;
    } else if (e.kind === 'ended') {
      if (!open || open.epoch !== e.epoch)
        problems.push(`epoch ${e.epoch} ended at index ${e.index} without being open`);
      lastUntil = e.until ?? e.at;
      open = null;
    }
  }
  return problems;
}

/**
 * Every write the agents saw applied (ok, with its log index and time) lies
 * within its epoch's tenure: after the grant, before the end, and no later
 * than the lease's last moment.
 */
export function writeProblems(writes: readonly Line[], events: readonly TaskEvent[]): string[] {
  const byEpoch = tenures(events);
  const problems: string[] = [];
  for (const w of writes.filter((l) => l.ok === true)) {
    const t = byEpoch.get(w.epoch as number);
    const where = `${String(w.candidate)}'s write of step ${String(w.step)} (epoch ${String(w.epoch)}, index ${String(w.index)})`;
    if (!t) problems.push(`${where}: no grant of that epoch in the history`);
    else if ((w.index as number) < t.granted.index) problems.push(`${where}: before its grant`);
    else if (t.ended && (w.index as number) > t.ended.index)
      problems.push(`${where}: after its tenure ended`);
    else if (t.ended && (w.at as number) > (t.ended.until ?? t.ended.at))
      problems.push(`${where}: at ${String(w.at)}, after its lease ended (${String(t.ended.until)})`);
  }
  return problems;
}
