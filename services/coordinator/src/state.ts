/**
 * The coordinator's replicated records and the transitions of a task's
 * tenure: grant, end, expire, select. Every function here is deterministic
 * in (state, ctx): ctx.now is the replicated time of the command being
 * applied, never a clock. Only these functions change a task's epoch,
 * holder or lease, so the invariants below hold wherever they are called.
 *
 * Invariants, per task:
 * - epoch only grows, by 1 per grant; a grant happens only while status is 'vacant';
 * - status === 'held' ⇔ holder !== null; the holder's `holding` counts it;
 * - while held, the lease is [grantedAt, leaseExpiresAt): an expiry is
 *   noticed by the first command at ctx.now ≥ leaseExpiresAt that settles
 *   the task, and the tenure then ends at leaseExpiresAt (event `until`),
 *   before any new grant; a tenure ended early (resign, human override,
 *   failure detection) ends at ctx.now. So two tenures never overlap.
 */
import type { Checkpoint, EndReason, ResolvedTaskOptions, TaskEvent, TaskStatus } from './types';
import { hasCapabilities, select } from './selection';

/** A registered candidate. */
export interface CandidateRecord {
  id: string;
  capabilities: Record<string, number>;
  load: number;
  holding: number;
  registeredAt: number;
}

/** A resource kept for a task (see ResourceView). */
export interface ResourceRecord {
  value: unknown;
  version: number;
  deleted: boolean;
  epoch: number;
  writer: string;
  writtenAt: number;
}

/** One task. Fields are documented on TaskView, which shows them. */
export interface TaskRecord {
  id: string;
  parent: string | null;
  children: string[];
  options: ResolvedTaskOptions;
  status: TaskStatus;
  /** A human paused this task itself (status is 'paused' while it or an ancestor is). */
  paused: boolean;
  epoch: number;
  holder: string | null;
  grantedAt: number;
  leaseExpiresAt: number;
  /** When the task last fell vacant: selection waits until vacantSince + gatherMs. */
  vacantSince: number;
  applicants: string[];
  designated: string | null;
  /** A human's designation waiting for resume()/approve() to hand the task over. */
  handoff: string | null;
  lastHolder: string | null;
  marker: string | number | null;
  idleRenewals: number;
  tokens: number;
  checkpoint: Checkpoint | null;
  checkpointSeq: number;
  awaiting: { checkpoint: number; holder: string | null } | null;
  lastEnd: { epoch: number; reason: EndReason; at: number; holder: string } | null;
  resources: Map<string, ResourceRecord>;
  events: TaskEvent[];
  eventSeq: number;
}

/** All replicated state of a Coordinator. */
export interface CoordinatorState {
  tasks: Map<string, TaskRecord>;
  candidates: Map<string, CandidateRecord>;
}

/** What a transition needs to know of the command being applied. */
export interface ApplyCtx {
  readonly now: number;
  readonly index: number;
  readonly historyLimit: number;
}

/** Appends an event to a task's bounded history, dropping the oldest past historyLimit. */
export function recordEvent(
  t: TaskRecord,
  ctx: ApplyCtx,
  event: Pick<TaskEvent, 'kind' | 'epoch'> & Partial<Omit<TaskEvent, 'seq' | 'at' | 'index'>>,
): void {
  t.events.push({
    seq: ++t.eventSeq,
    at: ctx.now,
    index: ctx.index,
    candidate: null,
    by: null,
    reason: null,
    until: null,
    expiresAt: null,
    checkpoint: null,
    summary: null,
    ...event,
  });
  if (t.events.length > ctx.historyLimit) t.events.splice(0, t.events.length - ctx.historyLimit);
}

/** The end of a lease renewed at `now`: leaseMs later, capped by the tenure's time budget. */
export function leaseEnd(t: TaskRecord, now: number): number {
  const end = now + t.options.leaseMs;
  const budget = t.options.budget.ms;
  return budget === null ? end : Math.min(end, t.grantedAt + budget);
}

/**
 * Starts epoch + 1 with `candidate` as coordinator, from ctx.now.
 * Precondition: status 'vacant' and candidate registered.
 */
