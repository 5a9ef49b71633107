/**
 * The pieces one incarnation of a simulated node is assembled from. A crash
 * kills the incarnation at once: its timers are cancelled and never fire
 * again, its transport neither sends nor receives, and a store write it
 * attempts never completes (so nothing it does after the crash becomes
 * durable). The durable stores themselves outlive it.
 */
import { createHash } from 'node:crypto';
import {
  MemorySnapshotStore,
  encodeCommand,
  unpack,
  type Applier,
  type Cancel,
  type Clock,
  type CommandRequest,
  type Entry,
  type HardState,
  type Logger,
  type LogStore,
  type NodeId,
  type SnapshotMeta,
  type SnapshotStore,
  type StableStore,
} from '@raftline/core';
import type { NodeView, SafetyMonitor } from './safety';

/** Liveness of one incarnation, and the timers it holds. */
export interface Life {
  dead: boolean;
  readonly timers: Set<Cancel>;
  /** Called once, when the incarnation dies. */
  readonly onDeath: Set<() => void>;
}

/** A new, living incarnation. */
export function newLife(): Life {
  return { dead: false, timers: new Set(), onDeath: new Set() };
}

/** Marks the incarnation dead and cancels every timer it holds. */
export function kill(life: Life): void {
  if (life.dead) return;
  life.dead = true;
  for (const cancel of life.timers) cancel();
  life.timers.clear();
  const callbacks = [...life.onDeath];
  life.onDeath.clear();
  for (const f of callbacks) f();
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A Clock whose timers belong to one incarnation: they die with it. */
export function incarnationClock(clock: Clock, life: Life): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => {
      if (life.dead) return () => {};
      const cancel = clock.setTimeout(() => {
        life.timers.delete(cancel);
        if (!life.dead) fn();
      }, ms);
      life.timers.add(cancel);
      return () => {
        cancel();
        life.timers.delete(cancel);
      };
    },
  };
}

/**
 * How one incarnation writes: each write takes delay() ms of virtual time on
 * the incarnation's clock (0: at once) and becomes durable all at once at the
 * end. A write that has not completed when the incarnation dies never does.
 */
