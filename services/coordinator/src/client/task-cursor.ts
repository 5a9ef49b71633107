/**
 * Where observe() stands in one task's history, and what it derives: pure,
 * no I/O, no clock. The loop (observe.ts) feeds it the group's committed
 * commands in log order and the answers of history() queries; the cursor
 * says which commands may have added events to the task (so the loop asks
 * for the history only then), turns new history entries into
 * ObservedEvents (each once, in seq order, with the grant's cause), and
 * notices what would make it skip one: a history that dropped entries not
 * yet served, a task removed or created anew.
 *
 * Invariants:
 * - served events have strictly increasing seq with no gap (1, 2, 3 … from
 *   the first one served) and non-decreasing index; an event whose index is
 *   ≤ fromIndex is never served;
 * - `known` is the task as of the last history answer taken, carried
 *   forward over the commands seen since, none of which may have changed
 *   its history (see mayConcern);
 * - `time` is the replicated time as of the last command seen (the host's
 *   clamped time: the answer's asOf, then the max of each command's stamp).
 */
import { FRAMEWORK_COMMAND_PREFIX, RaftlineError } from '@raftline/core';
import type { EndReason, GrantCause, HistoryPage, ObservedEvent, TaskEvent } from '../types';

/**
 * The history no longer holds events observe() has not served: more than
 * historyLimit entries were recorded since the position it resumes from
 * (or since its last read). The events from `firstSeq` on are still kept;
 * the ones before it are gone for good.
 */
export class HistoryTruncatedError extends RaftlineError {
  constructor(
    readonly task: string,
    /** The seq after which observe() needed the events (0: from fromIndex on). */
    readonly afterSeq: number,
    /** The oldest seq the history still holds. */
    readonly firstSeq: number,
    message: string,
  ) {
    super(message);
  }
}

/** One committed command as observe() reads it: the shape of readCommitted's messages and RaftNode.committed()'s events. */
export interface CommittedCommand {
  readonly index: number;
  readonly command: { readonly name: string; readonly args: readonly unknown[]; readonly time: number };
  readonly outcome: { readonly kind: 'applied' | 'failed' | 'duplicate' };
}

/** A history() answer and the log index of the state it read. */
export interface HistoryAnswer {
  readonly page: HistoryPage | null;
  readonly appliedIndex: number;
}

/** What the cursor believes of the task, from the events served or passed over. */
export interface KnownTask {
  /**
   * 'absent' until a history answer holds the task; 'unknown' while the
   * events taken do not tell (a history whose kept part starts after the
   * last grant or end).
   */
  readonly status: 'absent' | 'unknown' | 'vacant' | 'held' | 'paused' | 'awaiting-approval';
  /** The coordinator while held; null otherwise, and while unknown. */
  readonly holder: string | null;
  /**
   * While held: the expiry the grant set. Renewals only push it later (a
   * renewal's expiry is never before the grant's), so before this time no
   * tick can end the tenure.
   */
  readonly expiresAt: number;
  /** Why the task is open to its next coordinator (see GrantCause); null: not known. */
  readonly opening: GrantCause | null;
  /** The candidate a human designated while the task was vacant: its grant's cause is 'designation'. */
  readonly designee: string | null;
}

/** Nothing known: before the first history answer. */
export const ABSENT: KnownTask = {
  status: 'absent',
  holder: null,
  expiresAt: 0,
  opening: null,
  designee: null,
};

const open = (status: KnownTask['status'], opening: GrantCause | null): KnownTask => ({
  status,
  holder: null,
  expiresAt: 0,
  opening,
  designee: null,
});

const CAUSE_OF_END: Record<EndReason, GrantCause> = {
  expired: 'expiry',
  stuck: 'failure',
  'over-budget': 'failure',
  resigned: 'resignation',
  unregistered: 'unregistered',
  revoked: 'override',
  overridden: 'override',
  paused: 'resume', // a paused task is granted again only on resume()
  approval: 'approval', // … and one awaiting approval, only on approve()
};

/**
 * The status an end leaves the task in, as far as the events tell: a
 * resignation on an approval task may leave it awaiting approval, and
 * 'vacant' errs on the side of asking.
 */
