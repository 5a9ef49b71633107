/**
 * The dashboard's per-service panels. A group runs a known service when it
 * answers that service's queries, called by name (the CLI does not depend on
 * the service packages): task-queue's `queues` and `stats`, feature-flags'
 * `listEnvironments` and `listFlags`, coordinator's `tasks`.
 */
import { RaftlineError } from '@raftline/core';

/** The services the dashboard has a panel for (the names `raftline serve` knows them by). */
export const PANEL_SERVICES = ['task-queue', 'feature-flags', 'coordinator'] as const;
export type PanelService = (typeof PANEL_SERVICES)[number];

/** Runs one query of the group by name. @throws the client's errors (RemoteCommandError, ReadNotConfirmedError, …) */
export type QueryFn = (name: string, args: readonly unknown[]) => Promise<unknown>;

/** One queue's depths (task-queue's QueueStats). */
export interface QueueRow {
  readonly queue: string;
  readonly paused: boolean;
  readonly ready: number;
  readonly delayed: number;
  readonly leased: number;
  readonly done: number;
  readonly dead: number;
  readonly oldestReadyAgeMs: number;
}

/** One flag of one environment (feature-flags' FlagRecord, summarized). */
export interface FlagRow {
  readonly environment: string;
  readonly key: string;
  readonly type: string;
  readonly enabled: boolean;
  readonly defaultVariant: string;
  /** The default variant's value, as JSON. */
  readonly defaultValue: string;
  readonly rules: number;
  readonly version: number;
}

/** One task of the coordinator and who coordinates it (its TaskView, summarized). */
export interface TaskRow {
  readonly task: string;
  readonly status: string;
  /** The current coordinator ('' for none). */
  readonly holder: string;
  readonly epoch: number;
  /** Milliseconds of lease left as of the replica's last applied command (0 when not held). */
  readonly leaseLeftMs: number;
  readonly applicants: number;
}

/** What a service panel shows. */
export interface ServicePanel {
  readonly service: PanelService;
  /** When its data came back (ms since the epoch). */
  readonly updatedAt: number;
  /** Why the last refresh failed (the data shown is then the previous one's). */
  readonly error?: string;
  readonly queues?: readonly QueueRow[];
  readonly flags?: readonly FlagRow[];
  readonly environments?: readonly string[];
  readonly tasks?: readonly TaskRow[];
  /** More items exist than the panel shows. */
  readonly truncated?: boolean;
}

/** At most this many queues, environments, flags per environment and tasks. */
export const PANEL_LIMITS = { queues: 50, environments: 10, flags: 100, tasks: 100 } as const;

/** The query each service is recognized by, and the shape its answer must have. */
const SIGNATURES: readonly {
  service: PanelService;
  query: string;
  args: unknown[];
  ok(v: unknown): boolean;
}[] = [
  { service: 'task-queue', query: 'queues', args: [], ok: isStringList },
  { service: 'feature-flags', query: 'listEnvironments', args: [], ok: isStringList },
  {
    service: 'coordinator',
    query: 'tasks',
    args: [{ limit: 1 }],
    ok: (v) => isObject(v) && Array.isArray(v.tasks),
  },
];

/**
 * Finds which known service a group runs by asking each service's query.
 * @returns the service; null when the group answers none of them (a machine
 *   of its own: every query was unknown or answered otherwise)
 * @throws the first error that was not "unknown query" (no replica answered, …): try again later
 */
export async function detectService(query: QueryFn): Promise<PanelService | null> {
  for (const sig of SIGNATURES) {
    let value: unknown;
    try {
      value = await query(sig.query, sig.args);
    } catch (err) {
      if (isUnknownQuery(err) || answeredOtherwise(err)) continue;
      throw err;
    }
    if (sig.ok(value)) return sig.service;
  }
  return null;
}

/**
 * Loads a service's panel.
 * @param now the time to stamp it with
 * @returns the panel
 * @throws the query's errors
 */
export async function loadPanel(
  service: PanelService,
  query: QueryFn,
  now: () => number,
): Promise<ServicePanel> {
  switch (service) {
    case 'task-queue':
      return loadQueues(query, now);
    case 'feature-flags':
      return loadFlags(query, now);
    case 'coordinator':
      return loadTasks(query, now);
    default: {
      const never: never = service;
      throw new TypeError(`no panel for ${String(never)}`);
    }
  }
}

