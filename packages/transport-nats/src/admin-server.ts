import {
  checkKnownKeys,
  ConfigError,
  NotLeaderError,
  silentLogger,
  type KnownKeys,
  type Logger,
  type Membership,
  type NodeId,
  type RaftNode,
} from '@raftline/core';
import { AdminRefusedError, AdminRequestError, AdminTimeoutError } from './admin-errors';
import { buildReplicaStatus, LastIndexHistory, type AdminMembers, type ReplicaStatus } from './admin-status';
import {
  decodeAdminRequest,
  encodeAdminError,
  encodeAdminValue,
  isAdminOperation,
  type AdminOperation,
  type AdminRequests,
} from './admin-wire';
import type { Msg, NatsConnection, Subscription } from './nats';
import { REPLICA_SERVICE_VERSION } from './service';
import { ADMIN_QUEUE, checkToken, groupSubjects } from './subjects';
import type { NatsTransportStats } from './transport';

/** What serveAdmin needs of a replica: RaftNode satisfies it. */
export type AdminNode = Pick<
  RaftNode,
  | 'id'
  | 'status'
  | 'addLearner'
  | 'addVoter'
  | 'promote'
  | 'removeNode'
  | 'transferLeadership'
  | 'snapshotNow'
  | 'verify'
  | 'digestAt'
>;

/** Where and how a replica serves the admin API. */
export interface AdminServerOptions {
  readonly connection: NatsConnection;
  readonly cluster: string;
  readonly group: string;
  readonly node: AdminNode;
  /** Its transport, whose drop counters status reports. */
  readonly transport?: { stats(): NatsTransportStats };
  /** The version status reports (default REPLICA_SERVICE_VERSION, the package's). */
  readonly version?: string;
  /** When the replica started (ms since the epoch), for status().uptimeMs; default: now. */
  readonly startedAt?: number;
  /** How often the replica samples its last index, for followers' lagMs (default 100 ms). */
  readonly lagSampleMs?: number;
  /** How long those samples are kept: the largest lagMs measured exactly (default 60 000 ms). */
  readonly lagWindowMs?: number;
  /** How long an operation may run when its request names no timeoutMs (default 10 000 ms). */
  readonly defaultTimeoutMs?: number;
  readonly logger?: Logger;
}

const ADMIN_SERVER_KEYS: KnownKeys<AdminServerOptions> = {
  connection: true,
  cluster: true,
  group: true,
  node: true,
  transport: true,
  version: true,
  startedAt: true,
  lagSampleMs: true,
  lagWindowMs: true,
  defaultTimeoutMs: true,
  logger: true,
};

/** What a membership operation resolves with: the configuration after it, and whether it changed anything. */
export interface MembershipOutcome {
  readonly members: AdminMembers;
  /** false when the group already was as asked (the operation is idempotent). */
  readonly changed: boolean;
}

/** What a leadership transfer resolves with. */
export interface TransferOutcome {
  /** The leader after the transfer ('' when none was known yet). */
  readonly leaderId: NodeId;
  /** false when the node asked for already led. */
  readonly changed: boolean;
}

/** A handle on a replica's admin server. */
export interface AdminServer {
  /** Stops serving admin requests (requests in flight still get their answer). Idempotent. */
  close(): void;
}

/**
 * Serves the admin API of one replica on the group's admin subjects (see
 * subjects.ts): every operation on `raftline.<cluster>.<group>.admin.<node>.<operation>`,
 * and on `raftline.<cluster>.<group>.admin.<operation>` in queue group
 * ADMIN_QUEUE (one replica answers: use it to find the group). Requests and
 * replies are JSON (admin-wire.ts). Operations that must run on the leader
 * (membership, transfer, verify) answer NotLeaderError, naming the leader
 * this replica knows, on any other replica. Membership operations are
 * idempotent: a node already there in the role asked, or absent when
 * removed, is success with `changed: false`.
 * @returns a handle whose close() stops serving
 * @throws SubjectTokenError when cluster, group or the node id is not a valid subject token
 * @throws ConfigError when an option is invalid or its key is unknown
 */
