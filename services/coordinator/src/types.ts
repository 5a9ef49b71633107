/**
 * The coordinator's public data: what a task is configured with, what the
 * commands return and what the queries answer. Every value here is plain
 * data (it travels in command results, the committed stream and snapshots);
 * absent values are null, never undefined.
 */

/**
 * How the next coordinator of a task is chosen among its applicants (the
 * registered candidates that campaigned for it and are not holding it),
 * after those lacking one of the task's required capabilities are left out.
 * Every policy decides from replicated data only, so every replica picks
 * the same candidate:
 * - 'first': the applicant that campaigned first (etcd's election order);
 * - 'designated': only the candidate a human designated; nobody else, ever;
 * - 'capability': the best score, the sum of the applicant's scores for the
 *   task's required capabilities (ties: campaign order);
 * - 'least-loaded': the smallest declared load plus tasks held (ties: campaign order);
 * - 'round-robin': the applicant whose id follows the last holder's, in id order, wrapping;
 * - 'random': seeded by the task id and the epoch being granted (FNV-1a),
 *   over the applicants in id order: the same on every replica, different per epoch.
 */
export const POLICIES = [
  'first',
  'designated',
  'capability',
  'least-loaded',
  'round-robin',
  'random',
] as const;
export type Policy = (typeof POLICIES)[number];

/**
 * Why a coordinator's tenure (one epoch) ended:
 * - 'expired': its lease ran out (not renewed in time);
 * - 'stuck': N renewals in a row reported no progress (stuckAfterRenewals);
 * - 'over-budget': the tenure exceeded the task's time or token budget;
 * - 'resigned': the coordinator resigned;
 * - 'unregistered': the coordinator unregistered as a candidate;
 * - 'revoked': a human revoked it;
 * - 'overridden': a human designated another candidate;
 * - 'paused': a human paused the task (or an ancestor);
 * - 'approval': it checkpointed a task that needs approval, and waits for it.
 */