export function grant(s: CoordinatorState, t: TaskRecord, candidate: string, ctx: ApplyCtx): void {
  t.epoch += 1;
  t.holder = candidate;
  t.status = 'held';
  t.grantedAt = ctx.now;
  t.leaseExpiresAt = leaseEnd(t, ctx.now);
  t.marker = null;
  t.idleRenewals = 0;
  t.tokens = 0;
  t.lastHolder = candidate;
  t.applicants = t.applicants.filter((a) => a !== candidate);
  s.candidates.get(candidate)!.holding += 1;
  recordEvent(t, ctx, { kind: 'granted', epoch: t.epoch, candidate, expiresAt: t.leaseExpiresAt });
}

/**
 * Ends the current tenure for `reason`: at its lease's expiry when that
 * has passed, else now. The task becomes 'paused' (reason 'paused'),
 * 'awaiting-approval' (reason 'approval'), or 'vacant'.
 * Precondition: status 'held'.
 */
export function endTenure(
  s: CoordinatorState,
  t: TaskRecord,
  reason: EndReason,
  ctx: ApplyCtx,
  by: string | null = null,
  summary: string | null = null,
): void {
  const holder = t.holder!;
  const until = Math.min(t.leaseExpiresAt, ctx.now);
  const c = s.candidates.get(holder);
  if (c) c.holding -= 1;
  t.lastEnd = { epoch: t.epoch, reason, at: ctx.now, holder };
  t.holder = null;
  t.status = reason === 'paused' ? 'paused' : reason === 'approval' ? 'awaiting-approval' : 'vacant';
  t.vacantSince = until;
  recordEvent(t, ctx, { kind: 'ended', epoch: t.epoch, candidate: holder, by, reason, until, summary });
}

/**
 * Ends a held tenure whose lease has run out at ctx.now ('over-budget'
 * when the time budget capped it, else 'expired').
 * @returns the reason, or null when nothing expired
 */
export function expireIfDue(s: CoordinatorState, t: TaskRecord, ctx: ApplyCtx): EndReason | null {
  if (t.status !== 'held' || ctx.now < t.leaseExpiresAt) return null;
  const budget = t.options.budget.ms;
  const reason = budget !== null && t.leaseExpiresAt >= t.grantedAt + budget ? 'over-budget' : 'expired';
  endTenure(s, t, reason, ctx);
  return reason;
}

/**
 * Grants a vacant task to the applicant its policy selects, once gatherMs
 * have passed since it fell vacant.
 * @returns the new holder, or null when nobody was granted
 */
export function selectIfDue(s: CoordinatorState, t: TaskRecord, ctx: ApplyCtx): string | null {
  if (t.status !== 'vacant' || ctx.now < t.vacantSince + t.options.gatherMs) return null;
  const applicants = t.applicants.flatMap((id) => {
    const c = s.candidates.get(id);
    return c && hasCapabilities(c.capabilities, t.options.requires) ? [c] : [];
  });
  const winner = select({
    policy: t.options.policy,
    task: t.id,
    epoch: t.epoch + 1,
    requires: t.options.requires,
    designated: t.designated,
    lastHolder: t.lastHolder,
    applicants,
  });
  if (winner !== null) grant(s, t, winner, ctx);
  return winner;
}

/** Expires and selects as ctx.now requires: every command runs it on the tasks it touches before deciding. */
export function settle(
  s: CoordinatorState,
  t: TaskRecord,
  ctx: ApplyCtx,
): { ended: EndReason | null; granted: string | null } {
  const ended = expireIfDue(s, t, ctx);
  return { ended, granted: selectIfDue(s, t, ctx) };
}

/** The task and every descendant, parents before children (children in creation order). */
export function subtree(s: CoordinatorState, t: TaskRecord): TaskRecord[] {
  const out: TaskRecord[] = [];
  const stack = [t];
  while (stack.length > 0) {
    const next = stack.pop()!;
    out.push(next);
    for (let i = next.children.length - 1; i >= 0; i--) {
      const child = s.tasks.get(next.children[i]!);
      if (child) stack.push(child);
    }
  }
  return out;
}

/** Whether t or one of its ancestors is paused by a human. */
export function isPaused(s: CoordinatorState, t: TaskRecord): boolean {
  for (let at: TaskRecord | undefined = t; at; at = at.parent === null ? undefined : s.tasks.get(at.parent)) {
    if (at.paused) return true;
  }
  return false;
}

/** Depth of t: 0 for a root task. */
export function depthOf(s: CoordinatorState, t: TaskRecord): number {
  let depth = 0;
  for (let at = t; at.parent !== null; depth++) {
    const parent = s.tasks.get(at.parent);
    if (!parent) break;
    at = parent;
  }
  return depth;
}