export function writer(
  life: Life,
  clock: Clock,
  delay: () => number,
): <T>(write: () => Promise<T>) => Promise<T> {
  return async <T>(write: () => Promise<T>): Promise<T> => {
    const ms = life.dead ? 0 : delay();
    if (ms > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    return life.dead ? never<T>() : write();
  };
}

/** A view of store for one incarnation, writing through `write` (see writer()). */
export function incarnationLogStore(store: LogStore, write: ReturnType<typeof writer>): LogStore {
  return {
    append: (entries: readonly Entry[]) => write(() => store.append(entries)),
    entries: (lo, hi) => store.entries(lo, hi),
    firstIndex: () => store.firstIndex(),
    lastIndex: () => store.lastIndex(),
    truncateSuffix: (from) => write(() => store.truncateSuffix(from)),
    compactPrefix: (upTo) => write(() => store.compactPrefix(upTo)),
    close: async () => {}, // the simulation owns the store across incarnations
  };
}

/** A view of store for one incarnation, writing through `write` (see writer()). */
export function incarnationStableStore(store: StableStore, write: ReturnType<typeof writer>): StableStore {
  return {
    load: () => store.load(),
    save: (state: HardState) => write(() => store.save(state)),
    close: async () => {},
  };
}

/** The newest durable snapshot of a node, as the safety monitor sees it. */
export interface DurableSnapshot {
  readonly index: number;
  readonly term: number;
  /** SHA-256 of the state machine's bytes: replicas that applied the same log store identical ones. */
  readonly digest: string;
  /** The configuration stored with it, e.g. 'voters n1,n2,n3; learners n4'. */
  readonly config: string;
}

const sorted = (ids: unknown): string[] => (Array.isArray(ids) ? ids.map(String).sort() : []);

/**
 * What a stored snapshot means: a digest of the state machine's state and
 * the configuration as sets. RaftNode stores [format, membership, state,
 * outcome marks?] (msgpack); the marks are per-node bookkeeping, not state. Replicas that applied the same log hold equal snapshots, but
 * not always equal bytes: the membership's field and voter order, and
 * whether bytes decode as Buffer or Uint8Array, vary without meaning
 * anything, so both parts are normalized. Bytes of any other shape are
 * digested as they are, with config '?'.
 */
export function snapshotContent(bytes: Uint8Array): { digest: string; config: string } {
  let v: unknown;
  try {
    v = unpack(bytes);
  } catch {
    v = undefined;
  }
  const hash = createHash('sha256');
  if (!(Array.isArray(v) && v.length >= 3 && v[2] instanceof Uint8Array)) {
    return { digest: hash.update(bytes).digest('hex'), config: '?' };
  }
  const m = (v[1] ?? {}) as { voters?: unknown; outgoing?: unknown; learners?: unknown };
  const parts = { voters: sorted(m.voters), outgoing: sorted(m.outgoing), learners: sorted(m.learners) };
  const config = Object.entries(parts)
    .filter(([, ids]) => ids.length > 0)
    .map(([k, ids]) => `${k} ${ids.join(',')}`)
    .join('; ');
  return { digest: hash.update(canonical(decoded(v[2]))).digest('hex'), config: config || 'no members' };
}

/** bytes unpacked, or the bytes themselves when they are not msgpack. */
function decoded(bytes: Uint8Array): unknown {
  try {
    return unpack(bytes);
  } catch {
    return bytes;
  }
}

/**
 * A rendering of a decoded value that ignores what carries no meaning:
 * whether bytes came back as a Buffer or a Uint8Array (msgpackr encodes the
 * two differently) and the order of an object's fields. Map and array order
 * count (they follow the log).
 */
function canonical(v: unknown): string {
  if (v instanceof Uint8Array) return `b${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof Map) return `M[${[...v].map(([k, x]) => `${canonical(k)}:${canonical(x)}`).join(',')}]`;
  if (v instanceof Set) return `S[${[...v].map(canonical).join(',')}]`;
  if (v instanceof Date) return `D${v.getTime()}`;
  if (v !== null && typeof v === 'object') {
    const fields = Object.keys(v).sort();
    return `{${fields.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? String(v);
}

/**
 * A node's durable snapshot storage, kept across its incarnations: a
 * MemorySnapshotStore plus a synchronous record of what it holds (the
 * store's own API is asynchronous).
 */
export class SnapshotDisk {
  readonly store = new MemorySnapshotStore();
  private newest: DurableSnapshot | undefined;

  /** The newest committed snapshot, or undefined. */
  latest(): DurableSnapshot | undefined {
    return this.newest;
  }

  /** Bytes of the stored snapshot (0 when none). */
  byteSize(): number {
    return this.store.byteSize();
  }

  /** Records what a commit just made durable (the store keeps the last one committed). */
  committed(meta: SnapshotMeta, chunks: readonly Uint8Array[]): void {
    this.newest = { index: meta.index, term: meta.term, ...snapshotContent(Buffer.concat(chunks)) };
  }
}

/**
 * A view of disk for one incarnation. Chunk writes are buffered; commit is
 * the durable write: it goes through `write` (taking the storage latency)
 * and never completes once the incarnation is dead, so a crash mid-snapshot
 * leaves the previous snapshot in place.
 */
export function incarnationSnapshotStore(
  disk: SnapshotDisk,
  write: ReturnType<typeof writer>,
): SnapshotStore {
  return {
    create: async (meta) => {
      const inner = await disk.store.create(meta);
      const chunks: Uint8Array[] = [];
      return {
        write: async (chunk) => {
          chunks.push(chunk.slice());
          await inner.write(chunk);
        },
        commit: () =>
          write(async () => {
            await inner.commit();
            disk.committed(meta, chunks);
          }),
        abort: () => inner.abort(),
      };
    },
    latest: () => disk.store.latest(),
    read: () => disk.store.read(),
    close: async () => {},
  };
}

/** What one node has applied, across all its incarnations. */
export interface AppliedRecord {
  readonly commands: Map<number, CommandRequest>;
  /** index → term and encoded command, to compare re-applications after a restart. */
  readonly keys: Map<number, string>;
}

function describeCommand(c: CommandRequest): string {
  const args = JSON.stringify(c.args) ?? '[]';
  return `${c.name}(${args.slice(1, -1)})`;
}

/**
 * An Applier in front of the real one that records every applied command
 * (into `record` and the monitor) and reports leadership to the monitor.
 */
export function recordingApplier(
  id: NodeId,
  inner: Applier,
  life: Life,
  record: AppliedRecord,
  monitor: SafetyMonitor,
  durable: () => Pick<NodeView, 'log' | 'snapshot'>,
): Applier {
  return {
    validate: (request) => inner.validate(request),
    apply: (command, ctx) => {
      if (!life.dead) {
        const key = `${ctx.term}:${Buffer.from(encodeCommand(command)).toString('base64')}`;
        const request: CommandRequest = command.session
          ? { name: command.name, args: command.args, session: command.session }
          : { name: command.name, args: command.args };
        const what = describeCommand(request);
        const before = record.keys.get(ctx.index);
        if (before !== undefined && before !== key) {
          const was = record.commands.get(ctx.index);
          monitor.fail(
            'state-machine safety',
            `${id} applied ${was ? describeCommand(was) : '?'} at index ${ctx.index}, then ${what} there after a restart`,
          );
        }
        record.keys.set(ctx.index, key);
        record.commands.set(ctx.index, request);
        monitor.applied(id, ctx.index, ctx.term, key, what);
      }
      return inner.apply(command, ctx);
    },
    query: (name, args) => inner.query(name, args),
    snapshot: () => inner.snapshot(),
    restore: (data) => inner.restore(data),
    ...(inner.digest ? { digest: () => inner.digest!() } : {}),
    ...(inner.ticks ? { ticks: () => inner.ticks!() } : {}),
    onRoleChange: (role, leaderId, term) => {
      if (!life.dead && role === 'leader') {
        const view = durable();
        monitor.leaderElected(id, term, view.log, view.snapshot);
      }
      inner.onRoleChange?.(role, leaderId, term);
    },
  };
}

function describeLog(obj: object): string {
  const err = (obj as { err?: unknown }).err;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return JSON.stringify(obj);
  } catch {
    return String(obj);
  }
}

/**
 * Warnings about the environment rather than the node: a peer that stayed
 * unreachable (crashed, cut off) through every retry of a snapshot transfer.
 */
const BENIGN_WARNINGS: ReadonlySet<string> = new Set(['snapshot transfer failed']);

/**
 * A Logger that reports every warning and error of a live incarnation to the
 * monitor as a 'node health' violation (a correct node in the simulation has
 * nothing to warn about, but for BENIGN_WARNINGS), and forwards everything
 * to `forward` if given.
 */
export function healthLogger(id: NodeId, life: Life, monitor: SafetyMonitor, forward?: Logger): Logger {
  const report = (obj: object, msg?: string): void => {
    if (!life.dead && !BENIGN_WARNINGS.has(msg ?? ''))
      monitor.fail('node health', `${id}: ${msg ?? 'error'} (${describeLog(obj)})`);
  };
  return {
    debug: (obj, msg) => forward?.debug(obj, msg),
    info: (obj, msg) => forward?.info(obj, msg),
    warn: (obj, msg) => {
      report(obj, msg);
      forward?.warn(obj, msg);
    },
    error: (obj, msg) => {
      report(obj, msg);
      forward?.error(obj, msg);
    },
  };
}
