/**
 * Snapshots of the task queue hold the job records and the queues'
 * settings, nothing derived: restoreStore() rebuilds every index (heaps,
 * counts, dedup keys, timers) from the records. The rebuilt indexes order
 * jobs exactly as the originals (every heap is totally ordered by unique
 * keys, the finished lists by finishSeq), so a restored replica makes the
 * same moves as one that applied the whole log. Done and dead jobs are
 * pruned by the queues' keep bounds, so a snapshot's size follows the
 * live jobs plus those bounds.
 */
import { DecodeError } from '@raftline/core';
import { QueueState, TIMER, timerId, type JobRecord } from './records';
import { JobStore } from './store';
import { JOB_STATES, type QueueSettings } from './types';

/** Format version of StoreSnapshot: bump when its layout changes. */
const SNAPSHOT_VERSION = 1;

/** What snapshotState() returns: plain data. */
export interface StoreSnapshot {
  readonly version: number;
  readonly now: number;
  readonly nextSeq: number;
  readonly finishCount: number;
  /** [name, settings, paused], in the order the queues were first named. */
  readonly queues: readonly (readonly [string, QueueSettings, boolean])[];
  /** Every job record as a row of JOB_FIELDS, in seq order. */
  readonly jobs: readonly unknown[][];
}

/** The fields of a job row, in order: a row is a record without its keys (a third of the bytes). */
const JOB_FIELDS = [
  'seq',
  'queue',
  'state',
  'payload',
  'priority',
  'attempts',
  'maxAttempts',
  'backoff',
  'dedupKey',
  'enqueuedAt',
  'readyAt',
  'deadline',
  'lease',
  'lastError',
  'result',
  'finishedAt',
  'finishSeq',
  'pruneAt',
  'deadReason',
] as const satisfies readonly (keyof JobRecord)[];

// Every field of JobRecord is in JOB_FIELDS (the compiler refuses this line otherwise).
const _everyField: Exclude<keyof JobRecord, (typeof JOB_FIELDS)[number]> extends never ? true : never = true;
void _everyField;

function rowOf(job: JobRecord): unknown[] {
  return JOB_FIELDS.map((f) => job[f]);
}

function recordOf(row: unknown): JobRecord {
  if (!Array.isArray(row) || row.length !== JOB_FIELDS.length) {
    throw new DecodeError(
      `task queue: a snapshot job row has ${Array.isArray(row) ? row.length : 'no'} fields`,
    );
  }
  const job: Record<string, unknown> = {};
  JOB_FIELDS.forEach((f, i) => (job[f] = row[i]));
  return job as unknown as JobRecord;
}

/** The store as a snapshot (it shares references with the store: encode it at once). */
export function snapshotOf(store: JobStore): StoreSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    now: store.now,
    nextSeq: store.nextSeq,
    finishCount: store.finishCount,
    queues: [...store.queues.values()].map((q) => [q.name, q.settings, q.paused] as const),
    jobs: [...store.jobs.values()].map(rowOf),
  };
}

/**
 * A store holding what snapshot holds, every index rebuilt.
 * @throws DecodeError when snapshot is not a StoreSnapshot of this version
 */
