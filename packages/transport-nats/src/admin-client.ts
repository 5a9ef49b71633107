import {
  checkKnownKeys,
  ConfigError,
  LeadershipLostError,
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
  type KnownKeys,
  type NodeId,
  type VerifyResult,
} from '@raftline/core';
import { AdminUnavailableError } from './admin-errors';
import { membersOf, summarizeGroup, type GroupStatus, type ReplicaReport } from './admin-group';
import type { MembershipOutcome, TransferOutcome } from './admin-server';
import type { ReplicaStatus } from './admin-status';
import { verifyReport, type DigestAnswer, type VerifyReport } from './admin-verify';
import {
  MAX_ADMIN_TIMEOUT_MS,
  requestAdmin,
  reviveAdminError,
  type AdminAnswer,
  type AdminOperation,
} from './admin-wire';
import type { NatsConnection } from './nats';
import { checkToken, groupSubjects, type GroupSubjects } from './subjects';

/** How an AdminClient reaches a group. */
export interface AdminClientOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  /**
   * How long one operation may take, finding the leader and retries
   * included (default 10 000 ms); each call may override it. The call
   * settles within about timeoutMs + requestTimeoutMs.
   */
  readonly timeoutMs?: number;
  /** How long to wait for one replica's answer to status (or digest) and to a request to find the leader (default 1000 ms). */
  readonly requestTimeoutMs?: number;
  /** Replicas status() and verify() ask besides the members they learn of (e.g. one not yet added). */
  readonly replicas?: readonly NodeId[];
}

const CLIENT_KEYS: KnownKeys<AdminClientOptions> = {
  connection: true,
  cluster: true,
  group: true,
  timeoutMs: true,
  requestTimeoutMs: true,
  replicas: true,
};

/** Options of one operation. */
export interface AdminCallOptions {
  /** Overrides AdminClientOptions.timeoutMs. */
  readonly timeoutMs?: number;
}

/** A snapshot taken by snapshot(). */
export interface SnapshotOutcome {
  readonly node: NodeId;
  /** The index of the replica's newest durable snapshot. */
  readonly index: number;
}

/** Errors after which an idempotent operation is simply sent again, to the leader of the moment. */
const RETRYABLE = [LeadershipLostError, LeadershipTransferError, NodeStoppedError, MembershipChangeError];

/**
 * The admin API of one group, for programs, the CLI and dashboards: the
 * status of every replica, membership changes, leadership transfer,
 * snapshots and consistency verification, over the replicas' admin
 * subjects (serveAdmin). Operations that run on the leader find it and
 * follow NotLeaderError hints; idempotent ones are sent again after a
 * leader change or an unanswered request, within timeoutMs.
 *
 * Errors, from every operation: AdminPermissionError (the NATS user may not
 * publish on admin subjects), AdminUnavailableError (no replica or leader
 * answered in time), AdminTimeoutError (the leader did not finish in time),
 * AdminRefusedError (not applicable to the group as it is), and core's
 * errors as the replica raised them (MembershipChangeError,
 * LeadershipTransferError, ProposalTimeoutError, DivergedError,
 * ConfigError, …); RemoteAdminError for anything else.
 */
export class AdminClient {
  private readonly subjects: GroupSubjects;
  private readonly timeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly seeds: readonly NodeId[];
  private leaderHint: NodeId | undefined;

  /**
   * @throws SubjectTokenError when cluster, group or a replica id is not a valid subject token
   * @throws ConfigError when a timeout is not a positive integer or an option key is unknown
   */
  constructor(private readonly options: AdminClientOptions) {
    checkKnownKeys(options, CLIENT_KEYS, 'AdminClient options');
    this.subjects = groupSubjects(options.cluster, options.group);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 1000;
    const problems = [
      timeoutProblem('timeoutMs', this.timeoutMs),
      timeoutProblem('requestTimeoutMs', this.requestTimeoutMs),
    ];
    if (problems.some(Boolean)) throw new ConfigError(problems.filter((p): p is string => !!p));
    this.seeds = (options.replicas ?? []).map((id) => checkToken('replica id', id));
  }