export function serveAdmin(options: AdminServerOptions): AdminServer {
  checkKnownKeys(options, ADMIN_SERVER_KEYS, 'serveAdmin options');
  const { connection: nc, node } = options;
  const subjects = groupSubjects(options.cluster, options.group);
  checkToken('node id', node.id);
  const sampleMs = options.lagSampleMs ?? 100;
  const windowMs = options.lagWindowMs ?? 60_000;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  const problems = [
    ...positive('lagSampleMs', sampleMs),
    ...positive('lagWindowMs', windowMs),
    ...positive('defaultTimeoutMs', defaultTimeoutMs),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  const logger = options.logger ?? silentLogger;
  const startedAt = options.startedAt ?? Date.now();
  const version = options.version ?? REPLICA_SERVICE_VERSION;
  const history = new LastIndexHistory(windowMs, Date.now());
  const sample = (): void => {
    try {
      history.record(Date.now(), node.status().lastIndex);
    } catch {
      // not started, or stopped: nothing to sample
    }
  };
  sample();
  const timer = setInterval(sample, sampleMs);
  timer.unref();

  const status = (): ReplicaStatus => {
    sample();
    return buildReplicaStatus(node.status(), {
      now: Date.now(),
      startedAt,
      version,
      history,
      ...(options.transport ? { transport: options.transport } : {}),
    });
  };
  const run = new Operations(node, status, defaultTimeoutMs);

  const handle = (msg: Msg, operation: string): void => {
    if (!msg.reply) return;
    const work = Promise.resolve().then(() => {
      if (!isAdminOperation(operation)) {
        throw new AdminRequestError(operation, 'there is no admin operation of that name');
      }
      return run.dispatch(operation, msg.data);
    });
    void work.then(
      (value) => respond(msg, encodeAdminValue(node.id, value)),
      (err: unknown) => respond(msg, encodeAdminError(node.id, err)),
    );
  };
  const respond = (msg: Msg, bytes: Uint8Array): void => {
    try {
      msg.respond(bytes);
    } catch (err) {
      logger.warn({ node: node.id, err }, 'could not answer an admin request');
    }
  };
  const lastToken = (subject: string): string => subject.slice(subject.lastIndexOf('.') + 1);
  const callback = (err: Error | null, msg: Msg): void => {
    if (!err) handle(msg, lastToken(msg.subject));
  };
  const anyPrefix = subjects.adminAny('x').slice(0, -1);
  const ownPrefix = subjects.admin(node.id, 'x').slice(0, -1);
  const subs: Subscription[] = [
    nc.subscribe(`${anyPrefix}*`, { queue: ADMIN_QUEUE, callback }),
    nc.subscribe(`${ownPrefix}*`, { callback }),
  ];
  let closed = false;
  return {
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const s of subs) {
        try {
          s.unsubscribe();
        } catch {
          // the connection is closed already
        }
      }
    },
  };
}

function positive(name: string, value: number): string[] {
  return Number.isSafeInteger(value) && value > 0 ? [] : [`${name} (${value}) must be a positive integer`];
}

