import type { NodeId } from '@raftline/core';
import {
  SimClient,
  proposeWithRetries,
  queryWithRetries,
  type SimCommand,
  type SimProposeOptions,
  type SimQueryOptions,
} from './client';
import { ManagedCluster } from './cluster-membership';
import { resolveSimOptions, type ResolvedSimOptions, type SimClusterOptions } from './options';

/** What submit() returns, like the Raft paper's Start(). */
export interface SubmitResult {
  /** The log index the command will occupy if it commits; -1 when the node is not the leader. */
  readonly index: number;
  /** The node's current term. */
  readonly term: number;
  readonly isLeader: boolean;
}

/**
 * A whole Raft cluster in one process, on a virtual clock and a simulated
 * network with faults: partitions, disconnections, loss, delay, duplication,
 * reordering, crashes and restarts with durable state kept. Every random
 * choice derives from the seed, so a run replays exactly.
 *
 * Nothing moves unless virtual time is advanced: by advance(ms), or by
 * propose()/client().propose()/query()/sleep() and the membership and
 * transfer operations, which advance it themselves while nobody else does.
 *
 * Membership changes (addNode, removeNode, addLearner, promote) run through
 * the leader as RaftNode's do; `ids` follows the committed configuration. A
 * removed node keeps running (crash() it to retire it) and stays subject to
 * check().
 *
 * Its API is in layers, one file for each section: time and the members
 * (cluster-core.ts), observation (cluster-observation.ts), faults
 * (cluster-faults.ts), membership, transfer and verification
 * (cluster-membership.ts), and here creation and commands.
 */
export class SimCluster extends ManagedCluster {
  private readonly clients = new Map<string, SimClient>();
  private nextCallId = 0;

  private constructor(options: ResolvedSimOptions, raw: SimClusterOptions) {
    super(options, raw);
  }

  /**
   * Builds and starts a cluster.
   * @throws ConfigError naming each invalid option
   */
  static async create(options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(resolveSimOptions(options), options);
    for (const id of cluster.ids) await cluster.drive(cluster.slot(id).start());
    return cluster;
  }

  // ------------------------------------------------------------- commands

  /**
   * Starts agreement on command at node id and returns at once (the Raft
   * paper's Start()): no session, no retry, no waiting. As RaftNode.propose,
   * it validates only on a leader that has applied an entry of its term
   * (status().appliedOwnTerm); elsewhere it takes nothing and returns
   * isLeader: false (a leader elected a moment ago: try again shortly).
   * @throws CommandRejectedError / UnknownCommandError when the state machine refuses the command
   */
  submit(id: NodeId, command: SimCommand): SubmitResult {
    const slot = this.slot(id);
    const inc = slot.current;
    if (!inc) return { index: -1, term: slot.stable.loadSync()?.term ?? 0, isLeader: false };
    const request = { name: command.name, args: command.args };
    const before = inc.node.status();
    if (!before.appliedOwnTerm) return { index: -1, term: before.term, isLeader: false };
    inc.applier.validate(request);
    inc.node.propose(request).catch(() => undefined);
    const after = inc.node.status();
    const accepted = after.lastIndex > before.lastIndex;
    return { index: accepted ? after.lastIndex : -1, term: after.term, isLeader: accepted };
  }

  /**
   * Runs command through the full client path, under a session of its own:
   * redirects, retries with the same session (so it applies at most once),
   * advancing virtual time while waiting.
   * @returns the command's result
   * @throws ProposalTimeoutError after timeoutMs (outcome unknown), or what the state machine reports
   */
  propose(command: SimCommand, options: SimProposeOptions = {}): Promise<unknown> {
    const session = { clientId: `call-${++this.nextCallId}`, seq: 1, ackedBelow: 1 };
    return this.drive(proposeWithRetries(this, command, session, options));
  }

  /** The client called name (created on first use), with its own session; see SimClient. */
  client(name: string): SimClient {
    let c = this.clients.get(name);
    if (!c) this.clients.set(name, (c = new SimClient(this, name)));
    return c;
  }

  /**
   * Runs a read-only query through the client path: the node asked (a
   * follower forwards to its leader) confirms the read as `consistency`
   * requires; on ReadNotConfirmedError or a crash the client asks another
   * node, advancing virtual time while waiting.
   * @returns the query's value
   * @throws ReadNotConfirmedError when no read was confirmed within timeoutMs
   * @throws UnknownCommandError for an unknown query; NodeStoppedError after stop()
   */
  query(name: string, args: readonly unknown[] = [], options: SimQueryOptions = {}): Promise<unknown> {
    return this.drive(queryWithRetries(this, name, args, options));
  }
}
