import {
  CommandFailedError,
  ConfigError,
  MachineHost,
  MemoryLogStore,
  MemoryNetwork,
  MemorySnapshotStore,
  MemoryStableStore,
  OutcomeUnavailableError,
  REGISTER_SESSION,
  SessionExpiredError,
  pack,
  unpack,
  type CommittedEvent,
  type CommittedOptions,
  type Entry,
  type RaftNode,
} from '../../src/index';
import { CommittedFeed } from '../../src/node/committed-feed';
import { encodeCommand } from '../../src/node/command';
import { KvMachine, at, cmd } from '../state-machine/kv-machine';
import { kvNode, until } from '../support/nodes';

/** The first `count` events of node.committed(options). */
async function take(
  node: RaftNode,
  count: number,
  options: CommittedOptions = {},
): Promise<CommittedEvent[]> {
  const out: CommittedEvent[] = [];
  if (count === 0) return out;
  for await (const e of node.committed(options)) {
    out.push(e);
    if (out.length === count) break;
  }
  return out;
}

/** [index, name, outcome kind, error name or duplicate-of] of each event: what a projection folds. */
const summary = (events: readonly CommittedEvent[]) =>
  events.map((e) => {
    const o = e.outcome;
    const detail = o.kind === 'failed' ? o.error.name : o.kind === 'duplicate' ? o.of : '';
    return [e.index, e.command.name, o.kind, detail] as const;
  });

/** A single voter (it elects itself) on the given stores. */
function solo(
  stores: { log: MemoryLogStore; stable: MemoryStableStore; snaps: MemorySnapshotStore },
  snapshotEntries = 0,
) {
  return kvNode('solo', {
    voters: ['solo'],
    transport: new MemoryNetwork().transport('solo'),
    seed: 1,
    logStore: stores.log,
    stableStore: stores.stable,
    snapshotStore: stores.snaps,
    config: { electionTimeoutMs: 30, heartbeatMs: 10, snapshotEntries, snapshotTrailingEntries: 0 },
  });
}

const freshStores = () => ({
  log: new MemoryLogStore(),
  stable: new MemoryStableStore(),
  snaps: new MemorySnapshotStore(),
});