  /**
   * Asks every replica for its status, each on its own admin subject: the
   * members any replica names, the replicas given as `replicas`, and
   * whichever replica answers on the group's any-replica subject. A replica
   * that does not answer within requestTimeoutMs is reported unreachable.
   * @returns the group's status
   * @throws AdminUnavailableError when no replica answers at all and none was given as `replicas`
   * @throws AdminPermissionError
   */
  async status(): Promise<GroupStatus> {
    const asked = new Map<NodeId, Promise<ReplicaReport>>();
    const ask = (id: NodeId): void => {
      if (!asked.has(id)) asked.set(id, this.reportOf(id));
    };
    this.seeds.forEach(ask);
    const first = await requestAdmin(
      this.options.connection,
      this.subjects.adminAny('status'),
      'status',
      {},
      this.requestTimeoutMs,
    );
    if (first.kind === 'reply' && first.reply.ok) {
      const s = first.reply.value as ReplicaStatus;
      [s.id, ...membersOf(s.members)].forEach(ask);
    } else if (asked.size === 0) {
      throw new AdminUnavailableError('status', this.requestTimeoutMs, 1, false);
    }
    // Members named by the answers are asked too, until no answer names a new one.
    for (let seen = 0; seen < asked.size;) {
      seen = asked.size;
      for (const r of await Promise.all(asked.values())) {
        if (r.reachable) [r.status.leaderId, ...membersOf(r.status.members)].filter(Boolean).forEach(ask);
      }
    }
    const group = summarizeGroup(this.options.cluster, this.options.group, await Promise.all(asked.values()));
    if (group.leaderId && group.replicas.some((r) => r.node === group.leaderId && r.reachable)) {
      this.leaderHint = group.leaderId;
    }
    return group;
  }

  /**
   * One replica's status.
   * @throws AdminUnavailableError when it does not answer within requestTimeoutMs
   * @throws NodeStoppedError when its node is stopped; AdminPermissionError
   */
  async replicaStatus(node: NodeId): Promise<ReplicaStatus> {
    const answer = await requestAdmin(
      this.options.connection,
      this.subjects.admin(node, 'status'),
      'status',
      {},
      this.requestTimeoutMs,
    );
    return this.valueOf('status', answer, this.requestTimeoutMs) as ReplicaStatus;
  }

  /**
   * Adds `node` as a learner (it receives the log, does not vote). Success,
   * with `changed: false`, when it already is one.
   * @throws AdminRefusedError when it is a voter
   */
  addLearner(node: NodeId, options: AdminCallOptions = {}): Promise<MembershipOutcome> {
    return this.onLeader(
      'add-learner',
      { node: checkToken('node', node) },
      options,
    ) as Promise<MembershipOutcome>;
  }

  /**
   * Adds `node` as a voter without stalling commits (RaftNode.addVoter): it
   * joins as a learner and is promoted once within `maxLag` entries of the
   * leader. Success, with `changed: false`, when it already is a voter.
   * @throws ProposalTimeoutError / AdminTimeoutError when it did not catch up in time (it stays a learner)
   */
  addVoter(node: NodeId, options: AdminCallOptions & { maxLag?: number } = {}): Promise<MembershipOutcome> {
    const body = {
      node: checkToken('node', node),
      ...(options.maxLag !== undefined ? { maxLag: options.maxLag } : {}),
    };
    return this.onLeader('add-voter', body, options) as Promise<MembershipOutcome>;
  }

  /**
   * Makes learner `node` a voter at once. Success, with `changed: false`, when it already is a voter.
   * @throws AdminRefusedError when it is not a member
   */
  promote(node: NodeId, options: AdminCallOptions = {}): Promise<MembershipOutcome> {
    return this.onLeader(
      'promote',
      { node: checkToken('node', node) },
      options,
    ) as Promise<MembershipOutcome>;
  }

  /**
   * Removes `node`, voter or learner (a leader removing itself steps down).
   * Success, with `changed: false`, when it is not a member.
   * @throws AdminRefusedError when it is the only voter
   */
  remove(node: NodeId, options: AdminCallOptions = {}): Promise<MembershipOutcome> {
    return this.onLeader('remove', { node: checkToken('node', node) }, options) as Promise<MembershipOutcome>;
  }

