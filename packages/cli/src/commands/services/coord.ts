/**
 * `raftline coord tasks|show|designate|revoke|approve`: a coordinator group
 * (services/coordinator) driven by its commands and queries by name —
 * tasks, task, history, designate, revoke, approve. A refused operation
 * (StaleEpochError, UnknownTaskError, …: the coordinator's Refusal values)
 * exits 1 with its name.
 */
import type { Command } from 'commander';
import { CommandExit, EXIT } from '../../errors';
import { duration, json, note, print, table } from '../../output';
import { resolveTarget, type Target } from '../common';
import {
  cell,
  failOnRefusal,
  integerFlag,
  isoTime,
  noun,
  reader,
  verb,
  whoAmI,
  withService,
  type ReadFlags,
} from './shared';

/** A task as the coordinator's queries show it (TaskView; the fields printed here). */
interface TaskView {
  readonly id: string;
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly options: { readonly policy: string; readonly leaseMs: number };
  readonly status: string;
  readonly epoch: number;
  readonly holder: string | null;
  readonly grantedAt: number;
  readonly leaseExpiresAt: number;
  readonly applicants: readonly string[];
  readonly designated: string | null;
  readonly checkpoint: {
    readonly seq: number;
    readonly epoch: number;
    readonly by: string;
    readonly summary: string;
  } | null;
  readonly awaiting: { readonly checkpoint: number; readonly holder: string | null } | null;
  readonly lastEnd: { readonly epoch: number; readonly reason: string; readonly at: number } | null;
  readonly paused: boolean;
  readonly asOf: number;
}

/** One event of a task's history (TaskEvent). */
interface TaskEvent {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly epoch: number;
  readonly candidate: string | null;
  readonly by: string | null;
  readonly reason: string | null;
  readonly summary: string | null;
}

/** How many history events `coord show` prints. */
const SHOWN_EVENTS = 20;

/** The lease of a held task, relative to the replicated time its view is as of. */
function lease(t: TaskView): string {
  if (t.status !== 'held') return '-';
  const left = t.leaseExpiresAt - t.asOf;
  return left > 0 ? `${duration(left)} left` : `expired ${duration(-left)} ago`;
}

/**
 * Prints one page of tasks: the root tasks, or the subtasks of parent.
 * @throws RemoteCommandError, ReadNotConfirmedError
 */
export async function coordTasks(
  target: Target,
  page: { parent?: string; after?: string; limit?: number },
  flags: ReadFlags,
): Promise<void> {
  const result = await withService(target, flags.consistency, (s) =>
    s.query<{ tasks: TaskView[]; next: string | null }>('tasks', page),
  );
  if (target.format === 'json') return print(json(result));
  if (result.tasks.length === 0) print(page.parent ? `no subtasks of ${page.parent}` : 'no tasks');
  else {
    const rows = result.tasks.map((t) => [
      t.id,
      t.status,
      t.epoch,
      t.holder ?? '-',
      lease(t),
      t.options.policy,
      t.applicants.length,
      t.children.length,
      t.checkpoint ? `#${t.checkpoint.seq}` : '-',
    ]);
    print(
      table(
        ['TASK', 'STATUS', 'EPOCH', 'COORDINATOR', 'LEASE', 'POLICY', 'APPLICANTS', 'SUBTASKS', 'CHECKPOINT'],
        rows,
      ),
    );
  }
  if (result.next !== null) note(`more: --after ${result.next}`);
}

/**
 * Prints a task and its latest history events.
 * @throws CommandExit with EXIT.failed when there is no such task
 */
export async function coordShow(target: Target, task: string, flags: ReadFlags): Promise<void> {
  const found = await withService(target, flags.consistency, async (s) => {
    const view = await s.query<TaskView | null>('task', task);
    const history = view ? await s.query<{ events: TaskEvent[]; lastSeq: number }>('history', task, 0) : null;
    return view && history ? { task: view, history } : null;
  });
  if (!found) throw new CommandExit(EXIT.failed, `UnknownTaskError: no task ${task}`);
  if (target.format === 'json') return print(json(found));
  const t = found.task;
  const lines: [string, string][] = [
    ['task', t.id],
    ['parent', t.parent ?? '-'],
    ['status', t.paused ? `${t.status} (paused by a human)` : t.status],
    ['epoch', String(t.epoch)],
    ['coordinator', t.holder ?? '-'],
    ['lease', t.status === 'held' ? `${lease(t)} (granted ${isoTime(t.grantedAt)})` : '-'],
    ['policy', t.options.policy],
    ['applicants', t.applicants.join(', ') || '-'],
    ['designated', t.designated ?? '-'],
    [
      'checkpoint',
      t.checkpoint
        ? `#${t.checkpoint.seq} of epoch ${t.checkpoint.epoch} by ${t.checkpoint.by}: ${cell(t.checkpoint.summary, 60)}`
        : '-',
    ],
    ['awaiting', t.awaiting ? `approval of checkpoint #${t.awaiting.checkpoint}` : '-'],
    [
      'last end',
      t.lastEnd ? `epoch ${t.lastEnd.epoch}: ${t.lastEnd.reason} at ${isoTime(t.lastEnd.at)}` : '-',
    ],
    ['subtasks', t.children.join(', ') || '-'],
    ['as of', isoTime(t.asOf)],
  ];
  for (const [k, v] of lines) print(`${`${k}:`.padEnd(13)}${v}`);
  const events = found.history.events.slice(-SHOWN_EVENTS);
  if (events.length > 0) {
    const rows = events.map((e) => [
      e.seq,
      isoTime(e.at),
      e.kind,
      e.epoch,
      e.candidate ?? '-',
      e.by ?? '-',
      cell(e.reason ?? e.summary, 40),
    ]);
    print(table(['SEQ', 'AT', 'EVENT', 'EPOCH', 'CANDIDATE', 'BY', 'REASON'], rows));
  }
}