describe('committed stream - every event carries its outcome', () => {
  it('a retried session command appears once as applied and, with all outcomes, once as duplicate naming the first index', async () => {
    const { node } = solo(freshStores());
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      const session = { clientId: 'client-1', seq: 1 };
      expect(await node.propose({ name: 'incr', args: [5], session })).toBe(5);
      expect(await node.propose({ name: 'incr', args: [5], session })).toBe(5); // the retry: first result
      expect(await node.propose({ name: 'incr', args: [1] })).toBe(6);

      const applied = await take(node, 2);
      expect(summary(applied)).toEqual([
        [2, 'incr', 'applied', ''],
        [4, 'incr', 'applied', ''],
      ]);
      expect(applied[0]!.outcome).toEqual({ kind: 'applied', value: 5 });
      const all = await take(node, 3, { outcomes: 'all' });
      expect(summary(all)).toEqual([
        [2, 'incr', 'applied', ''],
        [3, 'incr', 'duplicate', 2],
        [4, 'incr', 'applied', ''],
      ]);
      expect(all[1]!.command.session).toMatchObject(session);
      // A projection folding the applied events equals the machine's own state.
      const sum = applied.reduce((n, e) => n + Number(e.command.args[0]), 0);
      expect(sum).toBe(6);
    } finally {
      await node.stop();
    }
  });

  it('a throwing handler, and a session that cannot vouch for its seq, appear as failed only with all outcomes', async () => {
    const { node } = solo(freshStores());
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      await expect(node.propose({ name: 'fail', args: ['boom'] })).rejects.toBeInstanceOf(CommandFailedError);
      await expect(
        node.propose({ name: 'incr', args: [1], session: { clientId: 'ghost', seq: 4 } }),
      ).rejects.toBeInstanceOf(SessionExpiredError);
      await node.propose({ name: 'put', args: ['k', 'v'] });

      expect(summary(await take(node, 1))).toEqual([[4, 'put', 'applied', '']]);
      const all = await take(node, 3, { outcomes: 'all' });
      expect(summary(all)).toEqual([
        [2, 'fail', 'failed', 'CommandFailedError'],
        [3, 'incr', 'failed', 'SessionExpiredError'],
        [4, 'put', 'applied', ''],
      ]);
      expect(all[0]!.outcome).toEqual({
        kind: 'failed',
        error: {
          name: 'CommandFailedError',
          message: 'command fail failed while applying: boom',
          errorName: 'Error',
        },
      });
    } finally {
      await node.stop();
    }
  });

  it('every replica reports the same outcomes for the same indices', async () => {
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const nodes = ids.map((id, i) => kvNode(id, { voters: ids, transport: net.transport(id), seed: i + 1 }));
    await Promise.all(nodes.map((n) => n.node.start()));
    try {
      await until(() => nodes.some((n) => n.node.isLeader()), 'a leader');
      const leader = nodes.find((n) => n.node.isLeader())!.node;
      const session = { clientId: 'c', seq: 1 };
      await leader.propose({ name: 'incr', args: [2], session });
      await leader.propose({ name: 'incr', args: [2], session });
      await leader.propose({ name: 'fail', args: ['no'] }).catch(() => undefined);
      await leader.propose({ name: 'incr', args: [3] });
      const last = leader.status().commitIndex;
      await until(() => nodes.every((n) => n.node.status().appliedIndex >= last), 'everyone applied');
      const streams = await Promise.all(nodes.map((n) => take(n.node, 4, { outcomes: 'all' })));
      expect(summary(streams[0]!).map(([, , kind]) => kind)).toEqual([
        'applied',
        'duplicate',
        'failed',
        'applied',
      ]);
      for (const s of streams) expect(s).toEqual(streams[0]);
    } finally {
      await Promise.all(nodes.map((n) => n.node.stop()));
    }
  });

  it('after a restart from a snapshot, retained entries at or before the snapshot index keep their outcomes', async () => {
    const stores = freshStores();
    const first = solo(stores, 8);
    await first.node.start();
    let before: CommittedEvent[];
    let snapshotIndex: number;
    try {
      await until(() => first.node.isLeader(), 'leadership');
      first.node.retainFrom(1); // keep the whole log behind the snapshots, as the JetStream mirror may
      for (let seq = 1; seq <= 6; seq++) {
        const session = { clientId: 'c', seq };
        await first.node.propose({ name: 'incr', args: [1], session });
        await first.node.propose({ name: 'incr', args: [1], session }); // every command retried once
        await first.node.propose({ name: 'fail', args: [`f${seq}`] }).catch(() => undefined);
      }
      await until(() => first.node.status().snapshotIndex >= 16, 'a snapshot');
      snapshotIndex = first.node.status().snapshotIndex;
      before = await take(first.node, 18, { outcomes: 'all' });
    } finally {
      await first.node.stop();
    }
    expect(await stores.log.firstIndex()).toBe(1);

    const second = solo(stores, 8);
    await second.node.start();
    try {
      await until(() => second.node.status().appliedIndex >= before[17]!.index, 'replay after the snapshot');
      const after = await take(second.node, 18, { outcomes: 'all' });
      expect(summary(after)).toEqual(summary(before));
      expect(summary(after).filter(([, , kind]) => kind === 'duplicate')).toHaveLength(6);
      // Values are kept only for what this process applied: entries past the snapshot were applied again.
      const valued = after.filter((e) => e.outcome.kind === 'applied' && 'value' in e.outcome);
      expect(valued.every((e) => e.index > snapshotIndex)).toBe(true);
      expect(second.host.machine).toMatchObject({ counter: 6 });
      const applied = await take(second.node, 6);
      expect(applied.every((e) => e.outcome.kind === 'applied')).toBe(true);
    } finally {
      await second.node.stop();
    }
  });

  it("a new leader's no-op and membership entries never appear, with any filter", async () => {
    const { node } = solo(freshStores());
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      await node.propose({ name: 'incr', args: [1] });
      await node.addLearner('l1'); // a config entry
      await node.propose({ name: 'incr', args: [1] });
      const last = node.status().appliedIndex;
      expect(last).toBe(4);
      const all = await take(node, 2, { outcomes: 'all' });
      expect(all.map((e) => e.index)).toEqual([2, 4]); // 1 is the no-op, 3 the membership change
      expect((await take(node, 2)).map((e) => e.index)).toEqual([2, 4]);
    } finally {
      await node.stop();
    }
  });

  it("the framework's own commands (session registration) never appear, with any filter", async () => {
    const { node } = solo(freshStores());
    await node.start();
    try {
      await until(() => node.isLeader(), 'leadership');
      const clientId = (await node.propose({ name: REGISTER_SESSION, args: ['nonce-1'] })) as string;
      await node.propose({ name: 'incr', args: [1], session: { clientId, seq: 1 } });
      expect(node.status().appliedIndex).toBe(3); // 1 the no-op, 2 the registration, 3 the command
      expect((await take(node, 1, { outcomes: 'all' })).map((e) => e.index)).toEqual([3]);
      expect((await take(node, 1)).map((e) => [e.index, e.command.name])).toEqual([[3, 'incr']]);
    } finally {
      await node.stop();
    }
  });

  it('refuses an unknown outcomes filter with a ConfigError', async () => {
    const { node } = solo(freshStores());
    await node.start();
    try {
      expect(() => node.committed({ outcomes: 'some' as never })).toThrow(ConfigError);
      expect(() => node.committed({ outcomes: 'some' as never })).toThrow(
        /outcomes \(some\) must be one of applied, all/,
      );
    } finally {
      await node.stop();
    }
  });
});