function afterEnd(reason: EndReason | null): KnownTask['status'] {
  return reason === 'paused' ? 'paused' : reason === 'approval' ? 'awaiting-approval' : 'vacant';
}

/**
 * Folds one history event into what is known of the task.
 * @returns the new knowledge, and the event's grant cause (null but for 'granted')
 */
export function foldEvent(known: KnownTask, e: TaskEvent): { known: KnownTask; cause: GrantCause | null } {
  switch (e.kind) {
    case 'created':
      return { known: open('vacant', 'campaign'), cause: null };
    case 'granted': {
      const designated = known.designee !== null && known.designee === e.candidate;
      return {
        known: {
          status: 'held',
          holder: e.candidate,
          expiresAt: e.expiresAt ?? 0,
          opening: null,
          designee: null,
        },
        cause: designated ? 'designation' : known.opening,
      };
    }
    case 'ended':
      return { known: open(afterEnd(e.reason), e.reason ? CAUSE_OF_END[e.reason] : null), cause: null };
    case 'designated':
      // On a vacant task the designee is granted at once (or, created with it, once it campaigns);
      // on a held one an 'ended' (overridden) comes first, and the grant's cause is 'override'.
      return { known: known.status === 'vacant' ? { ...known, designee: e.candidate } : known, cause: null };
    case 'paused':
      return { known: open('paused', 'resume'), cause: null };
    case 'resumed':
      return { known: open('vacant', 'resume'), cause: null };
    case 'approved':
      return { known: open('vacant', 'approval'), cause: null };
    case 'checkpoint':
      return { known, cause: null };
    default:
      // A kind this version does not know (a newer replica's): nothing is known any more.
      void (e.kind satisfies never);
      return { known: { ...ABSENT, status: 'unknown' }, cause: null };
  }
}

/** Coordinator commands whose first argument is a task and that touch no other task's history. */
const TASK_COMMANDS = new Set([
  'campaign',
  'withdraw',
  'renew',
  'resign',
  'checkpoint',
  'act',
  'designate',
  'revoke',
  'approve',
  'removeTask',
]);

/**
 * Whether a committed command may have added events to `task`'s history,
 * given what is known of the task just before it. False only when it
 * cannot have: a duplicate (nothing applied); register; a framework
 * command (sessions); a command about another task; unregister of someone
 * who does not hold the task; a tick while the task is absent, paused,
 * awaiting approval, or held before the grant's expiry (`time` is the
 * command's replicated time). Anything else, a command this version does
 * not know among them, may.
 */
export function mayConcern(task: string, c: CommittedCommand, known: KnownTask, time: number): boolean {
  if (c.outcome.kind === 'duplicate') return false;
  const { name, args } = c.command;
  if (name.startsWith(FRAMEWORK_COMMAND_PREFIX) || name === 'register') return false;
  if (TASK_COMMANDS.has(name)) return args[0] === task;
  switch (name) {
    case 'createTask': {
      const options = args[1] as { parent?: unknown } | undefined;
      return args[0] === task || options?.parent === task; // a fenced subtask settles its parent
    }
    case 'unregister':
      return known.status === 'unknown' || (known.holder !== null && args[0] === known.holder);
    case 'tick':
      if (known.status === 'absent' || known.status === 'paused' || known.status === 'awaiting-approval')
        return false;
      return !(known.status === 'held' && time < known.expiresAt);
    default:
      return true; // pause and resume (of the task or an ancestor), and what this version does not know
  }
}

/** The cursor of one observe() call; see the module comment. */
export class TaskCursor {
  private known: KnownTask = ABSENT;
  /** Whether the first history answer was taken. */
  private started = false;
  /** The seq and index of the last history event taken (served, or passed over as ≤ fromIndex). */
  private lastSeq = 0;
  private lastIndex = 0;
  /** The applied index of the last history answer taken. */
  private fetched = 0;
  /** The last committed command seen. */
  private seen = 0;
  /** The replicated time as of max(fetched, seen). */
  private time = 0;
  /** A history answer through this index is needed before going on (null: none). */
  private owed: number | null = 0;
  private gone = false;