/**
 * Runs one human operation (designate, revoke, approve) and prints the task after it.
 * @throws CommandExit with EXIT.failed when the coordinator refuses it (its name first)
 */
export async function coordHuman(target: Target, command: string, args: readonly unknown[]): Promise<void> {
  const result = await withService(target, 'linearizable', (s) =>
    s.command<{ ok: boolean; task?: TaskView }>(command, ...args),
  );
  if (target.format === 'json') print(json(result));
  failOnRefusal(result);
  if (target.format === 'json' || !result.task) return;
  const t = result.task;
  const holder = t.holder ? `held by ${t.holder}` : t.status;
  print(`${t.id}: ${holder} at epoch ${t.epoch}${t.designated ? ` (designated: ${t.designated})` : ''}`);
}

/** Adds `raftline coord …` to the program. */
export function coordCommands(root: Command): void {
  const coord = noun(root, 'coord', 'a coordinator group: tasks, who coordinates them, human override');

  reader(coord, 'tasks', 'the root tasks (or the subtasks of --parent): status, epoch, coordinator, lease')
    .option('--parent <task>', 'list the subtasks of this task')
    .option('--after <task>', 'start after this task id (the previous page)')
    .option('-n, --limit <count>', 'at most this many (default and most 1000)')
    .action(async (opts: ReadFlags & { parent?: string; after?: string; limit?: string }) => {
      const limit = integerFlag(opts.limit, '--limit', 1);
      await coordTasks(
        resolveTarget(opts),
        {
          ...(opts.parent !== undefined ? { parent: opts.parent } : {}),
          ...(opts.after !== undefined ? { after: opts.after } : {}),
          ...(limit !== undefined ? { limit } : {}),
        },
        opts,
      );
    });

  reader(coord, 'show', 'one task: its coordinator, lease, checkpoint and latest history; exit 1 if none')
    .argument('<task>', 'the task')
    .action(async (task: string, opts: ReadFlags) => {
      await coordShow(resolveTarget(opts), task, opts);
    });

  verb(
    coord,
    'designate',
    'hand the task to a candidate now (a new epoch; the old coordinator is fenced off)',
  )
    .argument('<task>', 'the task')
    .argument('<candidate>', 'the registered candidate')
    .option('--by <name>', 'who decides (default: RAFTLINE_USER, else the OS user)')
    .action(async (task: string, candidate: string, opts: ReadFlags & { by?: string }) => {
      await coordHuman(resolveTarget(opts), 'designate', [task, candidate, whoAmI(opts.by)]);
    });

  verb(coord, 'revoke', 'take the task from its coordinator; the next one is selected')
    .argument('<task>', 'the task')
    .option('--by <name>', 'who decides (default: RAFTLINE_USER, else the OS user)')
    .option('--reason <text>', 'why (kept in the history)')
    .action(async (task: string, opts: ReadFlags & { by?: string; reason?: string }) => {
      const reason = opts.reason !== undefined ? [opts.reason] : [];
      await coordHuman(resolveTarget(opts), 'revoke', [task, whoAmI(opts.by), ...reason]);
    });

  verb(coord, 'approve', 'approve the checkpoint a task waits on: a new epoch starts')
    .argument('<task>', 'the task')
    .argument('<checkpoint>', "the checkpoint's seq (coord show names it)")
    .option('--by <name>', 'who approves (default: RAFTLINE_USER, else the OS user)')
    .option('--next <candidate>', 'the candidate to hand the task to (default: by its policy)')
    .action(async (task: string, checkpoint: string, opts: ReadFlags & { by?: string; next?: string }) => {
      const seq = integerFlag(checkpoint, 'checkpoint', 1)!;
      const next = opts.next !== undefined ? [opts.next] : [];
      await coordHuman(resolveTarget(opts), 'approve', [task, seq, whoAmI(opts.by), ...next]);
    });
}
