/**
 * Records as callers see them (fresh plain copies: a result is kept for
 * exactly-once retries and must not change with the state), and the
 * refusals commands return.
 */
import type { Refusal, RefusalName } from './results';
import type { CandidateRecord, ResourceRecord, TaskRecord } from './state';
import type {
  CandidateView,
  Checkpoint,
  CheckpointMeta,
  EndReason,
  Lease,
  ResourceView,
  TaskView,
} from './types';

/** Bytes of a checkpoint state or summary: UTF-8 for a string. */
export function byteSize(value: string | Uint8Array): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
}

export function checkpointMeta(c: Checkpoint): CheckpointMeta {
  return {
    seq: c.seq,
    epoch: c.epoch,
    by: c.by,
    at: c.at,
    index: c.index,
    summary: c.summary,
    bytes: byteSize(c.state),
  };
}

export function leaseOf(t: TaskRecord): Lease {
  return {
    task: t.id,
    epoch: t.epoch,
    holder: t.holder!,
    grantedAt: t.grantedAt,
    expiresAt: t.leaseExpiresAt,
  };
}

export function taskView(t: TaskRecord, asOf: number): TaskView {
  const o = t.options;
  return {
    id: t.id,
    parent: t.parent,
    children: [...t.children],
    options: { ...o, requires: [...o.requires], budget: { ...o.budget } },
    status: t.status,
    epoch: t.epoch,
    holder: t.holder,
    grantedAt: t.grantedAt,
    leaseExpiresAt: t.leaseExpiresAt,
    applicants: [...t.applicants],
    designated: t.designated,
    checkpoint: t.checkpoint ? checkpointMeta(t.checkpoint) : null,
    awaiting: t.awaiting ? { ...t.awaiting } : null,
    lastEnd: t.lastEnd ? { epoch: t.lastEnd.epoch, reason: t.lastEnd.reason, at: t.lastEnd.at } : null,
    paused: t.paused,
    asOf,
  };
}

export function candidateView(c: CandidateRecord): CandidateView {
  return {
    id: c.id,
    capabilities: { ...c.capabilities },
    load: c.load,
    holding: c.holding,
    registeredAt: c.registeredAt,
  };
}

export function resourceView(task: string, name: string, r: ResourceRecord): ResourceView {
  return {
    task,
    name,
    value: r.value,
    version: r.version,
    deleted: r.deleted,
    epoch: r.epoch,
    writer: r.writer,
    writtenAt: r.writtenAt,
  };
}

/** A refusal, with the task's current epoch and holder when there is a task. */
export function refusal(
  error: RefusalName,
  message: string,
  ctx: { readonly now: number; readonly index: number },
  t: TaskRecord | null = null,
  reason: EndReason | null = null,
  task: string | null = t?.id ?? null,
): Refusal {
  return {
    ok: false,
    error,
    message,
    task,
    epoch: t ? t.epoch : null,
    holder: t ? t.holder : null,
    reason,
    at: ctx.now,
    index: ctx.index,
  };
}

/**
 * The fence: whether `epoch` holds task t at the command `at` (after it settled t).
 * @returns null when it does; otherwise the refusal that says why not:
 *   NotCoordinatorError (never granted, or ended by resigning or a human),
 *   StaleEpochError (superseded), LeaseExpiredError (expired, stuck,
 *   over budget), TaskPausedError, AwaitingApprovalError
 */
export function fenceRefusal(
  t: TaskRecord,
  epoch: number,
  at: { readonly now: number; readonly index: number },
): Refusal | null {
  if (epoch > t.epoch) {
    return refusal(
      'NotCoordinatorError',
      `task ${t.id}: epoch ${epoch} was never granted (current ${t.epoch})`,
      at,
      t,
    );
  }
  const ended = t.lastEnd?.epoch === epoch ? t.lastEnd.reason : null;
  if (epoch < t.epoch) {
    return refusal(
      'StaleEpochError',
      `task ${t.id}: epoch ${epoch} is stale; epoch ${t.epoch} was granted${t.holder ? ` to ${t.holder}` : ''}`,
      at,
      t,
      ended,
    );
  }
  if (t.status === 'held') return null;
  const why = `task ${t.id}: epoch ${epoch} ended (${ended ?? 'unknown'})`;
  if (t.status === 'paused') return refusal('TaskPausedError', `${why}; the task is paused`, at, t, ended);
  if (t.status === 'awaiting-approval') {
    return refusal(
      'AwaitingApprovalError',
      `${why}; checkpoint ${t.awaiting?.checkpoint} awaits approval`,
      at,
      t,
      ended,
    );
  }
  if (ended === 'expired' || ended === 'stuck' || ended === 'over-budget') {
    return refusal('LeaseExpiredError', `${why}: its lease is over`, at, t, ended);
  }
  return refusal('NotCoordinatorError', why, at, t, ended);
}
