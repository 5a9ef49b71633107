/** `raftline status`: every replica of a group, as a table (like etcdctl endpoint status -w table) or JSON. */
import {
  AdminClient,
  type GroupStatus,
  type NatsConnection,
  type ReplicaReport,
} from '@raftline/transport-nats';
import { duration, json, print, table } from '../output';
import { someGroups, withConnection, type Target } from './common';

/** The columns of the status table. */
export const STATUS_COLUMNS = [
  'NODE',
  'ROLE',
  'TERM',
  'LEADER',
  'COMMIT',
  'APPLIED',
  'LAG',
  'STORE',
  'VERSION',
  'UPTIME',
];

/**
 * Prints the status of the target's groups once, or every `watchMs` until interrupted.
 * @throws AdminUnavailableError when no replica of a group answers; AdminPermissionError
 */
export async function statusCommand(target: Target, watchMs: number | undefined): Promise<void> {
  const groups = someGroups(target);
  await withConnection(target, async (nc) => {
    const clients = groups.map(
      (group) =>
        new AdminClient({ connection: nc, cluster: target.cluster, group, timeoutMs: target.timeoutMs }),
    );
    const once = async (): Promise<void> => {
      const statuses = await Promise.all(clients.map((c) => c.status()));
      if (target.format === 'json') {
        print(json(statuses.length === 1 ? statuses[0] : statuses));
      } else {
        if (watchMs !== undefined && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        print(renderStatus(statuses));
      }
    };
    await once();
    if (watchMs === undefined) return;
    await watch(nc, watchMs, once);
  });
}

/** Runs fn every ms until SIGINT or SIGTERM (or the connection closes). */
async function watch(nc: NatsConnection, ms: number, fn: () => Promise<void>): Promise<void> {
  let stop = false;
  let wake: () => void = () => {};
  const onSignal = (): void => {
    stop = true;
    wake();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop && !nc.isClosed()) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, ms);
      });
      if (!stop) await fn();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The status table of one or more groups, with a line per unreachable replica below it. */
export function renderStatus(statuses: readonly GroupStatus[]): string {
  const several = statuses.length > 1;
  const headers = several ? ['GROUP', ...STATUS_COLUMNS] : STATUS_COLUMNS;
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const s of statuses) {
    for (const r of s.replicas) {
      const row = replicaRow(r);
      rows.push(several ? [s.group, ...row] : row);
      if (!r.reachable) notes.push(`${several ? `${s.group}/` : ''}${r.node}: ${r.reason}`);
      else if (r.status.storageError) notes.push(`${r.node}: store: ${r.status.storageError}`);
      else if (r.status.verification?.diverged) {
        const d = r.status.verification.diverged;
        notes.push(
          `${r.node}: diverged at index ${d.index} (digest ${short(d.actual)}, leader's ${short(d.expected)})`,
        );
      }
    }
    if (!s.leaderId) notes.push(`${several ? `${s.group}: ` : ''}no leader is known`);
  }
  return [table(headers, rows), ...notes].join('\n');
}

function replicaRow(r: ReplicaReport): (string | number)[] {
  if (!r.reachable) return [r.node, 'unreachable', '-', '-', '-', '-', '-', '-', '-', '-'];
  const s = r.status;
  const lag = r.lag
    ? `${r.lag.entries}${r.lag.ms > 0 ? ` (${r.lag.msAtLeast ? '≥' : ''}${duration(r.lag.ms)})` : ''}`
    : '-';
  const store = s.storageError ? 'failing' : s.verification?.stoppedApplying ? 'stopped' : 'ok';
  return [
    r.node,
    s.role,
    s.term,
    s.leaderId || '-',
    s.commitIndex,
    s.appliedIndex,
    lag,
    store,
    s.version,
    duration(s.uptimeMs),
  ];
}

function short(digest: string): string {
  return digest.slice(0, 12);
}
