import { CompactedError, LogGapError, SnapshotNotFoundError } from '../errors';
import type { Entry, HardState, Message, NodeId } from '../protocol/types';
import type { LogStore } from './log-store';
import type { SnapshotMeta, SnapshotStore, SnapshotWriter } from './snapshot-store';
import type { StableStore } from './stable-store';
import type { Transport } from './transport';

/** LogStore in memory. Not for production: nothing survives the process. */
export class MemoryLogStore implements LogStore {
  private log: Entry[] = [];
  private first = 1;

  async append(entries: readonly Entry[]): Promise<void> {
    this.appendSync(entries);
  }

  /** Synchronous append, for simulations that own the event loop. */
  appendSync(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const at = entries[0]!.index;
    const last = this.first + this.log.length - 1;
    if (at > last + 1) throw new LogGapError(at, last);
    if (at < this.first) throw new CompactedError(at, this.first);
    this.log.length = at - this.first;
    for (const e of entries) this.log.push(e);
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    return this.entriesSync(lo, hi);
  }

  entriesSync(lo: number, hi: number): Entry[] {
    if (lo < this.first) throw new CompactedError(lo, this.first);
    return this.log.slice(lo - this.first, Math.max(lo, hi) - this.first);
  }

  async firstIndex(): Promise<number> {
    return this.first;
  }

  async lastIndex(): Promise<number> {
    return this.lastIndexSync();
  }

  lastIndexSync(): number {
    return this.first + this.log.length - 1;
  }

  async truncateSuffix(from: number): Promise<void> {
    if (from < this.first) from = this.first;
    this.log.length = Math.min(this.log.length, from - this.first);
  }

  async compactPrefix(upTo: number): Promise<void> {
    if (upTo < this.first) return;
    this.log = this.log.slice(upTo - this.first + 1);
    this.first = upTo + 1;
  }

  /** Bytes held, payloads plus a fixed allowance per entry. */
  byteSize(): number {
    return this.log.reduce((n, e) => n + e.data.byteLength + 24, 0);
  }

  async close(): Promise<void> {}
}

/** StableStore in memory. Not for production. */
export class MemoryStableStore implements StableStore {
  private state: HardState | undefined;

  async load(): Promise<HardState | undefined> {
    return this.state;
  }

  async save(state: HardState): Promise<void> {
    this.state = { ...state };
  }

  loadSync(): HardState | undefined {
    return this.state;
  }

  async close(): Promise<void> {}
}

/** SnapshotStore in memory; keeps only the newest snapshot. Not for production. */
export class MemorySnapshotStore implements SnapshotStore {
  private current: { meta: SnapshotMeta; chunks: Uint8Array[] } | undefined;

  async create(meta: SnapshotMeta): Promise<SnapshotWriter> {
    const chunks: Uint8Array[] = [];
    let open = true;
    return {
      write: async (chunk) => {
        if (open) chunks.push(chunk.slice());
      },
      commit: async () => {
        if (open) this.current = { meta, chunks };
        open = false;
      },
      abort: async () => {
        open = false;
      },
    };
  }

  async latest(): Promise<SnapshotMeta | undefined> {
    return this.current?.meta;
  }

  async *read(): AsyncIterable<Uint8Array> {
    const snap = this.current;
    if (!snap) throw new SnapshotNotFoundError();
    for (const c of snap.chunks) yield c;
  }

  byteSize(): number {
    return this.current?.chunks.reduce((n, c) => n + c.byteLength, 0) ?? 0;
  }

  async close(): Promise<void> {}
}

/**
 * An in-process network joining MemoryTransports. Messages are delivered
 * asynchronously (on a later macrotask) and, like any network, may be lost
 * when a node is closed. Not for production.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<NodeId, (m: Message) => void>();

  transport(id: NodeId): Transport {
    return {
      send: (messages) => {
        for (const m of messages) {
          setImmediate(() => this.handlers.get(m.to)?.(m));
        }
      },
      listen: async (handler) => {
        this.handlers.set(id, handler);
      },
      close: async () => {
        this.handlers.delete(id);
      },
    };
  }
}