  /**
   * @param fromIndex serve only events committed after this log index
   *   (undefined: every event the history still holds)
   */
  constructor(
    readonly task: string,
    private readonly fromIndex?: number,
  ) {}

  /** What is known of the task (for tests and diagnostics). */
  get state(): KnownTask {
    return this.known;
  }

  /** Whether the task was removed (or removed and created anew): nothing more will be served. */
  get removed(): boolean {
    return this.gone;
  }

  /**
   * The index a history answer must have been read at (appliedIndex ≥ it)
   * before the next committed command is taken; null when none is owed.
   */
  get owedThrough(): number | null {
    return this.owed;
  }

  /** The `after` to ask history() with: the last event taken is included, to tell a task created anew. */
  get historyAfter(): number {
    return Math.max(0, this.lastSeq - 1);
  }

  /** The first log index of the committed stream not yet accounted for. */
  get nextIndex(): number {
    return Math.max(this.fetched, this.seen) + 1;
  }

  /**
   * Takes one committed command (in log order, each once; repeats of one
   * already accounted for are ignored).
   * @returns whether a history answer through its index is now owed
   */
  see(c: CommittedCommand): boolean {
    if (c.index < this.nextIndex || this.gone) return false;
    this.seen = c.index;
    this.time = Math.max(this.time, c.command.time);
    if (!mayConcern(this.task, c, this.known, this.time)) return false;
    this.owed = c.index;
    return true;
  }

  /**
   * Takes a history answer.
   * @returns the events to serve, in order (none when the answer was read
   *   before the index owed: ask again)
   * @throws HistoryTruncatedError when the history dropped events that were to be served
   */
  accept(answer: HistoryAnswer): ObservedEvent[] {
    if (this.gone || answer.appliedIndex < (this.owed ?? this.fetched)) return [];
    this.owed = null;
    this.fetched = Math.max(this.fetched, answer.appliedIndex);
    const { page } = answer;
    if (page === null) {
      if (this.known.status !== 'absent') this.gone = true; // removed: its history went with it
      this.started = true;
      return [];
    }
    this.time = Math.max(this.time, page.asOf);
    if (this.known.status !== 'absent' && this.recreated(page)) {
      this.gone = true;
      return [];
    }
    this.checkGap(page);
    this.started = true;
    if (this.known.status === 'absent') this.known = { ...ABSENT, status: 'unknown' };
    const out: ObservedEvent[] = [];
    for (const e of page.events) {
      if (e.seq <= this.lastSeq) continue;
      const folded = foldEvent(this.known, e);
      this.known = folded.known;
      this.lastSeq = e.seq;
      this.lastIndex = e.index;
      if (this.fromIndex === undefined || e.index > this.fromIndex) {
        out.push({ ...e, task: this.task, cause: folded.cause });
      }
    }
    return out;
  }

  /** Whether the page is of another task by the same id (the one observed was removed, then created again). */
  private recreated(page: HistoryPage): boolean {
    if (page.lastSeq < this.lastSeq) return true;
    if (this.lastSeq === 0 || page.firstSeq > this.lastSeq) return false; // nothing left to compare with
    const last = page.events.find((e) => e.seq === this.lastSeq);
    return last === undefined || last.index !== this.lastIndex;
  }

  /** @throws HistoryTruncatedError when events after the cursor's position were dropped */
  private checkGap(page: HistoryPage): void {
    const first = page.events[0];
    if (page.firstSeq <= this.lastSeq + 1 || first === undefined) return;
    if (!this.started) {
      // The first answer: what was dropped is older than the first event kept.
      if (this.fromIndex === undefined || first.index <= this.fromIndex) return;
      throw new HistoryTruncatedError(
        this.task,
        0,
        page.firstSeq,
        `task ${this.task}: its history starts at seq ${page.firstSeq} (index ${first.index}), ` +
          `so events after index ${this.fromIndex} may have been dropped (historyLimit)`,
      );
    }
    throw new HistoryTruncatedError(
      this.task,
      this.lastSeq,
      page.firstSeq,
      `task ${this.task}: events ${this.lastSeq + 1}-${page.firstSeq - 1} were dropped from its history ` +
        `(historyLimit) before they were observed`,
    );
  }
}
