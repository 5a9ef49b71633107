/**
 * What the dashboard shows of one group, built from successive admin
 * status answers: the replicas' rows, throughput and latency samples, and
 * the leader changes and reachability changes seen. Pure: time is passed
 * in, nothing here does I/O, so it is tested without a cluster.
 */
import type { GroupStatus, ReplicaReport } from '@raftline/transport-nats';
import type { ServicePanel } from './services';

/** One replica as the page's table shows it. */
export interface ReplicaRow {
  readonly node: string;
  readonly reachable: boolean;
  /** Its role, or 'unreachable'. */
  readonly role: string;
  /** voter, learner, outgoing (leaving in a joint configuration), or '-' (not a member the leader names). */
  readonly membership: 'voter' | 'learner' | 'outgoing' | '-';
  readonly term?: number;
  readonly leaderId?: string;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  readonly lastIndex?: number;
  readonly snapshotIndex?: number;
  /** Entries behind the leader (0 on the leader), from the leader's answer. */
  readonly lagEntries?: number;
  readonly lagMs?: number;
  /** lagMs is a lower bound. */
  readonly lagMsAtLeast?: boolean;
  /** ok, failing (a store write fails and is retried) or stopped (stopped applying after a divergence). */
  readonly store: 'ok' | 'failing' | 'stopped' | '-';
  readonly storageError?: string;
  readonly version?: string;
  readonly uptimeMs?: number;
  readonly connected?: boolean;
  /** Why it is unreachable. */
  readonly reason?: string;
}

/** One point of the group's charts. */
export interface Sample {
  /** When the status answers came back (ms since the epoch). */
  readonly t: number;
  /** Entries committed per second since the previous sample (null for the first, or when unknown). */
  readonly committedPerSec: number | null;
  /** Per replica: entries applied per second since the previous sample (null when it did not answer twice). */
  readonly appliedPerSec: Readonly<Record<string, number | null>>;
  /** Per replica: the round trip of its admin status request, in ms (null: no answer). */
  readonly adminMs: Readonly<Record<string, number | null>>;
  /** The round trip of the last linearizable read (a service query or --probe), in ms, if one finished since the previous sample. */
  readonly readMs: number | null;
}

/** A change of the group's leader as the dashboard saw it. */
export interface LeaderChange {
  readonly at: number;
  readonly term: number;
  /** The new leader ('' when none is known). */
  readonly leaderId: string;
  /** The leader before ('' for the first one seen, or when none was known). */
  readonly previous: string;
}

/** A replica becoming unreachable or reachable again. */
export interface ReachabilityChange {
  readonly at: number;
  readonly node: string;
  readonly reachable: boolean;
  readonly reason?: string;
}

/** Everything the page shows of one group. */
export interface GroupView {
  readonly group: string;
  /** The leader the replicas report in the highest term ('' when none is known). */
  readonly leaderId: string;
  /** Whether that leader itself answered (a killed leader is still named by followers until they elect another). */
  readonly leaderReachable: boolean;
  readonly term: number;
  readonly members: { voters: readonly string[]; learners: readonly string[]; outgoing: readonly string[] };
  readonly replicas: readonly ReplicaRow[];
  /** When the last status answers came back (0: never): with `error`, the rows are as of then. */
  readonly updatedAt: number;
  /** Why the last status failed (no replica answered), if it did. */
  readonly error?: string;
  readonly samples: readonly Sample[];
  readonly leaderChanges: readonly LeaderChange[];
  readonly reachability: readonly ReachabilityChange[];
  /** The panel of the service the group runs, when it runs a known one. */
  readonly service?: ServicePanel;
}

/** What the dashboard's feed (/api/state, /api/events) carries. */
export interface DashboardState {
  readonly cluster: string;
  readonly intervalMs: number;
  /** How many samples a group keeps: the charts' window is about historyPoints × intervalMs. */
  readonly historyPoints: number;
  readonly startedAt: number;
  readonly now: number;
  /** Why group discovery failed, if it did (no group given and none found). */
  readonly error?: string;
  readonly groups: readonly GroupView[];
}

/** After this many status failures in a row, the replicas last seen show as unreachable. */
export const STALE_FAILURES = 3;

/** Events kept per group for the timeline. */
const MAX_EVENTS = 200;

/**
 * The history of one group: record() each status answer in time order;
 * view() is what the page shows.
 */
export class GroupTracker {
  private samples: Sample[] = [];
  private leaderChanges: LeaderChange[] = [];
  private reachability: ReachabilityChange[] = [];
  private last: GroupStatus | undefined;
  private lastAt = 0;
  private lastError: string | undefined;
  private pendingReadMs: number | null = null;
  private service: ServicePanel | undefined;
  /** The highest commit index seen: rates never go negative when a lagging replica is all that answers. */
  private maxCommit = 0;
  private seenLeader = false;
  /** Status failures in a row. */
  private failures = 0;

  /**
   * @param group the group's name
   * @param capacity how many samples to keep (at least 2)
   */
  constructor(
    readonly group: string,
    private readonly capacity: number,
  ) {}

