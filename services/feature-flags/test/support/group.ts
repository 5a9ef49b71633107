// Three FeatureFlags replicas in this process (core's Replica on a
// MemoryNetwork, in-memory stores kept across restarts), and a FlagSource
// over one of them: snapshots by a linearizable query on that replica, the
// committed stream from its RaftNode.committed(), writes through the leader.
import {
  commandProxy,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  NotLeaderError,
  ReadNotConfirmedError,
  Replica,
  type CommandsOf,
} from '@raftline/core';
import { FeatureFlags, type EnvironmentSnapshot, type FlagSource } from '../../src/index';

const IDS = ['n1', 'n2', 'n3'];
const FAST = { electionTimeoutMs: 150, heartbeatMs: 30, tickMs: 5 };

interface Stores {
  readonly logStore: MemoryLogStore;
  readonly stableStore: MemoryStableStore;
  readonly snapshotStore: MemorySnapshotStore;
}

export class Group {
  private readonly network = new MemoryNetwork();
  private readonly stores = new Map<string, Stores>(
    IDS.map((id) => [
      id,
      {
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        snapshotStore: new MemorySnapshotStore(),
      },
    ]),
  );
  readonly replicas = new Map<string, Replica<FeatureFlags>>();
  /** Commands, sent to whichever replica leads (retried on NotLeaderError). */
  readonly commands: CommandsOf<FeatureFlags> = commandProxy<FeatureFlags>((c) => this.propose(c));

  constructor(private readonly snapshotEntries = 10_000) {}

  get ids(): readonly string[] {
    return IDS;
  }

  async start(ids: readonly string[] = IDS): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        const r = new Replica({
          id,
          voters: IDS,
          machine: new FeatureFlags(),
          ...this.stores.get(id)!,
          transport: this.network.transport(id),
          config: {
            ...FAST,
            snapshotEntries: this.snapshotEntries,
            snapshotLogRatio: 0,
            snapshotTrailingEntries: 0,
          },
        });
        this.replicas.set(id, r);
        await r.start();
      }),
    );
  }

  async stop(ids: readonly string[] = [...this.replicas.keys()]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        await this.replicas.get(id)?.stop();
        this.replicas.delete(id);
      }),
    );
  }

  replica(id: string): Replica<FeatureFlags> {
    const r = this.replicas.get(id);
    if (!r) throw new Error(`replica ${id} is not running`);
    return r;
  }

  /** A command through the leader, waiting for one to be elected. */
  async propose(command: { name: string; args: readonly unknown[] }): Promise<unknown> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const leader = [...this.replicas.values()].find((r) => r.status().role === 'leader');
      try {
        if (leader) return await leader.propose(command);
      } catch (err) {
        if (!(err instanceof NotLeaderError) || Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error('no leader');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A linearizable query on replica id, asked again while no leader confirms it. */
  async query(id: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return (await this.replica(id).query(name, args, { consistency: 'linearizable' })).value;
      } catch (err) {
        if (!(err instanceof ReadNotConfirmedError) || Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A FlagSource over replica id (the snapshot and the stream come from it). */
  source(id: string, wrap: Partial<FlagSource> = {}): FlagSource {
    return {
      snapshot: async (env) => (await this.query(id, 'environmentSnapshot', [env])) as EnvironmentSnapshot,
      committed: (fromIndex, signal) => this.replica(id).committed({ fromIndex, outcomes: 'all', signal }),
      commands: this.commands,
      ...wrap,
    };
  }
}
