import {
  ApplyTimeoutError,
  Command,
  ConfigError,
  DivergedError,
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  NodeStoppedError,
  NotLeaderError,
  Query,
  RaftNode,
  ReplicatedStateMachine,
  StateMachine,
  resolveNodeConfig,
  seededRandom,
  systemClock,
  type CommittedEvent,
  type Divergence,
  type Logger,
  type NodeConfig,
} from '../../src/index';
import { decodeVerification } from '../../src/node/verification';
import { FAST, until } from '../support/nodes';

/** A counter whose replicas can be made to disagree: each add counts n × step, step being local. */
@StateMachine('verify-counter')
class Counter extends ReplicatedStateMachine {
  total = 0;
  calls = 0;
  #step = 1;

  /** Makes this replica count wrong from now on (a bug, a flipped bit). */
  breakIt(): void {
    this.#step = 2;
  }

  @Command()
  add(n: number): number {
    this.calls++;
    this.total += n * this.#step;
    return this.total;
  }

  @Query()
  value(): number {
    return this.total;
  }
}

interface LogLine {
  readonly level: string;
  readonly msg: string | undefined;
  readonly obj: object;
}

function recorder(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, msg, obj });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Replica {
  readonly id: string;
  node: RaftNode;
  machine: Counter;
  readonly log: MemoryLogStore;
  readonly stable: MemoryStableStore;
  readonly lines: LogLine[];
}

let running: RaftNode[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop()));
  running = [];
});

const ids = ['n1', 'n2', 'n3'];

/** A fresh incarnation of r on its stores (kept across restarts). */
async function boot(
  r: Replica,
  net: MemoryNetwork,
  config: Partial<NodeConfig>,
  seed: number,
): Promise<void> {
  r.machine = new Counter();
  r.node = new RaftNode({
    id: r.id,
    voters: ids,
    logStore: r.log,
    stableStore: r.stable,
    snapshotStore: new MemorySnapshotStore(),
    transport: net.transport(r.id),
    clock: systemClock,
    random: seededRandom(seed),
    applier: new MachineHost(r.machine),
    config: { ...FAST, ...config },
    logger: recorder(r.lines),
  });
  running.push(r.node);
  await r.node.start();
}

/** Three replicas of Counter; resolves once one leads. */
async function cluster(config: Partial<NodeConfig> = {}) {
  const net = new MemoryNetwork();
  const replicas: Replica[] = ids.map((id) => ({
    id,
    node: undefined as unknown as RaftNode,
    machine: undefined as unknown as Counter,
    log: new MemoryLogStore(),
    stable: new MemoryStableStore(),
    lines: [],
  }));
  await Promise.all(replicas.map((r, k) => boot(r, net, config, k + 1)));
  await until(() => replicas.some((r) => r.node.isLeader()), 'a leader');
  const leader = replicas.find((r) => r.node.isLeader())!;
  const followers = replicas.filter((r) => r !== leader);
  const restart = async (r: Replica): Promise<void> => {
    await r.node.stop();
    await boot(r, net, config, 10);
  };
  return { replicas, leader, followers, restart };
}

/** Waits until every replica has applied index. */
async function appliedEverywhere(replicas: readonly Replica[], index: number): Promise<void> {
  await until(() => replicas.every((r) => r.node.status().appliedIndex >= index), `index ${index} applied`);
}

