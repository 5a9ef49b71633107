/**
 * Human control: designate, revoke, pause, resume, approve. Each names the
 * human (`by`) for the task's history. An override that takes a task from
 * its coordinator ends that tenure at once and starts a new epoch for the
 * next one, so whatever the old coordinator still sends is refused by the
 * fence. Who may call these is a matter of NATS permissions, not of the machine.
 */
import type { OpCtx } from './holder-ops';
import type { TaskResult } from './results';
import {
  endTenure,
  expireIfDue,
  grant,
  isPaused,
  recordEvent,
  selectIfDue,
  subtree,
  type CoordinatorState,
} from './state';
import { refusal, taskView } from './views';

/**
 * Designates candidate as the task's coordinator: it holds the task at
 * once (a new epoch; the current tenure ends, 'overridden'), or, while the
 * task is paused or awaiting approval, as soon as resume()/approve() lets
 * it. Under the 'designated' policy it stays the only candidate selected later.
 * Designating the current holder changes nothing but the designation.
 * Like every human operation, it first ends a lease that has expired, but
 * selects nobody before doing what the human asked.
 */
export function designate(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  candidate: string,
  by: string,
): TaskResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  if (!s.candidates.has(candidate)) {
    return refusal('UnknownCandidateError', `candidate ${candidate} is not registered`, ctx, t);
  }
  expireIfDue(s, t, ctx);
  t.designated = candidate;
  recordEvent(t, ctx, { kind: 'designated', epoch: t.epoch, candidate, by });
  if (t.status === 'paused' || t.status === 'awaiting-approval') {
    t.handoff = candidate;
  } else if (t.holder !== candidate) {
    if (t.status === 'held') endTenure(s, t, 'overridden', ctx, by);
    grant(s, t, candidate, ctx);
  }
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}

/**
 * Takes the task from its coordinator: the tenure ends ('revoked') and the
 * next coordinator is selected among the applicants (the revoked one is not
 * among them unless it campaigns again). While awaiting approval, the
 * waiting coordinator will not be the one to continue.
 * A lease that had already expired just ends ('expired'); the result is ok.
 * @returns NotCoordinatorError when nobody holds or waits on the task
 */
export function revoke(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  by: string,
  reason?: string,
): TaskResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  const expired = expireIfDue(s, t, ctx);
  if (t.status === 'held') {
    const holder = t.holder!;
    endTenure(s, t, 'revoked', ctx, by, reason ?? null);
    if (t.designated === holder) t.designated = null;
    selectIfDue(s, t, ctx);
  } else if (expired !== null) {
    selectIfDue(s, t, ctx); // the lease had already run out: nothing left to take
  } else if (t.status === 'awaiting-approval' && t.awaiting?.holder) {
    if (t.designated === t.awaiting.holder) t.designated = null;
    t.awaiting.holder = null;
  } else {
    return refusal('NotCoordinatorError', `task ${task} has no coordinator to revoke (${t.status})`, ctx, t);
  }
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}

/**
 * Pauses the task and its subtasks: every tenure among them ends
 * ('paused') and nobody is selected until resume(). Pausing a paused task changes nothing.
 */
export function pause(s: CoordinatorState, ctx: OpCtx, task: string, by: string): TaskResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  if (!t.paused) {
    t.paused = true;
    for (const d of subtree(s, t)) {
      expireIfDue(s, d, ctx);
      if (d.status === 'held') endTenure(s, d, 'paused', ctx, by);
      else d.status = 'paused';
      recordEvent(d, ctx, { kind: 'paused', epoch: d.epoch, by });
    }
  }
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}

/**
 * Resumes a task a human paused, and the subtasks that paused with it
 * (not those paused themselves, nor any while an ancestor stays paused):
 * each goes back to waiting for approval if it was, else falls vacant and
 * is handed to a pending designation or selected. Resuming a task that is
 * not paused itself changes nothing.
 */
export function resume(s: CoordinatorState, ctx: OpCtx, task: string, by: string): TaskResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  if (t.paused) {
    t.paused = false;
    if (!isPaused(s, t)) {
      const stack = [t];
      while (stack.length > 0) {
        const d = stack.pop()!;
        d.status = d.awaiting ? 'awaiting-approval' : 'vacant';
        d.vacantSince = ctx.now;
        recordEvent(d, ctx, { kind: 'resumed', epoch: d.epoch, by });
        if (d.status === 'vacant' && d.handoff !== null && s.candidates.has(d.handoff)) {
          grant(s, d, d.handoff, ctx);
          d.handoff = null;
        } else selectIfDue(s, d, ctx);
        for (let i = d.children.length - 1; i >= 0; i--) {
          const child = s.tasks.get(d.children[i]!);
          if (child && !child.paused) stack.push(child);
        }
      }
    }
  }
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}

/**
 * Approves checkpoint `seq` of a task awaiting approval: a new epoch
 * starts, so whatever was sent under the earlier one is void. It goes to
 * `next` if given, else to a pending designation, else to the coordinator
 * that wrote the checkpoint (if it still waits), else to the policy's choice.
 * @returns NotAwaitingApprovalError when the task waits for no approval or for another checkpoint
 */
export function approve(
  s: CoordinatorState,
  ctx: OpCtx,
  task: string,
  seq: number,
  by: string,
  next?: string,
): TaskResult {
  const t = s.tasks.get(task);
  if (!t) return refusal('UnknownTaskError', `no task ${task}`, ctx, null, null, task);
  expireIfDue(s, t, ctx);
  if (t.status === 'paused') return refusal('TaskPausedError', `task ${task} is paused`, ctx, t);
  if (t.status !== 'awaiting-approval' || !t.awaiting) {
    return refusal('NotAwaitingApprovalError', `task ${task} awaits no approval (${t.status})`, ctx, t);
  }
  if (t.awaiting.checkpoint !== seq) {
    return refusal(
      'NotAwaitingApprovalError',
      `task ${task} awaits approval of checkpoint ${t.awaiting.checkpoint}, not ${seq}`,
      ctx,
      t,
    );
  }
  if (next !== undefined && !s.candidates.has(next)) {
    return refusal('UnknownCandidateError', `candidate ${next} is not registered`, ctx, t);
  }
  const continuing =
    t.awaiting.holder !== null && s.candidates.has(t.awaiting.holder) ? t.awaiting.holder : null;
  const handoff = t.handoff !== null && s.candidates.has(t.handoff) ? t.handoff : null;
  const target = next ?? handoff ?? continuing;
  t.awaiting = null;
  t.handoff = null;
  t.status = 'vacant';
  t.vacantSince = ctx.now;
  recordEvent(t, ctx, { kind: 'approved', epoch: t.epoch, by, checkpoint: seq, candidate: target });
  if (target !== null) grant(s, t, target, ctx);
  else selectIfDue(s, t, ctx);
  return { ok: true, at: ctx.now, index: ctx.index, task: taskView(t, ctx.now) };
}
