import type { Entry, Message, NodeId, Role } from '../protocol/types';
import type { CommandRequest } from './command';
import { CommittedFeed } from './committed-feed';
import type { NodeContext } from './context';
import { MembershipOps } from './membership';
import type { RaftNodeOptions } from './options';
import { Proposals } from './proposals';
import { ReadyLoop } from './ready-loop';
import { NodeReads } from './reads';
import { SnapshotManager } from './snapshots';
import { NodeStorage } from './storage';
import { TickProposer } from './ticks';
import { LeadershipTransfer } from './transfer';
import { Verifier } from './verification';

/** The parts a RaftNode is made of, each in its own file; raft-node.ts holds them together. */
export interface NodeParts {
  readonly storage: NodeStorage;
  readonly transfers: LeadershipTransfer;
  readonly proposals: Proposals;
  readonly membership: MembershipOps;
  readonly reads: NodeReads;
  readonly feed: CommittedFeed;
  readonly verification: Verifier;
  readonly snapshots: SnapshotManager | undefined;
  readonly ticks: TickProposer;
  readonly loop: ReadyLoop;
}

/** What the parts ask of the node beyond its NodeContext. */
export interface NodeHooks {
  /** Runs a query against the local state (RaftNode.queryLocal). */
  readonly queryLocal: (name: string, args: readonly unknown[]) => { value: unknown; appliedIndex: number };
  /** The entries [lo, hi) the node's log still holds. */
  readonly readLog: (lo: number, hi: number) => Entry[];
  /** Whether the node's last Ready said it leads. */
  readonly leads: () => boolean;
  /** Whether the node is running and leads now (RaftNode.isLeader). */
  readonly isLeader: () => boolean;
  /** RaftNode.propose. */
  readonly propose: (request: CommandRequest) => Promise<unknown>;
  /** Hands a message to the node as if it had arrived (a finished snapshot install). */
  readonly receive: (m: Message) => void;
  /** A Ready reported a role or leader change. */
  readonly changeRole: (role: Role, leaderId: NodeId, term: number) => void;
}

/** Builds and wires the parts of the node `ctx` describes. */
export function buildNodeParts(options: RaftNodeOptions, ctx: NodeContext, hooks: NodeHooks): NodeParts {
  const { id, clock, logger, config } = ctx;
  const { applier, transport } = options;
  const storage = new NodeStorage(ctx, options);
  const transfers = new LeadershipTransfer(ctx);
  const proposals = new Proposals(ctx, transfers);
  const membership = new MembershipOps(ctx, proposals);
  const reads = new NodeReads(ctx, hooks.queryLocal);
  const feed = new CommittedFeed(
    config.streamResultWindow,
    hooks.readLog,
    () => ctx.protocol()?.log.firstIndex() ?? 1,
  );
  const verification = new Verifier({
    id,
    clock,
    applier,
    config,
    logger,
    propose: (data, opts) =>
      proposals.appendAndWait(opts, (p) => ({ ...p.propose([data]), bytes: data.byteLength })),
    leadership: () => ({ leader: hooks.leads(), term: ctx.protocol()?.hardState().term ?? 0 }),
    applied: () => ctx.protocol()?.log.applied ?? 0,
  });
  const store = options.snapshotStore;
  const snapshots =
    store &&
    new SnapshotManager({
      id,
      store,
      clock,
      send: (m) => transport.send([m]),
      logger,
      chunkBytes: config.snapshotChunkBytes,
      chunkTimeoutMs: config.snapshotChunkTimeoutMs,
      protocol: () => ctx.protocol()!,
      applier,
      outcomes: feed.snapshotMarks(),
      logStore: options.logStore,
      settings: config,
      kick: ctx.kick,
      step: hooks.receive,
    });
  const ticks = new TickProposer(
    { id, clock, logger, propose: hooks.propose, leads: hooks.isLeader },
    applier.ticks?.() ?? [],
  );
  const loop = new ReadyLoop({
    id,
    logger,
    transport,
    storage,
    snapshots,
    feed,
    verification,
    reads,
    proposals,
    transfers,
    applyParts: { applier, verification, proposals, feed, snapshots },
    isRunning: ctx.isRunning,
    protocol: ctx.protocol,
    changeRole: hooks.changeRole,
  });
  return { storage, transfers, proposals, membership, reads, feed, verification, snapshots, ticks, loop };
}
