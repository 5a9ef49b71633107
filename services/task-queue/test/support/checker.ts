// The model checker of the task queue's guarantees, over what clients saw
// (a history) and the queue's final state. It only draws conclusions that
// hold whatever the calls of unknown outcome did: a claim nobody heard of
// hands a lease to nobody, and a call of unknown outcome may have ended a
// lease sooner (an ack, a nack) or later (an extend) than the history
// shows, so the checks that need a lease's end skip leases that had one.
import type { JobInfo } from '../../src/index';

/** A claim whose answer a worker received: it believes it holds the job over [claimedAt, expiry). */
export interface ClaimSeen {
  readonly jobId: string;
  readonly worker: string;
  readonly token: number;
  readonly attempt: number;
  readonly claimedAt: number;
  readonly expiresAt: number;
}

/** An extend, ack or nack the queue accepted, as its answer said, at replicated time `at`. */
export interface AcceptedOp {
  readonly kind: 'extend' | 'ack' | 'nack';
  readonly jobId: string;
  readonly token: number;
  readonly at: number;
  /** For an extend: the new expiry. */
  readonly expiresAt?: number;
}

/** What the producers and workers of one run saw. */
export interface History {
  /** Every job id an enqueue (or enqueueMany) answered with. */
  readonly enqueued: Set<string>;
  readonly claims: ClaimSeen[];
  readonly accepted: AcceptedOp[];
  /** `${jobId}:${token}` of every lease with an extend, ack or nack of unknown outcome. */
  readonly uncertain: Set<string>;
  /** `${jobId}:${token}` of every ack sent (whatever became of it), with the result it carried. */
  readonly acksSent: Map<string, unknown>;
}

export function emptyHistory(): History {
  return { enqueued: new Set(), claims: [], accepted: [], uncertain: new Set(), acksSent: new Map() };
}

/** The result a worker acks with under token: it names the lease, so the final state tells who completed. */
export const resultOf = (jobId: string, token: number): string => `${jobId}:${token}`;

/**
 * Every violation of the guarantees, one line each; empty when none.
 * @param final every enqueued job as the queue holds it at the end (null: not found)
 * @param drained whether the run gave the workers time to finish every job
 *   (then a job still waiting is a liveness failure)
 */
export function checkHistory(
  h: History,
  final: ReadonlyMap<string, JobInfo | null>,
  drained: boolean,
): string[] {
  const problems: string[] = [];
  const byJob = new Map<string, { claims: ClaimSeen[]; ops: AcceptedOp[] }>();
  const of = (id: string) => {
    let e = byJob.get(id);
    if (!e) byJob.set(id, (e = { claims: [], ops: [] }));
    return e;
  };
  for (const c of h.claims) of(c.jobId).claims.push(c);
  for (const op of h.accepted) of(op.jobId).ops.push(op);

  // No job lost: every acknowledged enqueue is still there, finished once the run drained.
  for (const id of h.enqueued) {
    const job = final.get(id);
    if (!job) problems.push(`job ${id}: lost (enqueue answered ${id}, the queue does not hold it)`);
    else if (drained && job.state !== 'done' && job.state !== 'dead') {
      problems.push(`job ${id}: still ${job.state} after the drain`);
    }
  }

  for (const [id, { claims, ops }] of byJob) {
    claims.sort((a, b) => a.token - b.token);
    const job = final.get(id) ?? null;
    problems.push(...leaseProblems(id, claims, ops, h.uncertain));
    problems.push(...completionProblems(id, claims, ops, job, h));
  }
  return problems;
}

