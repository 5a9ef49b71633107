/**
 * Every metric a replica serves on /metrics, with its type, labels and
 * meaning: the one list the registry is built from and the README table
 * documents (a test keeps the two equal).
 */

export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricSpec {
  readonly type: MetricType;
  readonly help: string;
  /** Labels besides group and node. */
  readonly labels?: readonly string[];
  readonly buckets?: readonly number[];
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

export const METRICS = {
  raftline_term: { type: 'gauge', help: 'The current Raft term of this replica.' },
  raftline_role: {
    type: 'gauge',
    help: 'The role of this replica: 1 for its current role, 0 for the others.',
    labels: ['role'],
  },
  raftline_has_leader: { type: 'gauge', help: '1 when this replica knows a leader, else 0.' },
  raftline_leader_changes_total: {
    type: 'counter',
    help: 'Leader changes this replica has seen (the first leader it learns of counts).',
  },
  raftline_commit_index: { type: 'gauge', help: 'The highest log index this replica knows committed.' },
  raftline_applied_index: { type: 'gauge', help: 'The highest log index applied to the state machine here.' },
  raftline_last_index: { type: 'gauge', help: "The index of the last entry in this replica's log." },
  raftline_snapshot_index: { type: 'gauge', help: 'The index of the newest durable snapshot (0: none).' },
  raftline_proposals_pending: {
    type: 'gauge',
    help: 'Proposals waiting on this replica to be applied (past raft.maxPendingProposals: OverloadedError).',
  },
  raftline_client_requests_in_flight: {
    type: 'gauge',
    help: 'Client commands and queries this replica is serving now.',
  },
  raftline_client_requests_refused_total: {
    type: 'counter',
    help: 'Client requests answered at once with OverloadedError (clients.maxInFlightPerClient or clients.maxInFlight reached).',
  },
  raftline_follower_match_lag_entries: {
    type: 'gauge',
    help: "On the leader only: for each follower (the node label names the follower), the leader's last index minus the follower's match index.",
  },
  raftline_proposals_total: {
    type: 'counter',
    help: 'Client commands this replica proposed as leader (redirects to the leader not counted).',
  },
  raftline_proposal_failures_total: {
    type: 'counter',
    help: 'Proposed client commands that did not return a value, by reason.',
    labels: ['reason'],
  },
  raftline_proposal_apply_seconds: {
    type: 'histogram',
    help: 'Time from proposing a client command to its being applied on this replica (applied ones only).',
    buckets: SECONDS,
  },
  raftline_client_commands_total: {
    type: 'counter',
    help: 'Client command requests this replica answered, by outcome (ok, not-leader, rejected, failed, …).',
    labels: ['outcome'],
  },
  raftline_client_queries_total: {
    type: 'counter',
    help: 'Client queries this replica answered, by outcome.',
    labels: ['outcome'],
  },
  raftline_log_append_entries: {
    type: 'histogram',
    help: 'Entries per log store append (the batch size of one write).',
    buckets: BATCH,
  },
  raftline_log_append_seconds: {
    type: 'histogram',
    help: 'Duration of one log store append.',
    buckets: SECONDS,
  },
  raftline_snapshots_total: {
    type: 'counter',
    help: 'Snapshots written to the snapshot store of this replica (taken here or installed from the leader).',
  },
  raftline_snapshot_size_bytes: { type: 'gauge', help: 'Size of the last snapshot written.' },
  raftline_snapshot_write_seconds: {
    type: 'histogram',
    help: 'Time from starting a snapshot write to its commit.',
    buckets: SECONDS,
  },
  raftline_dropped_messages_total: {
    type: 'counter',
    help: 'Inbound Raft messages dropped, by reason (the reasons of the transport, and unhandled for messages the node could not handle).',
    labels: ['reason'],
  },
  raftline_send_dropped_messages_total: {
    type: 'counter',
    help: 'Outbound Raft messages not published, by reason (disconnected, oversize, closed, error).',
    labels: ['reason'],
  },
  raftline_verifications_total: {
    type: 'counter',
    help: 'Verification reports this replica compared with its own digest, by result (match, diverged).',
    labels: ['result'],
  },
  raftline_diverged: {
    type: 'gauge',
    help: '1 once this replica found its state differs from that of the leader at a verification marker.',
  },
  raftline_stopped_applying: {
    type: 'gauge',
    help: '1 while this replica stopped applying after a divergence (divergenceAction stop-applying).',
  },
  raftline_storage_healthy: {
    type: 'gauge',
    help: '0 while a store write fails and is being retried, else 1.',
  },
  raftline_nats_connected: { type: 'gauge', help: '1 while the transport is connected to NATS.' },
  raftline_machine_metrics_failures_total: {
    type: 'counter',
    help: "Scrapes at which this replica's machine metrics (its metrics() hook) could not be served, whole or in part: metrics() threw or returned an invalid family, or a family clashed with another (the reason is logged once).",
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricName = keyof typeof METRICS;

/** Every metric name, sorted. */
export const METRIC_NAMES = Object.keys(METRICS).sort() as MetricName[];

/** A metric a sample service's machine exposes through its metrics() hook. */
export interface ServiceMetricSpec extends MetricSpec {
  /** The service (the `machine` of a group) that serves it. */
  readonly service: 'task-queue' | 'feature-flags' | 'coordinator';
}

/**
 * The sample services' own metrics, served beside those above by every
 * replica of a group that runs the service (the machine's metrics() hook;
 * labelled by group and node too). Defined by the services (src/metrics.ts of each);
 * listed here for the README table, and a process test checks the two agree.
 */
export const SERVICE_METRICS = {
  raftline_queue_jobs: {
    service: 'task-queue',
    type: 'gauge',
    help: 'Jobs by queue and state (delayed, ready, leased, dead). The first 20 queues named keep their own queue label (option metricsQueueLabels); the others are summed under queue="(other)".',
    labels: ['queue', 'state'],
  },
  raftline_queues: { service: 'task-queue', type: 'gauge', help: 'Queues named so far.' },
  raftline_queue_lease_expiries_total: {
    service: 'task-queue',
    type: 'counter',
    help: 'Leases that ended by expiry (the worker neither acked, nacked nor extended in time), applied by this replica since it started.',
  },
  raftline_flags: {
    service: 'feature-flags',
    type: 'gauge',
    help: 'Flags defined, by environment (the first 20 environments written keep their own label; the others are summed under environment="(other)").',
    labels: ['environment'],
  },
  raftline_flag_segments: {
    service: 'feature-flags',
    type: 'gauge',
    help: 'Segments defined, by environment (bounded as raftline_flags).',
    labels: ['environment'],
  },
  raftline_flag_evaluations_total: {
    service: 'feature-flags',
    type: 'counter',
    help: "Evaluations this replica's evaluate query served since it started, by reason (STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT, ERROR); SDKs evaluating locally are not seen here.",
    labels: ['reason'],
  },
  raftline_coordinator_tasks: {
    service: 'coordinator',
    type: 'gauge',
    help: 'Tasks by status (vacant, held, awaiting-approval, paused); held ones have a coordinator.',
    labels: ['status'],
  },
  raftline_coordinator_candidates: { service: 'coordinator', type: 'gauge', help: 'Registered candidates.' },
  raftline_coordinator_handoffs_total: {
    service: 'coordinator',
    type: 'counter',
    help: "Handoffs: epochs granted after a task's first, each one tenure handed to the next (from the tasks' epochs; removed tasks counted since this replica started).",
  },
} as const satisfies Record<string, ServiceMetricSpec>;

/** The name of a sample service's metric. */
export type ServiceMetricName = keyof typeof SERVICE_METRICS;

/** Every service metric name, sorted. */
export const SERVICE_METRIC_NAMES = Object.keys(SERVICE_METRICS).sort() as ServiceMetricName[];

/** Why a proposal or client request did not return a value: bounded labels from error names. */
export const FAILURE_REASONS: Readonly<Record<string, string>> = {
  NotLeaderError: 'not-leader',
  CommandRejectedError: 'rejected',
  UnknownCommandError: 'rejected',
  PayloadTooLargeError: 'too-large',
  CommandFailedError: 'failed',
  SessionExpiredError: 'session-expired',
  ProposalTimeoutError: 'timeout',
  LeadershipLostError: 'leadership-lost',
  LeadershipTransferError: 'transferring',
  ReadNotConfirmedError: 'not-confirmed',
  DivergedError: 'diverged',
  NodeStoppedError: 'stopped',
  OverloadedError: 'overloaded',
  DecodeError: 'malformed',
};

/** The label an error counts under: FAILURE_REASONS by its name, else `other`. */
export function reasonOf(err: unknown): string {
  const name = (err as { name?: unknown } | undefined)?.name;
  return (typeof name === 'string' && FAILURE_REASONS[name]) || 'other';
}
