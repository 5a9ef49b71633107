/**
 * The operations of candidates and coordinators: campaign, withdraw,
 * renew, resign, checkpoint, and the guarded write act(). Each settles the
 * task at the command's replicated time first (an expired lease ends before
 * anything is decided), then fences: an operation naming an epoch goes
 * through only while that epoch holds the task with an unexpired lease.
 */
import { pack } from '@raftline/core';
import type { CoordinatorOptions } from './options';
import type {
  ActResult,
  CampaignResult,
  CheckpointResult,
  RenewResult,
  ResignResult,
  WithdrawResult,
} from './results';
import { hasCapabilities } from './selection';
import {
  endTenure,
  leaseEnd,
  recordEvent,
  selectIfDue,
  settle,
  type ApplyCtx,
  type CoordinatorState,
  type TaskRecord,
} from './state';
import type { Checkpoint, CheckpointInput, Progress, ResourceWrite } from './types';
import { byteSize, checkpointMeta, fenceRefusal, leaseOf, refusal, resourceView } from './views';

/** ApplyCtx plus the Coordinator's bounds. */
export interface OpCtx extends ApplyCtx {
  readonly options: Required<CoordinatorOptions>;
}

/** The reason a checkpoint is too large, or undefined. */
export function checkpointProblem(cp: CheckpointInput, o: Required<CoordinatorOptions>): string | undefined {
  const bytes = byteSize(cp.state);
  if (bytes > o.maxCheckpointBytes)
    return `checkpoint state is ${bytes} bytes; at most ${o.maxCheckpointBytes}`;
  const summary = byteSize(cp.summary ?? '');
  if (summary > o.maxSummaryBytes)
    return `checkpoint summary is ${summary} bytes; at most ${o.maxSummaryBytes}`;
  return undefined;
}

/** The reason a guarded write's value is too large (or not encodable), or undefined. */
export function writeProblem(write: ResourceWrite, o: Required<CoordinatorOptions>): string | undefined {
  if (write.op !== 'set') return undefined;
  let bytes: number;
  try {
    bytes = pack(write.value).byteLength;
  } catch (err) {
    return `value cannot be encoded: ${err instanceof Error ? err.message : String(err)}`;
  }
  return bytes > o.maxResourceBytes
    ? `value is ${bytes} bytes encoded; at most ${o.maxResourceBytes}`
    : undefined;
}

function storeCheckpoint(
  t: TaskRecord,
  epoch: number,
  by: string,
  cp: CheckpointInput,
  ctx: OpCtx,
): Checkpoint {
  const stored: Checkpoint = {
    seq: ++t.checkpointSeq,
    epoch,
    by,
    at: ctx.now,
    index: ctx.index,
    summary: cp.summary ?? '',
    state: cp.state,
  };
  t.checkpoint = stored;
  return stored;
}

/**
 * Joins the applicants of task (once) and, if the task is vacant, lets
 * its policy select now.
 * @returns 'elected' with the lease and the last checkpoint when candidate holds the task, else 'waiting'
 */
export function campaign(s: CoordinatorState, ctx: OpCtx, task: string, candidate: string): CampaignResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  const c = s.candidates.get(candidate);
  if (!c) return refusal('UnknownCandidateError', `candidate ${candidate} is not registered`, ctx, t);
  settle(s, t, ctx);
  if (t.holder !== candidate) {
    if (!hasCapabilities(c.capabilities, t.options.requires)) {
      const missing = t.options.requires.filter((r) => !Object.hasOwn(c.capabilities, r));
      return refusal(
        'IneligibleCandidateError',
        `candidate ${candidate} lacks ${missing.join(', ')} for task ${task}`,
        ctx,
        t,
      );
    }
    if (!t.applicants.includes(candidate)) {
      if (t.applicants.length >= ctx.options.maxApplicants) {
        return refusal(
          'LimitExceededError',
          `task ${task} has ${t.applicants.length} applicants (maxApplicants)`,
          ctx,
          t,
        );
      }
      t.applicants.push(candidate);
    }
    selectIfDue(s, t, ctx);
  }
  if (t.holder === candidate) {
    return {
      ok: true,
      at: ctx.now,
      index: ctx.index,
      status: 'elected',
      lease: leaseOf(t),
      checkpoint: t.checkpoint ? { ...t.checkpoint } : null,
    };
  }
  return {
    ok: true,
    at: ctx.now,
    index: ctx.index,
    status: 'waiting',
    taskStatus: t.status,
    epoch: t.epoch,
    holder: t.holder,
    position: t.applicants.indexOf(candidate),
  };
}

/** Leaves the applicants of task. @returns whether candidate was one */
export function withdraw(s: CoordinatorState, ctx: OpCtx, task: string, candidate: string): WithdrawResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  settle(s, t, ctx);
  const before = t.applicants.length;
  t.applicants = t.applicants.filter((a) => a !== candidate);
  return { ok: true, at: ctx.now, index: ctx.index, withdrawn: t.applicants.length < before };
}

/**
 * Extends epoch's lease to leaseMs from now (capped by the time budget),
 * after failure detection: tokens over budget end it ('over-budget'), and
 * the stuckAfterRenewals-th renewal in a row without a new progress marker
 * ends it ('stuck'); either way the refusal is LeaseExpiredError.
 */
