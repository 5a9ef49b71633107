/**
 * Candidates and tasks coming and going, and tick(): register,
 * unregister, createTask, removeTask. See holder-ops.ts for what
 * coordinators do and human-ops.ts for what humans do.
 */
import type { OpCtx } from './holder-ops';
import { DEFAULT_LEASE_MS } from './options';
import type { RegisterResult, RemoveResult, TaskResult, TickResult, UnregisterResult } from './results';
import {
  depthOf,
  endTenure,
  isPaused,
  recordEvent,
  selectIfDue,
  settle,
  type CoordinatorState,
  type TaskRecord,
} from './state';
import type { CandidateInfo, EndReason, ResolvedTaskOptions, TaskOptions } from './types';
import { candidateView, fenceRefusal, refusal, taskView } from './views';

/** Subtasks nest at most this deep (a root task is at depth 0). */
export const MAX_DEPTH = 16;

/** Registers candidate, or updates its capabilities and load. */
export function register(
  s: CoordinatorState,
  ctx: OpCtx,
  candidate: string,
  info: CandidateInfo = {},
): RegisterResult {
  let c = s.candidates.get(candidate);
  if (!c) {
    if (s.candidates.size >= ctx.options.maxCandidates) {
      return refusal(
        'LimitExceededError',
        `${s.candidates.size} candidates are registered (maxCandidates)`,
        ctx,
      );
    }
    c = { id: candidate, capabilities: {}, load: 0, holding: 0, registeredAt: ctx.now };
    s.candidates.set(candidate, c);
  }
  if (info.capabilities !== undefined) c.capabilities = { ...info.capabilities };
  if (info.load !== undefined) c.load = info.load;
  return { ok: true, at: ctx.now, index: ctx.index, candidate: candidateView(c) };
}

/**
 * Removes candidate: it leaves every task's applicants, and every tenure
 * it holds ends ('unregistered'), each task selecting its next coordinator.
 * Visits every task.
 */
export function unregister(s: CoordinatorState, ctx: OpCtx, candidate: string): UnregisterResult {
  if (!s.candidates.has(candidate)) {
    return refusal('UnknownCandidateError', `candidate ${candidate} is not registered`, ctx);
  }
  const ended: string[] = [];
  for (const [id, t] of s.tasks) {
    t.applicants = t.applicants.filter((a) => a !== candidate);
    if (t.awaiting?.holder === candidate) t.awaiting.holder = null;
    if (t.handoff === candidate) t.handoff = null;
    if (t.holder === candidate) {
      endTenure(s, t, 'unregistered', ctx);
      ended.push(id);
    }
  }
  s.candidates.delete(candidate);
  for (const id of ended) selectIfDue(s, s.tasks.get(id)!, ctx);
  return { ok: true, at: ctx.now, index: ctx.index, ended };
}

function resolveTaskOptions(o: TaskOptions): ResolvedTaskOptions {
  return {
    policy: o.policy ?? 'first',
    leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS,
    requires: [...new Set(o.requires ?? [])],
    stuckAfterRenewals: o.stuckAfterRenewals ?? 0,
    budget: { ms: o.budget?.ms ?? null, tokens: o.budget?.tokens ?? null },
    approval: o.approval ?? false,
    gatherMs: o.gatherMs ?? 0,
  };
}

/** The reason task options break the Coordinator's bounds, or undefined. */
export function taskOptionsProblem(
  o: TaskOptions | undefined,
  ctx: Pick<OpCtx, 'options'>,
): string | undefined {
  const leaseMs = o?.leaseMs ?? DEFAULT_LEASE_MS;
  if (leaseMs > ctx.options.maxLeaseMs)
    return `leaseMs (${leaseMs}) exceeds maxLeaseMs (${ctx.options.maxLeaseMs})`;
  return undefined;
}

/**
 * Creates a task, vacant (paused under a paused parent). A subtask names
 * its parent; with parentEpoch, only while that epoch holds the parent.
 */
export function createTask(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  options: TaskOptions = {},
): TaskResult {
  if (s.tasks.has(task)) return refusal('TaskExistsError', `task ${task} exists`, ctx, s.tasks.get(task)!);
  if (s.tasks.size >= ctx.options.maxTasks) {
    return refusal('LimitExceededError', `${s.tasks.size} tasks exist (maxTasks)`, ctx, null, null, task);
  }
  const problem = taskOptionsProblem(options, ctx);
  if (problem) return refusal('LimitExceededError', `task ${task}: ${problem}`, ctx, null, null, task);
  let parent: TaskRecord | undefined;
  if (options.parent !== undefined) {
    parent = s.tasks.get(options.parent);
    if (!parent)
      return refusal('UnknownTaskError', `no parent task ${options.parent}`, ctx, null, null, options.parent);
    if (depthOf(s, parent) + 1 > MAX_DEPTH) {
      return refusal('LimitExceededError', `task ${task} would nest deeper than ${MAX_DEPTH}`, ctx, parent);
    }
    if (options.parentEpoch !== undefined) {
      settle(s, parent, ctx);
      const fenced = fenceRefusal(parent, options.parentEpoch, ctx);
      if (fenced) return fenced;
    }
  }
  const t: TaskRecord = {
    id: task,
    parent: parent?.id ?? null,
    children: [],
    options: resolveTaskOptions(options),
    status: parent && isPaused(s, parent) ? 'paused' : 'vacant',
    paused: false,
    epoch: 0,
    holder: null,
    grantedAt: 0,
    leaseExpiresAt: 0,
    vacantSince: ctx.now,
    applicants: [],
    designated: options.designated ?? null,
    handoff: null,
    lastHolder: null,
    marker: null,
    idleRenewals: 0,
    tokens: 0,
    checkpoint: null,
    checkpointSeq: 0,
    awaiting: null,
    lastEnd: null,
    resources: new Map(),
    events: [],
    eventSeq: 0,
  };
  s.tasks.set(task, t);
  parent?.children.push(task);
  recordEvent(t, ctx, { kind: 'created', epoch: 0 });
  if (t.designated !== null) recordEvent(t, ctx, { kind: 'designated', epoch: 0, candidate: t.designated });
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}

/** Removes a task without subtasks, with its resources and history; a held tenure ends ('revoked'). */
export function removeTask(s: CoordinatorState, ctx: OpCtx, task: string, by: string): RemoveResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  if (t.children.length > 0) {
    return refusal('TaskNotEmptyError', `task ${task} has subtasks: ${t.children.join(', ')}`, ctx, t);
  }
  if (t.status === 'held') endTenure(s, t, 'revoked', ctx, by);
  const parent = t.parent === null ? undefined : s.tasks.get(t.parent);
  if (parent) parent.children = parent.children.filter((c) => c !== task);
  s.tasks.delete(task);
  return { ok: true, at: ctx.now, index: ctx.index, removed: task };
}

/**
 * Settles every task at this command's time, in creation order (the Map's
 * insertion order, which snapshots keep): the way leases
 * expire and vacancies fill when no other command touches a task. Visits
 * every task; send it about once per the shortest lease.
 */
export function tick(s: CoordinatorState, ctx: OpCtx): TickResult {
  const ended: { task: string; epoch: number; reason: EndReason }[] = [];
  const granted: { task: string; epoch: number; holder: string }[] = [];
  for (const [id, t] of s.tasks) {
    const epoch = t.epoch;
    const r = settle(s, t, ctx);
    if (r.ended) ended.push({ task: id, epoch, reason: r.ended });
    if (r.granted) granted.push({ task: id, epoch: t.epoch, holder: r.granted });
  }
  return { ok: true, at: ctx.now, index: ctx.index, ended, granted };
}
