import type { LogStore } from '../ports/log-store';
import type { RaftProtocol } from '../protocol/raft';
import type {
  NodeId,
  SnapshotChunk,
  SnapshotChunkResponse,
  SnapshotInfo,
  SnapshotRequest,
} from '../protocol/types';
import type { Applier } from './applier';
import {
  readSnapshot,
  unwrapSnapshot,
  SnapshotReceiver,
  SnapshotSender,
  writeSnapshot,
  type TransferDeps,
} from './snapshot-transfer';

/** When to snapshot and how much log to keep (§7). */
export interface SnapshotSettings {
  /** Take a snapshot after this many entries applied since the last one (0 = never by count). */
  readonly snapshotEntries: number;
  /** Take a snapshot after this many payload bytes applied since the last one (0 = never by size). */
  readonly snapshotBytes: number;
  /**
   * And only once the payload bytes applied since the last snapshot reach
   * this many times that snapshot's size (0: no such floor); see NodeConfig.
   */
  readonly snapshotLogRatio: number;
  /** Entries kept in the log behind a snapshot, so slightly lagging followers catch up without one. */
  readonly snapshotTrailingEntries: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotChunkTimeoutMs: number;
}

/** The committed stream's outcome marks, stored with each snapshot (CommittedFeed.snapshotMarks()). */
export interface OutcomeMarks {
  /** Taken together with applier.snapshot(): the marks of the retained entries up to it. */
  capture(): Uint8Array;
  /**
   * Checks the marks a stored snapshot carries (undefined: it has none) and
   * returns what installs them, to call once the applier has restored.
   * @throws DecodeError for malformed marks
   */
  prepare(bytes: Uint8Array | undefined): () => void;
}

interface ManagerDeps extends TransferDeps {
  readonly protocol: () => RaftProtocol;
  readonly applier: Applier;
  readonly outcomes?: OutcomeMarks;
  readonly logStore: LogStore;
  readonly settings: SnapshotSettings;
  /** Asks the node to run its Ready loop (a compaction or an install became due). */
  readonly kick: () => void;
  /** Steps a message into the protocol as if it came from the network. */
  readonly step: (m: SnapshotRequest) => void;
}

/**
 * The node's snapshot bookkeeping: recovery at start, automatic snapshots
 * after enough applied entries or bytes, log compaction behind them, and the
 * chunked transfer to and from peers.
 */
export class SnapshotManager {
  /** Index of the newest durable snapshot (0 when none). */
  index = 0;
  private sinceEntries = 0;
  private sinceBytes = 0;
  /** Size of the newest snapshot's state-machine part (0 before any), for snapshotLogRatio. */
  private lastBytes = 0;
  /** The snapshot being written, while one is. */
  private creating: Promise<void> | undefined;
  /** Enough was applied since the last snapshot: take one after the current Ready. */
  private due = false;
  private compactTo = 0;
  /** Entries from this index on are kept (0: no floor). */
  private floor = 0;
  private readonly senders = new Map<NodeId, SnapshotSender>();
  private readonly receiver: SnapshotReceiver;

  constructor(private readonly deps: ManagerDeps) {
    this.receiver = new SnapshotReceiver(deps, (from, term, info) =>
      deps.step({ type: 'snapshot', from, to: deps.id, term, snapshot: info }),
    );
  }

  /** At start: restores the state machine from the newest snapshot. Returns it, or undefined. */
  async recover(): Promise<SnapshotInfo | undefined> {
    const meta = await this.deps.store.latest();
    if (!meta) return undefined;
    const { membership, app, outcomes } = unwrapSnapshot(await readSnapshot(this.deps.store));
    const marks = this.deps.outcomes?.prepare(outcomes);
    this.deps.applier.restore(app);
    marks?.();
    this.index = meta.index;
    this.lastBytes = app.byteLength;
    return { index: meta.index, term: meta.term, membership };
  }

  /** Installs a snapshot the protocol accepted from the leader (Ready.snapshot). */
  async install(info: SnapshotInfo): Promise<void> {
    const meta = await this.deps.store.latest();
    if (!meta || meta.index !== info.index)
      throw new Error(`snapshot ${info.index} is not the newest in the store`);
    const { app, outcomes } = unwrapSnapshot(await readSnapshot(this.deps.store));
    const marks = this.deps.outcomes?.prepare(outcomes);
    this.deps.applier.restore(app);
    marks?.();
    this.lastBytes = app.byteLength;
    const { logStore } = this.deps;
    await logStore.truncateSuffix(await logStore.firstIndex());
    await logStore.compactPrefix(info.index);
    this.index = info.index;
    this.sinceEntries = this.sinceBytes = 0;
  }

  /**
   * Counts an applied entry of `bytes` payload bytes; marks a snapshot due
   * when enough were applied: snapshotEntries or snapshotBytes reached, and
   * at least snapshotLogRatio × the last snapshot's size, so that the time a
   * node spends encoding snapshots (in proportion to its state) stays a
   * bounded share of the log it applies, however large the state grows.
   */
  afterApply(bytes: number): void {
    this.sinceEntries++;
    this.sinceBytes += bytes;
    const { snapshotEntries, snapshotBytes, snapshotLogRatio } = this.deps.settings;
    const due =
      ((snapshotEntries > 0 && this.sinceEntries >= snapshotEntries) ||
        (snapshotBytes > 0 && this.sinceBytes >= snapshotBytes)) &&
      this.sinceBytes >= snapshotLogRatio * this.lastBytes;
    if (due) this.due = true;
  }