/** At most one unexpired lease per job at any time, and only its token accepted. */
function leaseProblems(id: string, claims: ClaimSeen[], ops: AcceptedOp[], uncertain: Set<string>): string[] {
  const problems: string[] = [];
  const opsOf = (token: number) => ops.filter((o) => o.token === token).sort((a, b) => a.at - b.at);
  /** When the lease of c ended, as far as the answers tell (it may have lasted longer only by an unknown extend). */
  const knownEnd = (c: ClaimSeen): number => {
    const mine = opsOf(c.token);
    const last = mine.find((o) => o.kind !== 'extend');
    if (last) return last.at;
    return Math.max(c.expiresAt, ...mine.map((o) => o.expiresAt ?? 0));
  };
  for (let i = 0; i < claims.length; i++) {
    const c = claims[i]!;
    const next = claims[i + 1];
    if (next && next.attempt <= c.attempt) {
      problems.push(
        `job ${id}: claim under token ${next.token} is attempt ${next.attempt}, after attempt ${c.attempt}`,
      );
    }
    // A call of unknown outcome may have ended c's lease sooner (an ack, a nack) or later (an extend).
    if (next && !uncertain.has(`${id}:${c.token}`) && next.claimedAt < knownEnd(c)) {
      problems.push(
        `job ${id}: leased to ${next.worker} (token ${next.token}) at ${next.claimedAt}, ` +
          `while ${c.worker}'s lease (token ${c.token}) ran until ${knownEnd(c)}`,
      );
    }
    // Every accepted call under c's token came while c's lease was current.
    let expiry = c.expiresAt;
    let ended = false;
    for (const op of opsOf(c.token)) {
      const where = `job ${id}: ${op.kind} under token ${c.token} accepted at ${op.at}`;
      if (ended) problems.push(`${where}, after the lease ended by an accepted ack or nack`);
      if (op.at < c.claimedAt) problems.push(`${where}, before the claim at ${c.claimedAt}`);
      if (op.at >= expiry && !uncertain.has(`${id}:${c.token}`)) {
        problems.push(`${where}, when the lease had expired at ${expiry}`);
      }
      const newer = claims.find((n) => n.token > c.token && n.claimedAt < op.at);
      if (newer)
        problems.push(
          `${where}, after token ${newer.token} was handed to ${newer.worker} at ${newer.claimedAt}`,
        );
      if (op.kind === 'extend') expiry = Math.max(expiry, op.expiresAt!);
      else ended = true;
    }
  }
  const known = new Set(claims.map((c) => c.token));
  for (const op of ops) {
    if (!known.has(op.token))
      problems.push(`job ${id}: ${op.kind} accepted under token ${op.token}, which no claim gave`);
  }
  return problems;
}

/** A job is completed at most once, by an ack under a token a claim gave, and the final state agrees. */
function completionProblems(
  id: string,
  claims: ClaimSeen[],
  ops: AcceptedOp[],
  job: JobInfo | null,
  h: History,
): string[] {
  const problems: string[] = [];
  const acks = ops.filter((o) => o.kind === 'ack');
  if (acks.length > 1) {
    problems.push(
      `job ${id}: completed ${acks.length} times (acks under tokens ${acks.map((a) => a.token).join(', ')})`,
    );
  }
  if (!job) return problems;
  if (acks.length > 0 && job.state !== 'done') {
    problems.push(
      `job ${id}: an ack was accepted under token ${acks[0]!.token}, but the job is ${job.state}`,
    );
  }
  if (acks.length > 0 && job.state === 'done' && job.result !== resultOf(id, acks[0]!.token)) {
    problems.push(
      `job ${id}: acked under token ${acks[0]!.token}, but done with result ${String(job.result)}`,
    );
  }
  if (job.state === 'done') {
    const sent = [...h.acksSent].some(
      ([lease, result]) => lease.startsWith(`${id}:`) && result === job.result,
    );
    if (!sent) problems.push(`job ${id}: done with result ${String(job.result)}, which no worker sent`);
  }
  if (claims.length > job.maxAttempts || claims.some((c) => c.attempt > job.maxAttempts)) {
    problems.push(`job ${id}: claimed beyond its ${job.maxAttempts} attempts`);
  }
  if (claims.length > job.attempts) {
    problems.push(`job ${id}: ${claims.length} claims seen, the job counts ${job.attempts} attempts`);
  }
  return problems;
}