describe('consistency verification - RaftNode.verify and digestAt', () => {
  it('digests every replica at the marker index; each compares with the leader report and matches', async () => {
    const { replicas, leader } = await cluster();
    for (let k = 1; k <= 3; k++) await leader.node.propose({ name: 'add', args: [k] });
    const v = await leader.node.verify();
    expect(v.digest).toMatch(/^c1:[0-9a-f]{64}$/);
    expect(v.reportIndex).toBeGreaterThan(v.index);
    for (const r of replicas) expect(await r.node.digestAt(v.index)).toBe(v.digest);
    await appliedEverywhere(replicas, v.reportIndex);
    for (const r of replicas) {
      const s = r.node.status().verification;
      expect(s).toEqual({
        lastIndex: v.index,
        lastDigest: v.digest,
        lastMatchedIndex: v.index,
        compared: 1,
        stoppedApplying: false,
      });
    }
    // Neither the report nor a command is a marker.
    expect(await leader.node.digestAt(v.reportIndex)).toBeUndefined();
    expect(await leader.node.digestAt(v.index - 1)).toBeUndefined();
  });

  it('never hands a verification entry to a handler or to the committed stream', async () => {
    const { leader } = await cluster();
    await leader.node.propose({ name: 'add', args: [1] });
    const v = await leader.node.verify();
    await leader.node.propose({ name: 'add', args: [2] });
    const events: CommittedEvent[] = [];
    for await (const e of leader.node.committed({ outcomes: 'all' })) {
      events.push(e);
      if (e.index > v.reportIndex) break;
    }
    expect(events.map((e) => e.command.name)).toEqual(['add', 'add']);
    expect(events.map((e) => e.index)).not.toContain(v.index);
    expect(leader.machine.calls).toBe(2);
  });

  it('refuses verify() on a follower with NotLeaderError naming the leader', async () => {
    const { leader, followers } = await cluster();
    await expect(followers[0]!.node.verify()).rejects.toThrow(NotLeaderError);
    await expect(followers[0]!.node.verify()).rejects.toMatchObject({ leaderId: leader.id });
  });

  it('digestAt waits until the index is applied, names a timeout, and refuses an index that cannot be one', async () => {
    const { leader, followers } = await cluster();
    const follower = followers[0]!;
    const next = leader.node.status().lastIndex + 1; // the marker verify() is about to append
    const waiting = follower.node.digestAt(next);
    const v = await leader.node.verify();
    expect(v.index).toBe(next);
    await expect(waiting).resolves.toBe(v.digest);
    await expect(follower.node.digestAt(v.reportIndex + 1000, { timeoutMs: 20 })).rejects.toThrow(
      ApplyTimeoutError,
    );
    await expect(follower.node.digestAt(0)).rejects.toThrow(RangeError);
    const pending = follower.node.digestAt(v.reportIndex + 1000);
    await follower.node.stop();
    await expect(pending).rejects.toThrow(NodeStoppedError);
  });

  it('a replica restarted on its log digests the same state at the same marker again', async () => {
    const { replicas, leader, followers, restart } = await cluster();
    for (let k = 1; k <= 4; k++) await leader.node.propose({ name: 'add', args: [k] });
    const v = await leader.node.verify();
    await appliedEverywhere(replicas, v.reportIndex);
    const follower = followers[0]!;
    await restart(follower);
    expect(await follower.node.digestAt(v.index)).toBe(v.digest);
    await appliedEverywhere([follower], v.reportIndex);
    expect(follower.node.status().verification).toMatchObject({ lastMatchedIndex: v.index });
    expect(follower.node.status().verification.diverged).toBeUndefined();
  });
});

