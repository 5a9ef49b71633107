import type { Logger } from '../logger';
import type { Transport } from '../ports/transport';
import type { RaftProtocol } from '../protocol/raft';
import type { Entry, Message, NodeId, Ready, Role } from '../protocol/types';
import { applyEntries, type ApplyParts } from './apply';
import type { CommittedFeed } from './committed-feed';
import type { Proposals } from './proposals';
import type { NodeReads } from './reads';
import type { SnapshotManager } from './snapshots';
import type { NodeStorage } from './storage';
import type { LeadershipTransfer } from './transfer';
import type { Verifier } from './verification';

/** The node's parts the Ready loop drives, and the node's own state through callbacks. */
export interface ReadyLoopParts {
  readonly id: NodeId;
  readonly logger: Logger;
  readonly transport: Pick<Transport, 'send'>;
  readonly storage: NodeStorage;
  readonly snapshots: SnapshotManager | undefined;
  readonly feed: CommittedFeed;
  readonly verification: Verifier;
  readonly reads: NodeReads;
  readonly proposals: Proposals;
  readonly transfers: LeadershipTransfer;
  readonly applyParts: ApplyParts;
  /** Whether the node runs: the loop ends once it stops. */
  readonly isRunning: () => boolean;
  /** The protocol, once the node started. */
  readonly protocol: () => RaftProtocol | undefined;
  /** A Ready reported a role or leader change. */
  readonly changeRole: (role: Role, leaderId: NodeId, term: number) => void;
}

/**
 * The Ready loop: one step at a time, it takes the protocol's Ready, sends
 * what may go before persisting (a leader's appends, thesis §10.2.1),
 * installs a snapshot, applies the committed entries already durable here,
 * persists entries and hard state (retrying until the stores take them),
 * then sends the rest, applies the other committed entries, confirms reads
 * and advances the protocol. Work that arrives during a step joins
 * the next one, so a busy node batches by itself.
 */
export class ReadyLoop {
  private processing: Promise<void> | undefined;

  constructor(private readonly parts: ReadyLoopParts) {}

  /** The step in flight, if any (stop() waits for it). */
  get inFlight(): Promise<void> | undefined {
    return this.processing;
  }

  /** Starts the loop unless it is already running (it then picks up the new work itself). */
  kick(): void {
    const { isRunning, logger, id, protocol } = this.parts;
    if (this.processing || !isRunning()) return;
    this.processing = this.run()
      .catch((err: unknown) => logger.error({ node: id, err }, 'ready loop failed'))
      .finally(() => {
        this.processing = undefined;
        if (isRunning() && protocol()?.hasReady()) this.kick();
      });
  }

  private async run(): Promise<void> {
    const { storage, snapshots, feed, verification, reads, proposals, transfers, isRunning } = this.parts;
    const p = this.parts.protocol()!;
    while (isRunning()) {
      // Compaction runs between Readies, so store writes never overlap.
      if (snapshots?.compactionDue()) {
        if (!(await storage.retrying('log compaction', () => snapshots.compactIfDue()))) return;
      }
      if (!isRunning() || !p.hasReady()) return;
      const rd = p.ready();
      if (rd.softState) this.parts.changeRole(rd.softState.role, rd.softState.leaderId, p.hardState().term);
      this.sendLeaderMessages(rd);
      const snap = rd.snapshot;
      if (snap && !(await storage.retrying('snapshot install', () => snapshots!.install(snap)))) return;
      if (snap) {
        feed.skipTo(snap.index);
        verification.onSnapshotInstalled(snap.index);
      }
      // Committed entries this replica already holds durably are applied before this Ready's write,
      // so their callers are answered while it runs, not one write later.
      const early = snap ? 0 : durablePrefix(rd.committed, p.log.stable);
      const { committed } = rd;
      if (early > 0) {
        const part = early < committed.length ? committed.slice(0, early) : committed;
        applyEntries(part, this.parts.applyParts);
        p.appliedPart(part);
        reads.serve(p.log.applied);
      }
      const persisted = await storage.retrying('storage write', () => storage.persist(rd));
      if (!persisted) return; // stopped while retrying: nothing unpersisted is acknowledged
      if (rd.messages.length > 0) this.parts.transport.send(rd.messages);
      if (early < committed.length)
        applyEntries(early > 0 ? committed.slice(early) : committed, this.parts.applyParts);
      reads.confirm(rd.readStates);
      p.advance(rd);
      proposals.maybeCaughtUp(p);
      // After advance(): config entries of this Ready are applied too, so the snapshot's membership matches its index.
      if (!verification.stoppedApplying) snapshots?.maybeCreate(p.log.applied);
      reads.serve(p.log.applied);
      transfers.maybeEnd();
      verification.afterReady();
    }
  }

  /** Sends what may go before persisting; snapshot requests become a chunked transfer instead. */
  private sendLeaderMessages(rd: Ready): void {
    const out: Message[] = [];
    for (const m of rd.leaderMessages) {
      if (m.type === 'snapshot') this.parts.snapshots?.send(m);
      else out.push(m);
    }
    if (out.length > 0) this.parts.transport.send(out);
  }
}

/**
 * How many of the committed entries (ascending) are at or below stable, the
 * index this replica's log is durable to. They may be applied before the
 * Ready's own write: committed means durable on a quorum, and they are on
 * this replica's disk too, so no crash can take them back. (The rest are
 * applied once the write made them durable here as well.)
 */
function durablePrefix(committed: readonly Entry[], stable: number): number {
  let n = 0;
  while (n < committed.length && committed[n]!.index <= stable) n++;
  return n;
}
