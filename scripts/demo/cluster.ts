/**
 * What the demo's narrative (scripts/demo.ts) drives: three replicas of the
 * three sample services, over NATS in replica processes (nats-cluster.ts)
 * or in this process over the in-process transport (memory-cluster.ts).
 * Both expose the services' typed commands and queries, status, kill and
 * restart of a node, verification, the committed stream, and a worker.
 */
import type { CommandsOf, QueriesOf, ReplicatedStateMachine } from '@raftline/core';

/** The groups the demo runs, each a sample service. */
export const GROUPS = { jobs: 'task-queue', flags: 'feature-flags', coord: 'coordinator' } as const;
export type GroupName = keyof typeof GROUPS;
export const NODES = ['n1', 'n2', 'n3'] as const;

/** One replica's line of the status table. */
export interface StatusRow {
  readonly node: string;
  /** leader, follower, candidate, …, or `down`. */
  readonly role: string;
  readonly term?: number;
  readonly leader?: string;
  readonly commit?: number;
  readonly applied?: number;
}

/** The outcome of one verification: every replica's digest at one marker. */
export interface Verification {
  readonly index: number;
  readonly agree: boolean;
  readonly digests: readonly { readonly node: string; readonly digest?: string; readonly reason?: string }[];
}

/** A committed command, as a watcher of the committed stream sees it. */
export interface SeenCommand {
  readonly index: number;
  readonly name: string;
  readonly args: readonly unknown[];
}

/** A worker processing a queue's jobs; close() stops it once its jobs in hand are done. */
export interface DemoWorker {
  readonly completed: () => number;
  close(): Promise<void>;
}

export interface DemoCluster {
  /** How the replicas talk and where they keep their logs, for the narrative. */
  readonly description: string;
  /** What "kill" means here: a process killed with SIGKILL, or a replica stopped without handing over. */
  readonly killDescription: string;
  commands<M extends ReplicatedStateMachine>(group: GroupName): CommandsOf<M>;
  queries<M extends ReplicatedStateMachine>(group: GroupName): QueriesOf<M>;
  status(group: GroupName): Promise<StatusRow[]>;
  /** Kills the node's replicas (of every group). */
  kill(node: string): Promise<void>;
  /** Starts the node's replicas again from their data directories. */
  restart(node: string): Promise<void>;
  verify(group: GroupName): Promise<Verification>;
  /** Follows the group's committed stream from fromIndex, seen by `node`'s replica or the mirror; returns a stop. */
  watch(group: GroupName, onCommand: (c: SeenCommand) => void): Promise<() => void>;
  /** Runs a worker on a queue of the jobs group: handler's value completes each job. */
  worker(queue: string, handler: (payload: unknown) => Promise<unknown>): DemoWorker;
  close(): Promise<void>;
}

/** Waits ms milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until check returns a value other than undefined.
 * @returns that value
 * @throws Error naming what was awaited, after timeoutMs
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.name}: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(100);
  }
}

/** The leader every live replica agrees on, once all of them do. */
export function agreedLeader(rows: readonly StatusRow[]): string | undefined {
  const live = rows.filter((r) => r.role !== 'down');
  const leaders = new Set(live.map((r) => r.leader));
  const [leader] = leaders;
  return leaders.size === 1 && leader && live.some((r) => r.node === leader && r.role === 'leader')
    ? leader
    : undefined;
}

/** Renders status rows of several groups as a table, like `raftline status`. */
export function statusTable(groups: readonly { group: string; rows: readonly StatusRow[] }[]): string {
  const header = ['GROUP', 'NODE', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED'];
  const body = groups.flatMap(({ group, rows }) =>
    rows.map((r) => [
      group,
      r.node,
      r.role,
      r.term === undefined ? '-' : String(r.term),
      r.leader || '-',
      r.commit === undefined ? '-' : String(r.commit),
      r.applied === undefined ? '-' : String(r.applied),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const numeric = new Set([3, 5, 6]);
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [rule, line(header), rule, ...body.map(line), rule].join('\n');
}
