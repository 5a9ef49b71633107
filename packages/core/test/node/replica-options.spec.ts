import {
  ConfigError,
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  RaftNode,
  Replica,
  resolveNodeConfig,
  seededRandom,
  systemClock,
  validateConfig,
  type ReplicaOptions,
} from '../../src/index';
import { FAST, until } from '../support/nodes';
import { KvMachine } from '../state-machine/kv-machine';

/** The ConfigError `fn` throws (fails the test when it throws nothing, or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, got none');
}

function stores() {
  return { log: new MemoryLogStore(), stable: new MemoryStableStore(), snaps: new MemorySnapshotStore() };
}

function singleReplica(s: ReturnType<typeof stores>, net: MemoryNetwork): Replica<KvMachine> {
  return new Replica({
    id: 'n1',
    voters: ['n1'],
    machine: new KvMachine(),
    logStore: s.log,
    stableStore: s.stable,
    snapshotStore: s.snaps,
    transport: net.transport('n1'),
    random: seededRandom(9),
    config: { ...FAST, snapshotEntries: 10, snapshotTrailingEntries: 2 },
  });
}

describe('Replica - takes every RaftNode option', () => {
  it('snapshots and compacts through its snapshotStore, and restarts from the snapshot', async () => {
    const s = stores();
    const net = new MemoryNetwork();
    const first = singleReplica(s, net);
    await first.start();
    try {
      await until(() => first.node.isLeader(), 'a leader');
      for (let i = 0; i < 30; i++) await first.commands.put(`k${i}`, `v${i}`);
      await until(() => first.status().snapshotIndex >= 20, 'a snapshot past index 20');
      expect(await s.snaps.latest()).toMatchObject({ index: first.status().snapshotIndex });
      expect(await s.log.firstIndex()).toBeGreaterThan(10); // compacted behind the snapshot
    } finally {
      await first.stop();
    }

    const snapshotIndex = (await s.snaps.latest())!.index;
    const firstIndex = await s.log.firstIndex();
    const second = singleReplica(s, net);
    await second.start();
    try {
      // k0 lies in the compacted prefix: only the snapshot can have brought it back.
      expect(firstIndex).toBeGreaterThan(2);
      expect(second.status().snapshotIndex).toBe(snapshotIndex);
      expect(second.machine.entries.get('k0')).toBe('v0');
      await until(() => second.node.isLeader(), 'a leader after the restart');
      expect(await second.queries.get('k29')).toBe('v29');
      expect(second.machine.entries.size).toBe(30);
    } finally {
      await second.stop();
    }
  }, 20_000);
});

describe('unknown option keys - a ConfigError naming the key and where it was found', () => {
  const base = () => ({
    id: 'n1',
    voters: ['n1'],
    machine: new KvMachine(),
    logStore: new MemoryLogStore(),
    stableStore: new MemoryStableStore(),
    transport: new MemoryNetwork().transport('n1'),
  });

  it("Replica options: a misspelt snapshotStore is refused with 'did you mean'", () => {
    const options = { ...base(), snapshotstore: new MemorySnapshotStore() };
    const err = configError(() => new Replica(options as unknown as ReplicaOptions<KvMachine>));
    expect(err.problems).toEqual([
      "Replica options: unknown key 'snapshotstore' (did you mean 'snapshotStore'?)",
    ]);
  });

  it('Replica options: every unknown key is named, a far-off one without a suggestion', () => {
    const options = { ...base(), snapshotEntriez: 5, zzz: 1 };
    const err = configError(() => new Replica(options as unknown as ReplicaOptions<KvMachine>));
    expect(err.problems).toEqual([
      "Replica options: unknown key 'snapshotEntriez'",
      "Replica options: unknown key 'zzz'",
    ]);
  });

  it('Replica config: a snapshot threshold misspelt inside config is refused', () => {
    const options = { ...base(), config: { snapshotEntires: 10 } };
    const err = configError(() => new Replica(options as unknown as ReplicaOptions<KvMachine>));
    expect(err.problems).toEqual([
      "NodeConfig: unknown key 'snapshotEntires' (did you mean 'snapshotEntries'?)",
    ]);
  });

  it('Replica hostOptions: an unknown key is refused', () => {
    const options = { ...base(), hostOptions: { sessionTTLMs: 5 } };
    const err = configError(() => new Replica(options as unknown as ReplicaOptions<KvMachine>));
    expect(err.problems).toEqual([
      "MachineHost options: unknown key 'sessionTTLMs' (did you mean 'sessionTtlMs'?)",
    ]);
  });

  it('RaftNode options: an unknown key is refused before anything starts', () => {
    const { machine, ...rest } = base();
    const options = {
      ...rest,
      clock: systemClock,
      random: seededRandom(1),
      applier: new MachineHost(machine),
      snapshotstore: new MemorySnapshotStore(),
    };
    const err = configError(
      () => new RaftNode(options as unknown as ConstructorParameters<typeof RaftNode>[0]),
    );
    expect(err.problems).toEqual([
      "RaftNode options: unknown key 'snapshotstore' (did you mean 'snapshotStore'?)",
    ]);
  });

  it('resolveNodeConfig: an unknown NodeConfig key is refused', () => {
    const err = configError(() => resolveNodeConfig({ electionTimeout: 500 } as never));
    expect(err.problems).toEqual([
      "NodeConfig: unknown key 'electionTimeout' (did you mean 'electionTimeoutMs'?)",
    ]);
  });

  it('resolveNodeConfig: a config that is not an object is refused', () => {
    const err = configError(() => resolveNodeConfig(null as never));
    expect(err.problems).toEqual(['NodeConfig must be an object (got null)']);
  });

  it('validateConfig: an unknown ProtocolConfig key is refused', () => {
    const err = configError(() => validateConfig({ prevote: false } as never));
    expect(err.problems).toEqual(["ProtocolConfig: unknown key 'prevote' (did you mean 'preVote'?)"]);
  });

  it('MachineHost: an unknown option key is refused', () => {
    const err = configError(() => new MachineHost(new KvMachine(), { maxSession: 3 } as never));
    expect(err.problems).toEqual([
      "MachineHost options: unknown key 'maxSession' (did you mean 'maxSessions'?)",
    ]);
  });

  it('known keys are accepted, an undefined value included', () => {
    expect(
      () => new Replica({ ...base(), snapshotStore: undefined, config: { snapshotEntries: 5 } }),
    ).not.toThrow();
    expect(resolveNodeConfig({ snapshotEntries: 5 }).node.snapshotEntries).toBe(5);
  });
});
