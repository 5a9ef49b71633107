import { ConfigError } from '../errors';
import { unknownKeyProblems } from '../known-keys';

/**
 * Tunables of the pure protocol. Time is counted in ticks: the driver calls
 * `tick()` at a fixed interval (RaftNode derives ticks from milliseconds).
 */
export interface ProtocolConfig {
  /**
   * A follower that hears no leader for a random number of ticks in
   * [electionTicks, 2 × electionTicks) starts an election (§5.2). A leader
   * under check-quorum steps down after electionTicks without a quorum.
   */
  readonly electionTicks: number;
  /** The leader sends heartbeats every heartbeatTicks. Must be well below electionTicks. */
  readonly heartbeatTicks: number;
  /** Pre-vote (thesis §9.6): campaign only after a quorum says it would vote; a rejoining node raises no term. */
  readonly preVote: boolean;
  /** Check-quorum (thesis §6.2): a leader that hears from no quorum within electionTicks steps down. */
  readonly checkQuorum: boolean;
  /** Appends in flight to one follower in replicate state before the leader waits for acks (pipelining window). */
  readonly maxInflightMessages: number;
  /** At most this many entries in one AppendEntries. */
  readonly maxEntriesPerMessage: number;
  /** At most this many payload bytes in one AppendEntries (a single larger entry still goes alone). */
  readonly maxBytesPerMessage: number;
  /** At most this many committed entries handed out in one Ready. */
  readonly maxCommittedPerReady: number;
  /**
   * Lease reads: the leader trusts its lease for electionTicks − leaseDriftTicks
   * ticks after a quorum acknowledged a heartbeat. The margin absorbs clocks
   * that run at different rates on different nodes (see RaftNode's maxClockDrift).
   */
  readonly leaseDriftTicks: number;
  /**
   * Serve 'lease' reads from the leader lease (thesis §6.4.1). When false, a
   * lease read is served like a ReadIndex read. When true, a voter that
   * restarts with a durable term refuses votes (except a transfer's) for
   * electionTicks, because it may have acknowledged a lease it no longer
   * remembers; its own first election cannot come sooner anyway.
   */
  readonly leaseReads: boolean;
  /**
   * When the commit index moves, followers hear of it with the next append
   * (under load, entries flow anyway) or at the next tick, instead of from
   * an append sent only to carry it (off). On halves the messages of a lone
   * command; a follower then applies up to a tick later, except for a read
   * it asked for, whose index the leader sends at once.
   */
  readonly lazyCommitNotify: boolean;
}

/** Returns a fresh copy of the defaults: 10 election ticks, 1 heartbeat tick, pre-vote and check-quorum on. */
export function defaultConfig(): ProtocolConfig {
  return {
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    maxInflightMessages: 256,
    maxEntriesPerMessage: 4096,
    maxBytesPerMessage: 512 * 1024,
    maxCommittedPerReady: 4096,
    leaseDriftTicks: 2,
    leaseReads: false,
    lazyCommitNotify: false,
  };
}

const POSITIVE_INTEGERS = [
  'electionTicks',
  'heartbeatTicks',
  'maxInflightMessages',
  'maxEntriesPerMessage',
  'maxBytesPerMessage',
  'maxCommittedPerReady',
] as const;

/**
 * Returns the problems with `config`, each naming the fields involved and
 * their values; an empty list means the configuration is usable.
 */
export function configProblems(config: ProtocolConfig): string[] {
  const problems: string[] = [];
  for (const field of POSITIVE_INTEGERS) {
    const v = config[field];
    if (!Number.isSafeInteger(v) || v < 1)
      problems.push(`${field} (${String(v)}) must be a positive integer`);
  }
  for (const field of ['preVote', 'checkQuorum', 'leaseReads', 'lazyCommitNotify'] as const) {
    if (typeof config[field] !== 'boolean')
      problems.push(`${field} (${String(config[field])}) must be true or false`);
  }
  const drift = config.leaseDriftTicks;
  if (!Number.isSafeInteger(drift) || drift < 0) {
    problems.push(`leaseDriftTicks (${String(drift)}) must be a non-negative integer`);
  }
  if (problems.length > 0) return problems;
  if (config.electionTicks < 2 * config.heartbeatTicks) {
    problems.push(
      `electionTicks (${config.electionTicks}) must be at least 2 × heartbeatTicks (${config.heartbeatTicks}), ` +
        'or followers time out between heartbeats',
    );
  }
  if (drift >= config.electionTicks) {
    problems.push(`leaseDriftTicks (${drift}) must be less than electionTicks (${config.electionTicks})`);
  }
  return problems;
}

/**
 * Fills missing fields from defaultConfig() and validates the result.
 * @returns the complete configuration
 * @throws ConfigError listing every problem, each naming its fields, and every
 *   key of `partial` that is not a ProtocolConfig field
 */
export function validateConfig(partial: Partial<ProtocolConfig> = {}): ProtocolConfig {
  const defaults = defaultConfig();
  const unknown = unknownKeyProblems(partial, defaults, 'ProtocolConfig');
  if (unknown.length > 0) throw new ConfigError(unknown);
  const config = { ...defaults, ...partial };
  const problems = configProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