  /**
   * Records a status answer of the group, received at `now`.
   * @param adminMs per replica, the round trip of its own status request (null: none came back)
   */
  record(now: number, status: GroupStatus, adminMs: Readonly<Record<string, number | null>> = {}): void {
    const prev = this.last;
    const dt = prev ? (now - this.lastAt) / 1000 : 0;
    const commit = Math.max(0, ...status.replicas.map((r) => (r.reachable ? r.status.commitIndex : 0)));
    const committedPerSec = prev && dt > 0 && commit > 0 ? Math.max(0, commit - this.maxCommit) / dt : null;
    this.maxCommit = Math.max(this.maxCommit, commit);
    const appliedPerSec: Record<string, number | null> = {};
    for (const r of status.replicas) {
      const before = prev?.replicas.find((p) => p.node === r.node);
      appliedPerSec[r.node] =
        r.reachable && before?.reachable && dt > 0
          ? Math.max(0, r.status.appliedIndex - before.status.appliedIndex) / dt
          : null;
    }
    const ms: Record<string, number | null> = {};
    for (const r of status.replicas) ms[r.node] = r.reachable ? (adminMs[r.node] ?? null) : null;
    this.push({ t: now, committedPerSec, appliedPerSec, adminMs: ms, readMs: this.takeReadMs() });

    this.noteLeader(now, status, prev);
    for (const r of status.replicas) {
      const before = prev?.replicas.find((p) => p.node === r.node);
      const wasReachable = before ? before.reachable : true; // a replica first seen unreachable is news
      if (r.reachable !== wasReachable) {
        this.event(this.reachability, {
          at: now,
          node: r.node,
          reachable: r.reachable,
          ...(r.reachable ? {} : { reason: r.reason }),
        });
      }
    }
    this.last = status;
    this.lastAt = now;
    this.lastError = undefined;
    this.failures = 0;
  }

  /**
   * Records that no replica answered at `now`. The rows stay as last seen
   * (the view says since when) for a refresh or two, which a busy election
   * can cost; from the STALE_FAILURES-th failure in a row, every replica
   * last seen turns unreachable.
   */
  recordFailure(now: number, error: string): void {
    this.failures++;
    const prev = this.last;
    if (prev && this.failures >= STALE_FAILURES) {
      const replicas: ReplicaReport[] = prev.replicas.map((r) => ({
        node: r.node,
        reachable: false,
        reason: error,
      }));
      this.record(now, { ...prev, replicas });
    } else {
      this.push({ t: now, committedPerSec: null, appliedPerSec: {}, adminMs: {}, readMs: this.takeReadMs() });
    }
    this.lastError = error;
  }

  /** Records the round trip of a linearizable read; the next sample carries it. */
  recordRead(ms: number): void {
    this.pendingReadMs = ms;
  }

  /** Sets the group's service panel. */
  setService(panel: ServicePanel | undefined): void {
    this.service = panel;
  }

  /** @returns what the page shows of the group */
  view(): GroupView {
    const s = this.last;
    const leader = s?.replicas.find((r) => r.node === s.leaderId);
    return {
      group: this.group,
      leaderId: s?.leaderId ?? '',
      leaderReachable: !!leader?.reachable,
      term: s?.term ?? 0,
      members: {
        voters: s?.members.voters ?? [],
        learners: s?.members.learners ?? [],
        outgoing: s?.members.outgoing ?? [],
      },
      replicas: s ? s.replicas.map((r) => replicaRow(r, s)) : [],
      updatedAt: this.lastAt,
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
      samples: [...this.samples],
      leaderChanges: [...this.leaderChanges],
      reachability: [...this.reachability],
      ...(this.service ? { service: this.service } : {}),
    };
  }

  private noteLeader(now: number, status: GroupStatus, prev: GroupStatus | undefined): void {
    const previous = prev?.leaderId ?? '';
    const changed = !this.seenLeader
      ? status.leaderId !== ''
      : status.leaderId !== previous || (status.leaderId !== '' && status.term !== prev?.term);
    if (!changed) return;
    this.seenLeader = true;
    this.event(this.leaderChanges, { at: now, term: status.term, leaderId: status.leaderId, previous });
  }

  private takeReadMs(): number | null {
    const ms = this.pendingReadMs;
    this.pendingReadMs = null;
    return ms;
  }

  private push(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > Math.max(2, this.capacity)) this.samples.shift();
  }

  private event<T>(list: T[], e: T): void {
    list.push(e);
    if (list.length > MAX_EVENTS) list.shift();
  }
}

/** @returns the table row of one replica of the group */
export function replicaRow(r: ReplicaReport, group: GroupStatus): ReplicaRow {
  const m = group.members;
  const membership = m.voters.includes(r.node)
    ? 'voter'
    : m.learners.includes(r.node)
      ? 'learner'
      : m.outgoing.includes(r.node)
        ? 'outgoing'
        : '-';
  if (!r.reachable) {
    return { node: r.node, reachable: false, role: 'unreachable', membership, store: '-', reason: r.reason };
  }
  const s = r.status;
  const store = s.storageError ? 'failing' : s.verification?.stoppedApplying ? 'stopped' : 'ok';
  return {
    node: r.node,
    reachable: true,
    role: s.role,
    membership,
    term: s.term,
    leaderId: s.leaderId,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    ...(r.lag
      ? { lagEntries: r.lag.entries, lagMs: r.lag.ms, ...(r.lag.msAtLeast ? { lagMsAtLeast: true } : {}) }
      : {}),
    store,
    ...(s.storageError ? { storageError: s.storageError } : {}),
    version: s.version,
    uptimeMs: s.uptimeMs,
    ...(s.connected !== undefined ? { connected: s.connected } : {}),
  };
}