describe('committed stream - the feed without a node', () => {
  /** A log of normal entries 1..n, each an incr command. */
  function log(n: number): Entry[] {
    return Array.from({ length: n }, (_, i) => ({
      index: i + 1,
      term: 1,
      type: 'normal' as const,
      data: encodeCommand(cmd('incr', [1])),
    }));
  }

  it('after restoring a snapshot that carries no outcome marks, entries up to it fail with OutcomeUnavailableError', async () => {
    const entries = log(10);
    const feed = new CommittedFeed(
      16,
      (lo, hi) => entries.slice(lo - 1, hi),
      () => 1,
    );
    feed.snapshotMarks().prepare(undefined)(); // a snapshot an earlier raftline wrote
    feed.skipTo(6);
    for (const e of entries.slice(6)) feed.push(e, undefined, undefined);
    feed.close();
    const it = feed.iterate({ fromIndex: 1, outcomes: 'all' })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toEqual(new OutcomeUnavailableError(1, 7));
    const rest: number[] = [];
    for await (const e of feed.iterate({ fromIndex: 7, outcomes: 'all' })) rest.push(e.index);
    expect(rest).toEqual([7, 8, 9, 10]);
  });

  it('a snapshot carries the marks of the retained entries only, and malformed marks are refused', async () => {
    const entries = log(4);
    // The log was compacted through 1: the snapshot carries the marks of 2.. only.
    const feed = new CommittedFeed(
      1,
      (lo, hi) => entries.slice(lo - 1, hi),
      () => 2,
    );
    feed.push(entries[0]!, cmd('incr', [1]), { ok: false, error: new CommandFailedError('incr', 'x') });
    feed.push(entries[1]!, cmd('incr', [1]), { ok: false, error: new CommandFailedError('incr', 'y') });
    feed.push(entries[2]!, cmd('incr', [1]), { ok: true, value: 1, duplicateOf: 2 });
    feed.push(entries[3]!, cmd('incr', [1]), { ok: true, value: 2 });
    const marks = feed.snapshotMarks().capture();
    expect(unpack(marks)).toEqual([
      1,
      2,
      [
        [2, 'f', 'CommandFailedError', 'command incr failed while applying: y'],
        [3, 'd', 2],
      ],
    ]);

    const other = new CommittedFeed(
      1,
      (lo, hi) => entries.slice(lo - 1, hi),
      () => 2,
    );
    expect(() => other.snapshotMarks().prepare(pack([1, 2, [[3, 'x']]]))).toThrow(
      'snapshot outcome mark is malformed',
    );
    expect(() => other.snapshotMarks().prepare(pack([7, 2, []]))).toThrow(
      'unsupported outcome-marks version 7',
    );
    other.snapshotMarks().prepare(marks)();
    other.skipTo(4);
    other.close();
    const events: CommittedEvent[] = [];
    for await (const e of other.iterate({ fromIndex: 2, outcomes: 'all' })) events.push(e);
    expect(summary(events)).toEqual([
      [2, 'incr', 'failed', 'CommandFailedError'],
      [3, 'incr', 'duplicate', 2],
      [4, 'incr', 'applied', ''],
    ]);
  });

  it('the session layer keeps the first index of a result through a snapshot', () => {
    const a = new MachineHost(new KvMachine());
    const session = { clientId: 'c', seq: 1 };
    a.apply(cmd('incr', [3], session), at(7));
    const b = new MachineHost(new KvMachine());
    b.restore(a.snapshot());
    expect(b.apply(cmd('incr', [3], session), at(9))).toEqual({ ok: true, value: 3, duplicateOf: 7 });
  });
});