export function renew(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  epoch: number,
  progress?: Progress,
): RenewResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  settle(s, t, ctx);
  const fenced = fenceRefusal(t, epoch, ctx);
  if (fenced) return fenced;
  if (progress?.tokens !== undefined) t.tokens = Math.max(t.tokens, progress.tokens);
  if (progress?.marker !== undefined && progress.marker !== t.marker) {
    t.marker = progress.marker;
    t.idleRenewals = 0;
  } else {
    t.idleRenewals += 1;
  }
  const { budget, stuckAfterRenewals } = t.options;
  const failure =
    budget.tokens !== null && t.tokens > budget.tokens
      ? 'over-budget'
      : stuckAfterRenewals > 0 && t.idleRenewals >= stuckAfterRenewals
        ? 'stuck'
        : null;
  if (failure) {
    endTenure(s, t, failure, ctx);
    selectIfDue(s, t, ctx);
    return fenceRefusal(t, epoch, ctx)!;
  }
  t.leaseExpiresAt = leaseEnd(t, ctx.now);
  return { ok: true, at: ctx.now, index: ctx.index, lease: leaseOf(t) };
}

/**
 * Ends epoch now, storing checkpoint first if given (on a task that needs
 * approval, a resignation with a checkpoint waits for approval), and
 * selects the next coordinator at once.
 */
export function resign(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  epoch: number,
  checkpoint?: CheckpointInput,
): ResignResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  settle(s, t, ctx);
  const fenced = fenceRefusal(t, epoch, ctx);
  if (fenced) return fenced;
  const problem = checkpoint && checkpointProblem(checkpoint, ctx.options);
  if (problem) return refusal('LimitExceededError', `task ${task}: ${problem}`, ctx, t);
  const holder = t.holder!;
  const stored = checkpoint ? storeCheckpoint(t, epoch, holder, checkpoint, ctx) : null;
  if (stored) recordCheckpointEvent(t, stored, ctx);
  endTenure(s, t, 'resigned', ctx);
  if (stored && t.options.approval) {
    t.status = 'awaiting-approval';
    t.awaiting = { checkpoint: stored.seq, holder: null };
  }
  selectIfDue(s, t, ctx);
  return {
    ok: true,
    at: ctx.now,
    index: ctx.index,
    epoch: t.epoch,
    holder: t.holder,
    checkpoint: stored ? checkpointMeta(stored) : null,
  };
}

function recordCheckpointEvent(t: TaskRecord, c: Checkpoint, ctx: OpCtx): void {
  recordEvent(t, ctx, {
    kind: 'checkpoint',
    epoch: c.epoch,
    candidate: c.by,
    checkpoint: c.seq,
    summary: c.summary,
  });
}

/**
 * Stores a checkpoint for the next coordinator (it counts as progress).
 * On a task that needs approval, epoch's lease ends ('approval') and the
 * task waits for approve(), which starts a new epoch.
 */
export function checkpoint(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  epoch: number,
  input: CheckpointInput,
): CheckpointResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  settle(s, t, ctx);
  const fenced = fenceRefusal(t, epoch, ctx);
  if (fenced) return fenced;
  const problem = checkpointProblem(input, ctx.options);
  if (problem) return refusal('LimitExceededError', `task ${task}: ${problem}`, ctx, t);
  const stored = storeCheckpoint(t, epoch, t.holder!, input, ctx);
  recordCheckpointEvent(t, stored, ctx);
  t.idleRenewals = 0;
  if (t.options.approval) {
    t.awaiting = { checkpoint: stored.seq, holder: t.holder };
    endTenure(s, t, 'approval', ctx);
  }
  return {
    ok: true,
    at: ctx.now,
    index: ctx.index,
    checkpoint: checkpointMeta(stored),
    awaitingApproval: t.options.approval,
  };
}

/**
 * The guarded write: applies write to the task's resource only while
 * epoch holds the task with a lease unexpired at this command's time, so a
 * stale coordinator's write is refused by the system. The resource keeps
 * the epoch of its last write (the highest fencing token it has seen).
 */
export function act(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  epoch: number,
  name: string,
  write: ResourceWrite,
): ActResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  settle(s, t, ctx);
  const fenced = fenceRefusal(t, epoch, ctx);
  if (fenced) return fenced;
  const existing = t.resources.get(name);
  const version = existing?.version ?? 0;
  if (write.ifVersion !== undefined && write.ifVersion !== version) {
    return refusal(
      'VersionMismatchError',
      `resource ${name} of task ${task} is at version ${version}, not ${write.ifVersion}`,
      ctx,
      t,
    );
  }
  const problem = writeProblem(write, ctx.options);
  if (problem) return refusal('LimitExceededError', `resource ${name} of task ${task}: ${problem}`, ctx, t);
  if (!existing && write.op === 'delete') {
    return {
      ok: true,
      at: ctx.now,
      index: ctx.index,
      resource: resourceView(task, name, {
        value: null,
        version: 0,
        deleted: true,
        epoch,
        writer: t.holder!,
        writtenAt: ctx.now,
      }),
    };
  }
  if (!existing && t.resources.size >= ctx.options.maxResources) {
    return refusal(
      'LimitExceededError',
      `task ${task} has ${t.resources.size} resources (maxResources)`,
      ctx,
      t,
    );
  }
  const next = {
    value: write.op === 'set' ? write.value : null,
    version: version + 1,
    deleted: write.op === 'delete',
    epoch,
    writer: t.holder!,
    writtenAt: ctx.now,
  };
  t.resources.set(name, next);
  return { ok: true, at: ctx.now, index: ctx.index, resource: resourceView(task, name, next) };
}