describe('consistency verification - a diverged replica', () => {
  it('finds itself diverged at the marker: status, an error line, onDivergence; then stops applying and serving', async () => {
    const { replicas, leader, followers } = await cluster();
    const [bad, good] = followers as [Replica, Replica];
    const seen: Divergence[] = [];
    bad.node.onDivergence((d) => seen.push(d));
    await leader.node.propose({ name: 'add', args: [1] });
    await appliedEverywhere([bad], leader.node.status().appliedIndex);
    bad.machine.breakIt();
    await leader.node.propose({ name: 'add', args: [1] });
    const v = await leader.node.verify();
    await appliedEverywhere(replicas, v.reportIndex);

    const actual = await bad.node.digestAt(v.index);
    expect(actual).not.toBe(v.digest);
    const divergence = {
      index: v.index,
      reportIndex: v.reportIndex,
      leaderId: leader.id,
      expected: v.digest,
      actual,
    };
    expect(bad.node.status().verification).toMatchObject({ diverged: divergence, stoppedApplying: true });
    expect(seen).toEqual([divergence]);
    const errors = bad.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual([
      "state diverged from the leader's at a verification marker; stopped applying",
    ]);
    expect(errors[0]!.obj).toMatchObject({ node: bad.id, index: v.index, expected: v.digest, actual });
    expect(good.node.status().verification).toMatchObject({
      lastMatchedIndex: v.index,
      stoppedApplying: false,
    });
    expect(good.node.status().verification.diverged).toBeUndefined();

    // It serves nothing of its state, and applies nothing more, while the others go on.
    expect(() => bad.node.queryLocal('value')).toThrow(DivergedError);
    await expect(bad.node.query('value', [], { consistency: 'stale' })).rejects.toThrow(DivergedError);
    await expect(bad.node.query('value')).rejects.toThrow(DivergedError);
    await expect(bad.node.propose({ name: 'add', args: [1] })).rejects.toThrow(NotLeaderError); // redirects
    await leader.node.propose({ name: 'add', args: [5] });
    const after = leader.node.status().appliedIndex;
    await appliedEverywhere([good], after);
    await until(() => bad.node.status().commitIndex >= after, 'the bad replica to learn the commit');
    expect(bad.node.status().appliedIndex).toBe(v.reportIndex);
    expect(bad.machine.total).toBe(3); // 1 + 2 × 1, and nothing since
    await expect(bad.node.digestAt(after)).rejects.toThrow(DivergedError);
    // Its log still counts: the group keeps committing with it as one of the quorum.
    await good.node.stop();
    await expect(leader.node.propose({ name: 'add', args: [1] })).resolves.toBe(8);
  });

  it('as a leader, refuses commands and verifications with DivergedError', async () => {
    const { replicas, leader, followers } = await cluster();
    const bad = followers[0]!;
    await appliedEverywhere(replicas, leader.node.status().appliedIndex);
    bad.machine.breakIt();
    await leader.node.propose({ name: 'add', args: [1] });
    const v = await leader.node.verify();
    await appliedEverywhere(replicas, v.reportIndex);
    expect(bad.node.status().verification.stoppedApplying).toBe(true);
    // It still votes and may lead (here: by a transfer); it then accepts nothing.
    await leader.node.transferLeadership(bad.id);
    await until(() => bad.node.isLeader(), 'the bad replica to lead');
    await expect(bad.node.propose({ name: 'add', args: [1] })).rejects.toThrow(DivergedError);
    await expect(bad.node.verify()).rejects.toThrow(DivergedError);
  });

  it("with divergenceAction 'continue', reports the divergence and goes on applying and serving", async () => {
    const { replicas, leader, followers } = await cluster({ divergenceAction: 'continue' });
    const bad = followers[0]!;
    const seen: Divergence[] = [];
    bad.node.onDivergence((d) => seen.push(d));
    bad.machine.breakIt();
    await leader.node.propose({ name: 'add', args: [1] });
    const v = await leader.node.verify();
    await appliedEverywhere(replicas, v.reportIndex);
    expect(seen.map((d) => d.index)).toEqual([v.index]);
    expect(bad.node.status().verification).toMatchObject({
      diverged: { index: v.index },
      stoppedApplying: false,
    });
    expect(bad.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      "state diverged from the leader's at a verification marker",
    ]);
    await leader.node.propose({ name: 'add', args: [1] });
    await appliedEverywhere(replicas, leader.node.status().appliedIndex);
    expect(bad.node.queryLocal('value').value).toBe(4);
    // A later mismatch is reported again; status keeps the first.
    const w = await leader.node.verify();
    await appliedEverywhere(replicas, w.reportIndex);
    expect(seen.map((d) => d.index)).toEqual([v.index, w.index]);
    expect(bad.node.status().verification.diverged?.index).toBe(v.index);
  });
});

describe('consistency verification - periodic markers (verifyEveryEntries)', () => {
  /** The indices of the verification markers in r's log. */
  async function markers(r: Replica): Promise<number[]> {
    const last = await r.log.lastIndex();
    const entries = await r.log.entries(await r.log.firstIndex(), last + 1);
    return entries.filter((e) => decodeVerification(e.data)?.kind === 'marker').map((e) => e.index);
  }

  it('the leader proposes a marker after every verifyEveryEntries applied commands; every replica compares', async () => {
    const { replicas, leader } = await cluster({ verifyEveryEntries: 5 });
    for (let k = 0; k < 12; k++) await leader.node.propose({ name: 'add', args: [1] });
    await until(() => leader.node.status().verification.lastMatchedIndex > 0, 'a compared marker');
    const found = await markers(leader);
    expect(found).toHaveLength(2); // after commands 5 and 10; verification entries do not count
    await appliedEverywhere(replicas, leader.node.status().lastIndex);
    await until(
      () => replicas.every((r) => r.node.status().verification.lastMatchedIndex === found[1]),
      'every replica to compare the second marker',
    );
  });

  it('proposes none by default', async () => {
    const { replicas, leader } = await cluster();
    for (let k = 0; k < 12; k++) await leader.node.propose({ name: 'add', args: [1] });
    await appliedEverywhere(replicas, leader.node.status().lastIndex);
    expect(await markers(leader)).toEqual([]);
    for (const r of replicas) expect(r.node.status().verification.lastIndex).toBe(0);
  });

  it('refuses a bad verifyEveryEntries or divergenceAction, naming the field', () => {
    expect(() => resolveNodeConfig({ verifyEveryEntries: -1 })).toThrow(
      /verifyEveryEntries \(-1\) must be a non-negative integer/,
    );
    expect(() => resolveNodeConfig({ verifyEveryEntries: 1.5 })).toThrow(ConfigError);
    expect(() => resolveNodeConfig({ divergenceAction: 'halt' as never })).toThrow(
      /divergenceAction \(halt\) must be one of stop-applying, continue/,
    );
    expect(resolveNodeConfig().node).toMatchObject({
      verifyEveryEntries: 0,
      divergenceAction: 'stop-applying',
    });
  });
});
