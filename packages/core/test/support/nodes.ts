import {
  MachineHost,
  MemoryLogStore,
  MemorySnapshotStore,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  systemClock,
  type Applier,
  type LogStore,
  type NodeConfig,
  type SnapshotStore,
  type StableStore,
  type Transport,
} from '../../src/index';
import { KvMachine } from '../state-machine/kv-machine';

/** Polls cond every 5 ms, up to 5 s of attempts. @throws Error naming what it waited for */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An applier that counts the commands it applied and returns the count from each. */
export const counter = (): Applier & { applied: number } => {
  const a = {
    applied: 0,
    validate: () => {},
    apply: () => ({ ok: true as const, value: ++a.applied }),
    query: () => a.applied,
    snapshot: () => new Uint8Array(),
    restore: () => {},
  };
  return a;
};

/** Fast timers for in-process clusters on real time. */
export const FAST = { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5 } as const;

export interface KvNodeOptions {
  readonly voters: readonly string[];
  readonly transport: Transport;
  readonly seed: number;
  readonly logStore?: LogStore;
  readonly stableStore?: StableStore;
  readonly snapshotStore?: SnapshotStore;
  readonly config?: Partial<NodeConfig>;
}

/** A RaftNode running the test KvMachine on in-memory stores (unless given), with FAST timers. */
export function kvNode(id: string, o: KvNodeOptions) {
  const host = new MachineHost(new KvMachine());
  const node = new RaftNode({
    id,
    voters: o.voters,
    logStore: o.logStore ?? new MemoryLogStore(),
    stableStore: o.stableStore ?? new MemoryStableStore(),
    snapshotStore: o.snapshotStore ?? new MemorySnapshotStore(),
    transport: o.transport,
    clock: systemClock,
    random: seededRandom(o.seed),
    applier: host,
    config: { ...FAST, ...o.config },
  });
  return { id, node, host, kv: () => (host.machine as KvMachine).entries };
}