  /**
   * Takes a due snapshot at appliedIndex. Called after the protocol's
   * advance(), so the snapshot records the membership as of that index.
   */
  maybeCreate(appliedIndex: number): void {
    if (!this.due || this.creating) return;
    this.due = false;
    this.create(appliedIndex)?.catch((err: unknown) =>
      this.deps.logger.error({ node: this.deps.id, err, index: appliedIndex }, 'snapshot failed'),
    );
  }

  /**
   * Takes a snapshot now (RaftNode.snapshotNow), as maybeCreate would: waits
   * for one being written, then snapshots the state at appliedIndex() unless
   * the newest snapshot already covers it. Call it between Readies: the
   * applier must hold exactly the state of appliedIndex().
   * @returns the index of the newest durable snapshot, once it is durable
   * @throws the store's error when the snapshot cannot be written
   */
  async createNow(appliedIndex: () => number): Promise<number> {
    while (this.creating) await this.creating.catch(() => undefined);
    await this.create(appliedIndex());
    return this.index;
  }

  /**
   * Takes a snapshot of the state as of appliedIndex now; writes it and
   * schedules compaction. The state is captured before this returns.
   * @returns the write, or undefined when the newest snapshot covers appliedIndex
   */
  private create(appliedIndex: number): Promise<void> | undefined {
    const protocol = this.deps.protocol();
    const term = protocol.log.term(appliedIndex);
    if (term === undefined || appliedIndex <= this.index) return undefined;
    this.sinceEntries = this.sinceBytes = 0;
    // Capture synchronously: the state is exactly that of appliedIndex (hashicorp/raft's FSMSnapshot idea).
    const data = this.deps.applier.snapshot();
    this.lastBytes = data.byteLength;
    const marks = this.deps.outcomes?.capture();
    const info: SnapshotInfo = { index: appliedIndex, term, membership: protocol.members() };
    const write = (async () => {
      await writeSnapshot(this.deps.store, info, data, this.deps.settings.snapshotChunkBytes, marks);
      protocol.snapshotCreated(info);
      this.index = Math.max(this.index, info.index);
      this.compactTo = Math.max(this.compactTo, info.index - this.deps.settings.snapshotTrailingEntries);
      this.deps.kick();
    })();
    const settled = write.finally(() => {
      if (this.creating === settled) this.creating = undefined;
    });
    this.creating = settled;
    return settled;
  }

  retainFrom(index: number): void {
    this.floor = Math.max(0, index);
  }

  private compactionTarget(): number {
    const to = Math.min(this.compactTo, this.deps.protocol().log.applied);
    return this.floor > 0 ? Math.min(to, this.floor - 1) : to;
  }

  /** Whether a compaction waits to run. */
  compactionDue(): boolean {
    const log = this.deps.protocol().log;
    return this.compactionTarget() >= log.firstIndex();
  }

  /** Runs a due compaction; called by the Ready loop between Readies so store writes never overlap. */
  async compactIfDue(): Promise<void> {
    const protocol = this.deps.protocol();
    const to = this.compactionTarget();
    if (to < protocol.log.firstIndex()) return;
    // The store first: if it fails, memory still shows the work as due, so the retry really retries.
    await this.deps.logStore.compactPrefix(to);
    protocol.compact(to);
  }

  /**
   * Leader: the protocol wants `m.to` to receive the newest snapshot; start
   * streaming it. The protocol hears how it ended (reportSnapshot), so a
   * follower never waits on a transfer that is over.
   */
  send(m: SnapshotRequest): void {
    this.senders.get(m.to)?.stop();
    const report = (outcome: 'finished' | 'failed'): void => {
      if (this.senders.get(m.to) !== sender) return; // superseded by a newer transfer
      this.senders.delete(m.to);
      this.deps.protocol().reportSnapshot(m.to, outcome);
      this.deps.kick();
    };
    const sender = new SnapshotSender(
      this.deps,
      m.to,
      m.term,
      () => report('failed'),
      () => report('finished'),
    );
    this.senders.set(m.to, sender);
    sender.start().catch((err: unknown) => {
      this.deps.logger.error({ node: this.deps.id, to: m.to, err }, 'snapshot could not be read');
      sender.stop();
      report('failed');
    });
  }

  /**
   * Follower: one chunk from the leader's runtime. A snapshot this node
   * already holds (a re-sent one, or one older than its commit index) must
   * never replace a newer one; it is answered instead, both to the sender
   * (the transfer is over) and through the protocol, whose append-resp tells
   * the leader where this log is. Without that answer a leader that lost the
   * install's acknowledgement would resend the snapshot forever.
   */
  onChunk(m: SnapshotChunk): void {
    const protocol = this.deps.protocol();
    if (m.term < protocol.status().term) return; // from a deposed leader
    if (m.snapshot.index <= Math.max(this.index, protocol.log.committed)) {
      this.receiver.held(m);
      if (m.snapshot.index <= protocol.log.committed) {
        this.deps.step({
          type: 'snapshot',
          from: m.from,
          to: this.deps.id,
          term: m.term,
          snapshot: m.snapshot,
        });
      }
      return;
    }
    this.receiver.onChunk(m);
  }

  onChunkResponse(m: SnapshotChunkResponse): void {
    this.senders.get(m.from)?.onResponse(m);
  }

  /** Stops every outgoing transfer (leadership ended, or the node stops). */
  stopSending(): void {
    for (const s of this.senders.values()) s.stop();
    this.senders.clear();
  }
}