export const END_REASONS = [
  'expired',
  'stuck',
  'over-budget',
  'resigned',
  'unregistered',
  'revoked',
  'overridden',
  'paused',
  'approval',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/**
 * Where a task is:
 * - 'vacant': nobody holds it; the next command that touches it (or a
 *   tick) selects among the applicants, gatherMs after it fell vacant;
 * - 'held': a coordinator holds it with an unexpired lease (as of the last command);
 * - 'awaiting-approval': a checkpoint waits for a human's approve();
 * - 'paused': a human paused it; nobody is selected until resume().
 */
export type TaskStatus = 'vacant' | 'held' | 'awaiting-approval' | 'paused';

/** A time or token budget of one tenure: exceeding either ends the lease ('over-budget'). */
export interface Budget {
  /** Longest tenure, in replicated ms from the grant. */
  readonly ms?: number;
  /** Most tokens a tenure may report using (renew's progress.tokens, cumulative). */
  readonly tokens?: number;
}

/** How a task is set up, at createTask(). Every field is optional. */
export interface TaskOptions {
  /** How its coordinators are selected (default 'first'). */
  readonly policy?: Policy;
  /** Lease length in replicated ms: a grant or renewal holds the lease this long (default 10 000). */
  readonly leaseMs?: number;
  /** The parent task; a subtask has coordinators of its own, and is paused and resumed with its parent. */
  readonly parent?: string;
  /**
   * With parent: the epoch of the parent's coordinator creating this
   * subtask; creation is refused unless that epoch holds the parent (fenced).
   */
  readonly parentEpoch?: number;
  /** Capabilities every coordinator of this task must have, whatever the policy. */
  readonly requires?: readonly string[];
  /** End the lease ('stuck') after this many renewals in a row without progress (default 0: never). */
  readonly stuckAfterRenewals?: number;
  /** Per-tenure budget (default: none). */
  readonly budget?: Budget;
  /** Each checkpoint waits for a human's approve(), which starts a new epoch (default false). */
  readonly approval?: boolean;
  /** After the task falls vacant, wait this long for applicants before selecting (default 0). */
  readonly gatherMs?: number;
  /** A candidate designated from the start (the 'designated' policy needs one to select anybody). */
  readonly designated?: string;
}

/** TaskOptions with the defaults filled in, as a task keeps them. */
export interface ResolvedTaskOptions {
  readonly policy: Policy;
  readonly leaseMs: number;
  readonly requires: readonly string[];
  readonly stuckAfterRenewals: number;
  readonly budget: { readonly ms: number | null; readonly tokens: number | null };
  readonly approval: boolean;
  readonly gatherMs: number;
}

/** What a candidate declares when it registers. */
export interface CandidateInfo {
  /** Capability → score (≥ 0); having a capability means having its key. */
  readonly capabilities?: Readonly<Record<string, number>>;
  /** Declared load (≥ 0), as the candidate measures it; least-loaded adds the tasks it holds. */
  readonly load?: number;
}

/** A registered candidate, as queries show it. */
export interface CandidateView {
  readonly id: string;
  readonly capabilities: Readonly<Record<string, number>>;
  readonly load: number;
  /** Tasks it holds a lease on now. */
  readonly holding: number;
  readonly registeredAt: number;
}

/** A checkpoint as given to checkpoint() or resign(): opaque state and a short summary. */
export interface CheckpointInput {
  /** Opaque to the coordinator: a string or bytes, at most maxCheckpointBytes. */
  readonly state: string | Uint8Array;
  /** For humans and the history: at most maxSummaryBytes of UTF-8. */
  readonly summary?: string;
}

/** A stored checkpoint: what the next coordinator receives. */
export interface Checkpoint {
  /** 1, 2, 3 … per task; approve() names the one it approves. */
  readonly seq: number;
  /** The tenure that wrote it, and its coordinator. */
  readonly epoch: number;
  readonly by: string;
  /** Replicated time and log index at which it was taken. */
  readonly at: number;
  readonly index: number;
  readonly summary: string;
  readonly state: string | Uint8Array;
}

/** A checkpoint without its state, as task views and the history carry it. */
export type CheckpointMeta = Omit<Checkpoint, 'state'> & { readonly bytes: number };

/** A lease its holder was granted or renewed. */
export interface Lease {
  readonly task: string;
  readonly epoch: number;
  readonly holder: string;
  /** Replicated time of the grant (the start of the epoch). */
  readonly grantedAt: number;
  /**
   * Replicated time at which it ends unless renewed. The holder must stop
   * acting well before: see the README ("Leases in replicated time").
   */
  readonly expiresAt: number;
}

/** A task, as queries show it. */
export interface TaskView {
  readonly id: string;
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly options: ResolvedTaskOptions;
  readonly status: TaskStatus;
  /** The last epoch granted (0: none yet); strictly increasing. */
  readonly epoch: number;
  /** The coordinator holding `epoch` while status is 'held', else null. */
  readonly holder: string | null;
  /** Of the current tenure (meaningful while held). */
  readonly grantedAt: number;
  readonly leaseExpiresAt: number;
  /** Candidates waiting to be selected, in campaign order. */
  readonly applicants: readonly string[];
  readonly designated: string | null;
  readonly checkpoint: CheckpointMeta | null;
  /** While awaiting approval: the checkpoint, and the coordinator who wrote it (null if it resigned). */
  readonly awaiting: { readonly checkpoint: number; readonly holder: string | null } | null;
  /** How the last tenure ended. */
  readonly lastEnd: { readonly epoch: number; readonly reason: EndReason; readonly at: number } | null;
  /** Whether a human paused this task itself (status is also 'paused' under a paused ancestor). */
  readonly paused: boolean;
  /**
   * Replicated time of the last command this replica applied. The view is
   * as of then: a lease whose expiry no command has noticed yet still shows
   * 'held', so compare leaseExpiresAt with asOf (fence() does).
   */
  readonly asOf: number;
}

/** A resource kept in the machine, written only by guarded writes (act). */
export interface ResourceView {
  readonly task: string;
  readonly name: string;
  readonly value: unknown;
  /** 1 for the first write, +1 per write (a delete keeps the resource as a tombstone with value null). */
  readonly version: number;
  readonly deleted: boolean;
  /** The epoch of the write that made this version: the highest fencing token this resource has seen. */
  readonly epoch: number;
  readonly writer: string;
  readonly writtenAt: number;
}

/** A guarded write: set a value, or delete; with ifVersion, only if the resource is at that version (0: absent). */
export type ResourceWrite =
  | { readonly op: 'set'; readonly value: unknown; readonly ifVersion?: number }
  | { readonly op: 'delete'; readonly ifVersion?: number };

/** What renew() reports with the heartbeat. */
export interface Progress {
  /** Any value that changes when work advanced; the same marker twice is "no progress". */
  readonly marker?: string | number;
  /** Tokens used so far in this tenure (cumulative; the highest reported counts). */
  readonly tokens?: number;
}

/** One entry of a task's history: the ordered record observe() serves. */
export interface TaskEvent {
  /** 1, 2, 3 … per task, never reused. */
  readonly seq: number;
  /** Replicated time and log index of the command that caused it. */
  readonly at: number;
  readonly index: number;
  readonly kind:
    'created' | 'granted' | 'ended' | 'checkpoint' | 'approved' | 'designated' | 'paused' | 'resumed';
  /** The epoch concerned (granted, ended, checkpoint: its tenure's; others: the task's current). */
  readonly epoch: number;
  /** granted/ended/checkpoint: the coordinator; designated: the designated candidate. */
  readonly candidate: string | null;
  /** Human operations: who. */
  readonly by: string | null;
  /** ended: why. */
  readonly reason: EndReason | null;
  /** ended: when the lease really stopped holding (≤ at: an expiry is noticed by a later command). */
  readonly until: number | null;
  /** granted: its lease's expiry. checkpoint/approved: the checkpoint's seq. */
  readonly expiresAt: number | null;
  readonly checkpoint: number | null;
  readonly summary: string | null;
}

/** A page of a task's history. */
export interface HistoryPage {
  readonly task: string;
  /** Events with seq > the `after` asked for, oldest first. */
  readonly events: readonly TaskEvent[];
  /** The oldest seq still kept (older events were dropped: the history is bounded). */
  readonly firstSeq: number;
  /** The newest seq so far (0: none). */
  readonly lastSeq: number;
  /** Replicated time of the last command this replica applied (the page is as of then). */
  readonly asOf: number;
}

/**
 * Why a task was open to the coordinator a 'granted' event names, as
 * observe() derives it from the events before the grant:
 * - 'campaign': the task's first coordinator (selected among its applicants);
 * - 'expiry': the last tenure's lease ran out ('expired');
 * - 'failure': failure detection ended the last tenure ('stuck', 'over-budget');
 * - 'resignation': the last coordinator resigned;
 * - 'unregistered': the last coordinator unregistered as a candidate;
 * - 'override': a human took the task from the last coordinator ('revoked', 'overridden');
 * - 'designation': a human designated the new coordinator of a vacant task;
 * - 'approval': a human approved a checkpoint (a new epoch starts at each approval);
 * - 'resume': a human resumed the paused task.
 */
export const GRANT_CAUSES = [
  'campaign',
  'expiry',
  'failure',
  'resignation',
  'unregistered',
  'override',
  'designation',
  'approval',
  'resume',
] as const;
export type GrantCause = (typeof GRANT_CAUSES)[number];

/** One event as observe() yields it: a history entry, with its task and, for a grant, its cause. */
export interface ObservedEvent extends TaskEvent {
  readonly task: string;
  /**
   * granted: why the task was open to a new coordinator (null when the
   * history no longer holds the event that opened it); other kinds: null.
   */
  readonly cause: GrantCause | null;
}

/** fence()'s answer, as of the last command this replica applied. */
export interface FenceAnswer {
  readonly task: string;
  readonly epoch: number;
  /** false: no such task (then current is false and currentEpoch 0). */
  readonly exists: boolean;
  /** Whether `epoch` holds the task with a lease unexpired at `asOf`. */
  readonly current: boolean;
  readonly currentEpoch: number;
  readonly holder: string | null;
  readonly leaseExpiresAt: number;
  /** Replicated time of the last applied command: a query cannot see time beyond it. */
  readonly asOf: number;
}