  /**
   * Moves leadership to `to`, or (none given) to the most up-to-date other
   * voter. Success, with `changed: false`, when `to` already leads. A named
   * transfer is tried again until `to` leads or timeoutMs passes; an
   * untargeted one is sent once (sending it again would move leadership again).
   * @returns the leader after the transfer
   * @throws AdminRefusedError when `to` is not a voter, or there is no other voter
   * @throws LeadershipTransferError when the transfer did not finish
   */
  async transferLeadership(to?: NodeId, options: AdminCallOptions = {}): Promise<TransferOutcome> {
    if (to === undefined) {
      const out = (await this.onLeader('transfer', {}, options, false)) as TransferOutcome;
      const leaderId = out.leaderId || ((await this.findLeader(this.requestTimeoutMs)) ?? '');
      if (leaderId) this.leaderHint = leaderId;
      return { ...out, leaderId };
    }
    const target = checkToken('to', to);
    let changed = false;
    const deadline = Date.now() + this.timeoutOf(options);
    for (;;) {
      const timeoutMs = Math.max(1, deadline - Date.now());
      const out = (await this.onLeader('transfer', { to: target }, { timeoutMs })) as TransferOutcome;
      changed ||= out.changed;
      if (out.leaderId === target || !out.changed) {
        this.leaderHint = target;
        return { leaderId: target, changed };
      }
      this.leaderHint = out.leaderId || undefined; // another node won: ask again there
      if (Date.now() >= deadline) throw new LeadershipTransferError(out.leaderId || '?', target);
    }
  }

  /**
   * Takes a snapshot now (RaftNode.snapshotNow) on `node`, default the leader.
   * @returns the replica and the index of its newest durable snapshot
   * @throws ConfigError when the replica has no snapshot store; DivergedError; the store's error (RemoteAdminError)
   */
  async snapshot(options: AdminCallOptions & { node?: NodeId } = {}): Promise<SnapshotOutcome> {
    const timeoutMs = this.timeoutOf(options);
    if (options.node === undefined) {
      const { node, value } = await this.onLeaderReply('snapshot', {}, { timeoutMs });
      return { node, index: (value as { index: number }).index };
    }
    const subject = this.subjects.admin(checkToken('node', options.node), 'snapshot');
    const answer = await requestAdmin(
      this.options.connection,
      subject,
      'snapshot',
      { timeoutMs },
      timeoutMs + this.requestTimeoutMs,
    );
    return {
      node: options.node,
      index: (this.valueOf('snapshot', answer, timeoutMs) as { index: number }).index,
    };
  }

  /**
   * Checks that the replicas hold the same state: the leader proposes a
   * verification marker (RaftNode.verify), then every member (and every
   * replica given as `replicas`) is asked for its digest at the marker's
   * index, waiting for it to apply that far within timeoutMs.
   * @returns the index, each replica's digest, whether all agree, and who disagrees
   * @throws the errors of an operation on the leader (DivergedError when the leader stopped applying)
   */
  async verify(options: AdminCallOptions = {}): Promise<VerifyReport> {
    const timeoutMs = this.timeoutOf(options);
    const deadline = Date.now() + timeoutMs;
    const { node: leaderId, value } = await this.onLeaderReply('verify', {}, { timeoutMs });
    const result = value as VerifyResult;
    const leader = await this.replicaStatus(leaderId).catch(() => undefined);
    const names = new Set([leaderId, ...this.seeds, ...(leader ? membersOf(leader.members) : [])]);
    const wait = Math.max(1, Math.min(MAX_ADMIN_TIMEOUT_MS, deadline - Date.now()));
    const answers = await Promise.all(
      [...names].sort().map(async (node): Promise<DigestAnswer> => {
        const subject = this.subjects.admin(node, 'digest');
        const answer = await requestAdmin(
          this.options.connection,
          subject,
          'digest',
          { index: result.index, timeoutMs: wait },
          wait + this.requestTimeoutMs,
        );
        if (answer.kind === 'none') return { node, reason: answer.reason };
        if (!answer.reply.ok)
          return { node, reason: reviveAdminError('digest', node, answer.reply.error).message };
        const digest = (answer.reply.value as { digest?: string }).digest;
        return digest !== undefined
          ? { node, digest }
          : {
              node,
              reason: `no digest at ${result.index} (it restored a snapshot past it, or no longer holds it)`,
            };
      }),
    );
    return verifyReport(result, leaderId, answers);
  }

  // ------------------------------------------------------------ internals

  /** @returns the call's timeoutMs @throws ConfigError when it is not an integer between 1 and MAX_ADMIN_TIMEOUT_MS */
  private timeoutOf(options: AdminCallOptions): number {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const problem = timeoutProblem('timeoutMs', timeoutMs);
    if (problem) throw new ConfigError([problem]);
    return timeoutMs;
  }