export function restoreStore(snapshot: unknown, defaults: QueueSettings): JobStore {
  const s = snapshot as Partial<StoreSnapshot> | null;
  if (typeof s !== 'object' || s === null || s.version !== SNAPSHOT_VERSION) {
    const v = typeof s === 'object' && s !== null ? String(s.version) : typeof s;
    throw new DecodeError(`task queue: unsupported snapshot (version ${v}, expected ${SNAPSHOT_VERSION})`);
  }
  if (!Array.isArray(s.queues) || !Array.isArray(s.jobs) || typeof s.now !== 'number') {
    throw new DecodeError('task queue: snapshot lacks its queues, jobs or time');
  }
  const store = new JobStore(defaults);
  store.now = s.now;
  store.nextSeq = s.nextSeq ?? 1;
  store.finishCount = s.finishCount ?? 0;
  for (const [name, settings, paused] of s.queues) {
    const q = new QueueState(name, settings);
    q.paused = paused;
    store.queues.set(name, q);
  }
  const finished: JobRecord[] = [];
  for (const row of s.jobs) {
    const job = recordOf(row);
    const q = store.queues.get(job.queue);
    if (!q || !JOB_STATES.includes(job.state)) {
      throw new DecodeError(`task queue: snapshot job ${job.seq} has queue ${job.queue}, state ${job.state}`);
    }
    store.jobs.set(job.seq, job);
    q.members.add(job.seq);
    indexLive(store, q, job);
    if (job.state === 'done' || job.state === 'dead') finished.push(job);
  }
  finished.sort((a, b) => a.finishSeq! - b.finishSeq!);
  for (const job of finished) {
    const q = store.queues.get(job.queue)!;
    (job.state === 'done' ? q.done : q.dead).add(job.seq);
    store.timers.push(timerId(job.seq, TIMER.PRUNE), job.pruneAt!);
  }
  return store;
}

/** Indexes a delayed, ready or leased job (what the transitions into those states index). */
function indexLive(store: JobStore, q: QueueState, job: JobRecord): void {
  const waiting = job.state === 'ready' || job.state === 'delayed';
  if (job.state === 'ready') {
    q.ready.push(job.seq, job.priority);
    q.readySince.push(job.seq, job.readyAt);
  } else if (job.state === 'delayed') {
    q.delayed++;
    store.timers.push(timerId(job.seq, TIMER.DUE), job.readyAt);
  } else if (job.state === 'leased') {
    q.leased++;
    store.timers.push(timerId(job.seq, TIMER.LEASE), job.lease!.expiresAt);
  } else return;
  if (waiting && job.deadline !== null) store.timers.push(timerId(job.seq, TIMER.TTL), job.deadline);
  if (job.dedupKey !== null) q.dedup.set(job.dedupKey, job.seq);
}

/**
 * Every way the store's indexes differ from those its records imply, and
 * every record that breaks a job invariant; empty when all is well. For
 * tests: it rebuilds the whole store.
 */
export function auditProblems(store: JobStore): string[] {
  const problems: string[] = [];
  const rebuilt = restoreStore(snapshotOf(store), store.defaults);
  const sorted = (e: [number, number][]): string => JSON.stringify([...e].sort((a, b) => a[0] - b[0]));
  if (sorted(store.timers.entries()) !== sorted(rebuilt.timers.entries())) problems.push('timers differ');
  for (const [name, q] of store.queues) {
    const r = rebuilt.queues.get(name)!;
    const same = (what: string, a: unknown, b: unknown): void => {
      if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`queue ${name}: ${what} differ`);
    };
    same('ready', sorted(q.ready.entries()), sorted(r.ready.entries()));
    same('readySince', sorted(q.readySince.entries()), sorted(r.readySince.entries()));
    same('members', [...q.members], [...r.members]);
    same('done', [...q.done], [...r.done]);
    same('dead', [...q.dead], [...r.dead]);
    same('dedup', [...q.dedup].sort(), [...r.dedup].sort());
    same('counts', [q.delayed, q.leased], [r.delayed, r.leased]);
  }
  for (const job of store.jobs.values()) {
    const finished = job.state === 'done' || job.state === 'dead';
    if ((job.state === 'leased') !== (job.lease !== null)) problems.push(`job ${job.seq}: lease vs state`);
    if (finished !== (job.finishedAt !== null)) problems.push(`job ${job.seq}: finishedAt vs state`);
    if ((job.state === 'dead') !== (job.deadReason !== null)) problems.push(`job ${job.seq}: deadReason`);
    if (job.attempts > job.maxAttempts) problems.push(`job ${job.seq}: attempts beyond maxAttempts`);
    if (job.lease && job.lease.expiresAt <= store.now) problems.push(`job ${job.seq}: expired lease held`);
  }
  return problems;
}
