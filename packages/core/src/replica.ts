import { silentLogger } from './logger';
import { checkKnownKeys, type KnownKeys } from './known-keys';
import {
  RAFT_NODE_OPTION_KEYS,
  RaftNode,
  type NodeStatus,
  type ProposeOptions,
  type QueryOptions,
  type QueryResult,
  type RaftNodeOptions,
} from './node/raft-node';
import type { CommittedEvent } from './node/committed-feed';
import type { CommandRequest } from './node/command';
import { systemClock, type Clock } from './ports/clock';
import { seededRandom, type RandomSource } from './protocol/random';
import { MachineHost, type MachineHostOptions } from './state-machine/host';
import type { ReplicatedStateMachine } from './state-machine/machine';
import { commandProxy, queryProxy, type CommandsOf, type QueriesOf } from './state-machine/proxy';

/**
 * Everything one replica is assembled from: every RaftNode option (stores,
 * snapshot store, transport, config with its snapshot thresholds, logger)
 * except the applier, which is the MachineHost around `machine`; clock and
 * random have defaults. Derived from RaftNodeOptions, so a new RaftNode
 * option is a Replica option too.
 */
export interface ReplicaOptions<M extends ReplicatedStateMachine> extends Omit<
  RaftNodeOptions,
  'applier' | 'clock' | 'random'
> {
  readonly machine: M;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: seeded from the system clock and process id; pass seededRandom(n) for reproducible runs. */
  readonly random?: RandomSource;
  readonly hostOptions?: MachineHostOptions;
}

const { applier: _applier, ...NODE_KEYS_BUT_APPLIER } = RAFT_NODE_OPTION_KEYS;

/** The keys ReplicaOptions may hold: RaftNode's (but applier) and the replica's own. */
const REPLICA_OPTION_KEYS: KnownKeys<ReplicaOptions<ReplicatedStateMachine>> = {
  ...NODE_KEYS_BUT_APPLIER,
  machine: true,
  hostOptions: true,
};

/**
 * One replica of a user's state machine: a RaftNode driving a MachineHost,
 * with typed proxies. `replica.commands.put('k', 'v')` proposes through Raft
 * and resolves with put's return value once applied here;
 * `replica.queries.get('k')` is a linearizable read (ReadIndex) served by this
 * replica; `replica.query(name, args, { consistency })` picks the level.
 */
export class Replica<M extends ReplicatedStateMachine> {
  readonly node: RaftNode;
  readonly host: MachineHost;
  readonly machine: M;
  /** Typed commands: each call validates, replicates, applies, and resolves with the handler's result. */
  readonly commands: CommandsOf<M>;
  /** Typed linearizable queries (ReadIndex), answered from this replica's state. */
  readonly queries: QueriesOf<M>;

  /**
   * @throws ConfigError for an unknown option key or an invalid config or hostOptions
   * @throws MissingHandlerError, DuplicateHandlerError for a bad machine
   */
  constructor(options: ReplicaOptions<M>) {
    checkKnownKeys(options, REPLICA_OPTION_KEYS, 'Replica options');
    const { machine, hostOptions, clock, random, ...nodeOptions } = options;
    this.machine = machine;
    this.host = new MachineHost(machine, hostOptions);
    this.node = new RaftNode({
      ...nodeOptions,
      clock: clock ?? systemClock,
      random: random ?? seededRandom((Date.now() ^ (process.pid << 16)) >>> 0),
      applier: this.host,
      logger: nodeOptions.logger ?? silentLogger,
    });
    this.commands = commandProxy<M>((req) => this.node.propose(req));
    this.queries = queryProxy<M>(async (req) => (await this.node.query(req.name, req.args)).value);
  }

  /** Proposes a command by name, with options (timeout, client session). See RaftNode.propose for errors. */
  propose(request: CommandRequest, options?: ProposeOptions): Promise<unknown> {
    return this.node.propose(request, options);
  }

  /** Runs a query with the chosen consistency. See RaftNode.query for guarantees and errors. */
  query(name: string, args: readonly unknown[] = [], options?: QueryOptions): Promise<QueryResult> {
    return this.node.query(name, args, options);
  }

  start(): Promise<void> {
    return this.node.start();
  }

  /** Stops the replica; with transferLeadership a leader hands over first. */
  stop(options?: { transferLeadership?: boolean }): Promise<void> {
    return this.node.stop(options);
  }

  status(): NodeStatus {
    return this.node.status();
  }

  /** The committed stream of this replica: RaftNode.committed, with the same options. */
  committed(options?: Parameters<RaftNode['committed']>[0]): AsyncIterable<CommittedEvent> {
    return this.node.committed(options);
  }
}