  /** The value of a direct request's answer. @throws the replica's error, or AdminUnavailableError */
  private valueOf(operation: AdminOperation, answer: AdminAnswer, timeoutMs: number): unknown {
    if (answer.kind === 'none') throw new AdminUnavailableError(operation, timeoutMs, 1, answer.delivered);
    if (!answer.reply.ok) throw reviveAdminError(operation, answer.reply.node, answer.reply.error);
    return answer.reply.value;
  }

  private reportOf = async (node: NodeId): Promise<ReplicaReport> => {
    const answer = await requestAdmin(
      this.options.connection,
      this.subjects.admin(node, 'status'),
      'status',
      {},
      this.requestTimeoutMs,
    );
    if (answer.kind === 'none') return { node, reachable: false, reason: answer.reason };
    if (!answer.reply.ok) {
      const { name, message } = answer.reply.error;
      return { node, reachable: false, reason: `${name}: ${message}` };
    }
    return { node, reachable: true, status: answer.reply.value as ReplicaStatus };
  };

  /** Finds the leader through any replica. @returns its id, or undefined when none answered or none is known */
  private async findLeader(waitMs: number): Promise<NodeId | undefined> {
    const answer = await requestAdmin(
      this.options.connection,
      this.subjects.adminAny('status'),
      'status',
      {},
      waitMs,
    );
    if (answer.kind !== 'reply' || !answer.reply.ok) return undefined;
    const s = answer.reply.value as ReplicaStatus;
    return (s.role === 'leader' ? s.id : s.leaderId) || undefined;
  }

  private async onLeader(
    operation: AdminOperation,
    body: object,
    options: AdminCallOptions,
    idempotent = true,
  ): Promise<unknown> {
    return (await this.onLeaderReply(operation, body, options, idempotent)).value;
  }

  /**
   * Runs an operation on the leader: finds it, follows NotLeaderError
   * hints, and (when idempotent) sends it again after a leader change,
   * an unanswered request or a concurrent membership change, until
   * timeoutMs passes. The replica gets what remains of timeoutMs as its own.
   * @returns the leader's reply
   */
  private async onLeaderReply(
    operation: AdminOperation,
    body: object,
    options: AdminCallOptions,
    idempotent = true,
  ): Promise<{ node: NodeId; value: unknown }> {
    const timeoutMs = this.timeoutOf(options);
    const deadline = Date.now() + timeoutMs;
    let target = this.leaderHint;
    let attempts = 0;
    let unknown = false;
    let last: Error | undefined;
    for (let round = 0; Date.now() < deadline; round++) {
      if (round > 0) await pause(round, deadline);
      const remaining = deadline - Date.now();
      target ??= await this.findLeader(Math.max(1, Math.min(remaining, this.requestTimeoutMs)));
      if (target === undefined) continue;
      attempts++;
      const subject = this.subjects.admin(target, operation);
      const budget = Math.max(1, Math.min(MAX_ADMIN_TIMEOUT_MS, deadline - Date.now()));
      const answer = await requestAdmin(
        this.options.connection,
        subject,
        operation,
        { ...body, timeoutMs: budget },
        budget + this.requestTimeoutMs,
      );
      if (answer.kind === 'none') {
        unknown ||= answer.delivered;
        if (answer.delivered && !idempotent) break;
        target = undefined;
        continue;
      }
      const { reply } = answer;
      if (reply.ok) {
        this.leaderHint = reply.node;
        return { node: reply.node, value: reply.value };
      }
      const err = reviveAdminError(operation, reply.node, reply.error);
      if (err instanceof NotLeaderError) {
        target = err.leaderId && err.leaderId !== target ? err.leaderId : undefined;
        continue;
      }
      if (!idempotent || !RETRYABLE.some((c) => err instanceof c)) throw err;
      if (err instanceof LeadershipLostError) unknown = true;
      last = err;
      target = undefined;
    }
    this.leaderHint = undefined;
    throw last ?? new AdminUnavailableError(operation, timeoutMs, attempts, unknown);
  }
}

function timeoutProblem(name: string, value: number): string | undefined {
  return Number.isSafeInteger(value) && value > 0 && value <= MAX_ADMIN_TIMEOUT_MS
    ? undefined
    : `${name} (${value}) must be an integer between 1 and ${MAX_ADMIN_TIMEOUT_MS}`;
}

function pause(round: number, deadline: number): Promise<void> {
  const ms = Math.min(Math.max(0, deadline - Date.now()), 25 * 2 ** Math.min(round - 1, 3));
  return new Promise((resolve) => setTimeout(resolve, ms));
}