/** The operations of one replica, each behind its checks. */
class Operations {
  constructor(
    private readonly node: AdminNode,
    private readonly status: () => ReplicaStatus,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** @returns the operation's value, to be sent as JSON */
  dispatch(operation: AdminOperation, data: Uint8Array): Promise<unknown> | unknown {
    switch (operation) {
      case 'status':
        decodeAdminRequest(operation, data);
        return this.status();
      case 'add-learner':
      case 'add-voter':
      case 'promote':
      case 'remove':
        return this.membership(operation, decodeAdminRequest(operation, data));
      case 'transfer':
        return this.transfer(decodeAdminRequest(operation, data));
      case 'snapshot': {
        const r = decodeAdminRequest(operation, data);
        const timeoutMs = r.timeoutMs ?? this.defaultTimeoutMs;
        return this.bounded(operation, timeoutMs, this.node.snapshotNow()).then((index) => ({ index }));
      }
      case 'verify': {
        const r = decodeAdminRequest(operation, data);
        const timeoutMs = r.timeoutMs ?? this.defaultTimeoutMs;
        return this.bounded(operation, timeoutMs, this.node.verify({ timeoutMs }));
      }
      case 'digest': {
        const r = decodeAdminRequest(operation, data);
        const timeoutMs = r.timeoutMs ?? this.defaultTimeoutMs;
        return this.node.digestAt(r.index, { timeoutMs }).then((digest) => ({
          index: r.index,
          ...(digest !== undefined ? { digest } : {}),
        }));
      }
    }
  }

  /** The leader's configuration, checked to be the leader's. @throws NotLeaderError elsewhere */
  private leaderMembers(): Membership {
    const s = this.node.status();
    if (s.role !== 'leader') throw new NotLeaderError(this.node.id, s.leaderId);
    return s.members;
  }

  private async membership(
    operation: 'add-learner' | 'add-voter' | 'promote' | 'remove',
    r: AdminRequests['add-voter'],
  ): Promise<MembershipOutcome> {
    const m = this.leaderMembers();
    const id = r.node;
    const voter = m.voters.includes(id);
    const learner = m.learners.includes(id);
    const done = (changed: boolean, members: Membership): MembershipOutcome => ({
      members: { ...members, joint: members.outgoing.length > 0 },
      changed,
    });
    const timeoutMs = r.timeoutMs ?? this.defaultTimeoutMs;
    const opts = { timeoutMs };
    let change: Promise<Membership>;
    switch (operation) {
      case 'add-learner':
        if (learner) return done(false, m);
        if (voter)
          throw new AdminRefusedError(operation, `${id} is a voter; remove it first to make it a learner`);
        change = this.node.addLearner(id, opts);
        break;
      case 'add-voter':
        if (voter) return done(false, m);
        change = this.node.addVoter(id, { ...opts, ...(r.maxLag !== undefined ? { maxLag: r.maxLag } : {}) });
        break;
      case 'promote':
        if (voter) return done(false, m);
        if (!learner) throw new AdminRefusedError(operation, `${id} is not a learner; add it first`);
        change = this.node.promote(id, opts);
        break;
      case 'remove':
        if (!voter && !learner && !m.outgoing.includes(id)) return done(false, m);
        if (voter && m.voters.length === 1) {
          throw new AdminRefusedError(operation, `${id} is the only voter; the group needs at least one`);
        }
        change = this.node.removeNode(id, opts);
        break;
    }
    return done(true, await this.bounded(operation, timeoutMs, change));
  }

  private async transfer(r: AdminRequests['transfer']): Promise<TransferOutcome> {
    const m = this.leaderMembers();
    const self = this.node.id;
    if (r.to === self) return { leaderId: self, changed: false };
    if (r.to !== undefined && !m.voters.includes(r.to)) {
      throw new AdminRefusedError('transfer', `${r.to} is not a voter`);
    }
    if (r.to === undefined && !m.voters.some((v) => v !== self)) {
      throw new AdminRefusedError('transfer', `${self} is the only voter`);
    }
    const timeoutMs = r.timeoutMs ?? this.defaultTimeoutMs;
    const leaderId = await this.bounded('transfer', timeoutMs, this.node.transferLeadership(r.to));
    return { leaderId, changed: true };
  }

  /** work, or AdminTimeoutError once timeoutMs passed (work goes on; its late failure is dropped). */
  private bounded<T>(operation: string, timeoutMs: number, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AdminTimeoutError(operation, this.node.id, timeoutMs)), timeoutMs);
    });
    work.catch(() => undefined);
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }
}