async function loadQueues(query: QueryFn, now: () => number): Promise<ServicePanel> {
  const names = stringList(await query('queues', []), 'queues');
  const shown = names.slice(0, PANEL_LIMITS.queues);
  const queues = await Promise.all(
    shown.map(async (q): Promise<QueueRow> => {
      const s = object(await query('stats', [q]), `stats(${q})`);
      return {
        queue: q,
        paused: s.paused === true,
        ready: num(s.ready),
        delayed: num(s.delayed),
        leased: num(s.leased),
        done: num(s.done),
        dead: num(s.dead),
        oldestReadyAgeMs: num(s.oldestReadyAgeMs),
      };
    }),
  );
  return {
    service: 'task-queue',
    updatedAt: now(),
    queues,
    ...(names.length > shown.length ? { truncated: true } : {}),
  };
}

async function loadFlags(query: QueryFn, now: () => number): Promise<ServicePanel> {
  const environments = stringList(await query('listEnvironments', []), 'listEnvironments');
  const shown = environments.slice(0, PANEL_LIMITS.environments);
  let truncated = environments.length > shown.length;
  const perEnv = await Promise.all(
    shown.map(async (environment) => {
      const records = await query('listFlags', [environment]);
      if (!Array.isArray(records)) throw new PanelDataError(`listFlags(${environment})`, records);
      if (records.length > PANEL_LIMITS.flags) truncated = true;
      return records.slice(0, PANEL_LIMITS.flags).map((r): FlagRow => flagRow(environment, r));
    }),
  );
  return {
    service: 'feature-flags',
    updatedAt: now(),
    environments,
    flags: perEnv.flat(),
    ...(truncated ? { truncated: true } : {}),
  };
}

function flagRow(environment: string, record: unknown): FlagRow {
  const r = object(record, `a flag of ${environment}`);
  const d = isObject(r.definition) ? r.definition : {};
  const variants = isObject(d.variants) ? d.variants : {};
  const defaultVariant = typeof d.defaultVariant === 'string' ? d.defaultVariant : '';
  return {
    environment,
    key: String(r.key),
    type: typeof d.type === 'string' ? d.type : '?',
    enabled: d.enabled !== false,
    defaultVariant,
    defaultValue: JSON.stringify(variants[defaultVariant]) ?? 'undefined',
    rules: Array.isArray(d.rules) ? d.rules.length : 0,
    version: num(r.version),
  };
}

async function loadTasks(query: QueryFn, now: () => number): Promise<ServicePanel> {
  const page = object(await query('tasks', [{ limit: PANEL_LIMITS.tasks }]), 'tasks');
  if (!Array.isArray(page.tasks)) throw new PanelDataError('tasks', page);
  const tasks = page.tasks.map((t): TaskRow => {
    const v = object(t, 'a task');
    const held = typeof v.holder === 'string' && v.holder !== '';
    return {
      task: String(v.id),
      status: String(v.status),
      holder: held ? (v.holder as string) : '',
      epoch: num(v.epoch),
      leaseLeftMs: held ? Math.max(0, num(v.leaseExpiresAt) - num(v.asOf)) : 0,
      applicants: Array.isArray(v.applicants) ? v.applicants.length : 0,
    };
  });
  return {
    service: 'coordinator',
    updatedAt: now(),
    tasks,
    ...(page.next !== null && page.next !== undefined ? { truncated: true } : {}),
  };
}

/** A service query answered with a value of an unexpected shape (another machine with a query of that name). */
export class PanelDataError extends RaftlineError {
  constructor(
    readonly query: string,
    value: unknown,
  ) {
    super(`${query} answered an unexpected value: ${(JSON.stringify(value) ?? 'undefined').slice(0, 80)}`);
  }
}

/** Whether the replica refused the query as one its machine does not have. */
export function isUnknownQuery(err: unknown): boolean {
  return remoteNameIs(err, 'UnknownCommandError');
}

/** Replica errors that say nothing of the machine: the query may succeed when asked again. */
const TRANSIENT = new Set([
  'ReadNotConfirmedError',
  'NodeStoppedError',
  'LeadershipLostError',
  'NotLeaderError',
]);

/**
 * Whether a replica ran the query and its machine refused or failed it (a
 * machine with a query of that name but other parameters).
 */
function answeredOtherwise(err: unknown): boolean {
  const e = err as { name?: unknown; remoteName?: unknown } | undefined;
  return e?.name === 'RemoteCommandError' && typeof e.remoteName === 'string' && !TRANSIENT.has(e.remoteName);
}

function remoteNameIs(err: unknown, name: string): boolean {
  const e = err as { name?: unknown; remoteName?: unknown; cause?: { name?: unknown } } | undefined;
  return e?.name === name || e?.remoteName === name || e?.cause?.name === name;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function stringList(v: unknown, query: string): string[] {
  if (!isStringList(v)) throw new PanelDataError(query, v);
  return v;
}

function object(v: unknown, query: string): Record<string, unknown> {
  if (!isObject(v)) throw new PanelDataError(query, v);
  return v;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
