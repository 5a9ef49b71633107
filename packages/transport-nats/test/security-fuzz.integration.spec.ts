import {
  MemoryLogStore,
  MemoryStableStore,
  RaftNode,
  seededRandom,
  systemClock,
  type Logger,
  type NodeConfig,
} from '@raftline/core';
import { checkLinearizability, HistoryRecorder } from '@raftline/testing';
import {
  connectNats,
  DROP_REASONS,
  NatsRaftClient,
  NatsTransport,
  serveClients,
  type DropReason,
  type NatsConnection,
} from '../src/index';
import { CounterApplier } from './support/cluster';
import { sleep, startNatsServer, uniqueCluster, waitFor, type OwnNatsServer } from './support/nats-server';
import {
  captureFrames,
  counterModel,
  EXPECTED_REASON,
  FrameFuzzer,
  type CounterInput,
  type FuzzKind,
} from './support/security-fuzz';

jest.setTimeout(180_000);

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** The fuzzing lasts this long, or until MAX_SHOTS frames are out. */
const FUZZ_MS = 10_000;
const MAX_SHOTS = 3_000;
/** Frames per burst, one burst every BURST_MS. */
const BURST = 6;
const BURST_MS = 20;
const CLIENTS = 4;
const KEYS = ['a', 'b', 'c'];
/** Slower than the other tests' FAST: a 2-core machine under load must not elect on its own. */
const CONFIG: Partial<NodeConfig> = {
  electionTimeoutMs: 1500,
  heartbeatMs: 100,
  tickMs: 10,
  proposalTimeoutMs: 5000,
};

interface Member {
  readonly id: string;
  readonly node: RaftNode;
  readonly applier: CounterApplier;
  readonly transport: NatsTransport;
  stop(): Promise<void>;
}

/** Errors a transport logs: a decoding bug (not a refused frame) or a handler that threw. */
const loggedErrors: unknown[] = [];
const errorLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (obj, msg) => loggedErrors.push({ ...obj, msg }),
};

async function startGroup(
  nc: NatsConnection,
  cluster: string,
  group: string,
  clusterKey: string,
  ids: readonly string[],
  seed: number,
): Promise<Member[]> {
  const rng = seededRandom(seed);
  return Promise.all(
    ids.map(async (id) => {
      const transport = await NatsTransport.create({
        connection: nc,
        cluster,
        group,
        nodeId: id,
        clusterKey,
        logger: errorLogger,
      });
      const applier = new CounterApplier();
      const node = new RaftNode({
        id,
        voters: ids,
        logStore: new MemoryLogStore(),
        stableStore: new MemoryStableStore(),
        transport,
        clock: systemClock,
        random: rng.fork(),
        applier,
        config: CONFIG,
        logger: errorLogger,
      });
      await node.start();
      const clients = serveClients({ connection: nc, cluster, group, node });
      return {
        id,
        node,
        applier,
        transport,
        stop: async () => {
          clients.close();
          await node.stop();
        },
      };
    }),
  );
}

describe('security - with a cluster key, fuzzed frames are dropped and counted while the group stays linearizable', () => {
  let server: OwnNatsServer;
  const connections: NatsConnection[] = [];
  const members: Member[] = [];
  const ids = ['n1', 'n2', 'n3'];
  const key = `key-${SEED}`;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(members.map((m) => m.stop()));
    await Promise.all(connections.map((nc) => nc.close()));
    await server?.dispose();
  });

  it(`forged, tampered, replayed-from-another-cluster/group and insider-malformed frames for ${FUZZ_MS / 1000} s: each counted under its reason, no term change, a linearizable history (seed ${SEED})`, async () => {
    const open = async () => {
      const nc = await connectNats({ servers: server.url });
      connections.push(nc);
      return nc;
    };
    const [groupConn, otherConn, clientConn, fuzzConn] = await Promise.all([open(), open(), open(), open()]);
    const cluster = uniqueCluster('secfz');
    const otherCluster = `${cluster}b`;
    const captures = {
      own: captureFrames(fuzzConn, cluster, 'g'),
      otherCluster: captureFrames(fuzzConn, otherCluster, 'g'),
      otherGroup: captureFrames(fuzzConn, cluster, 'h'),
    };
    await fuzzConn.flush();

    // The target, and two groups with the same key: one in another cluster, one in another group.
    const target = await startGroup(groupConn, cluster, 'g', key, ids, SEED);
    members.push(...target);
    members.push(...(await startGroup(otherConn, otherCluster, 'g', key, ids, SEED + 1)));
    members.push(...(await startGroup(otherConn, cluster, 'h', key, ids, SEED + 2)));
    const leaderOf = (group: readonly Member[]) => group.filter((m) => m.node.isLeader());
    await waitFor(
      'a leader in each group',
      () => [0, 3, 6].every((i) => leaderOf(members.slice(i, i + 3)).length === 1),
      30_000,
    );

    // The workload: concurrent clients incrementing and reading (linearizable) a few keys.
    const recorder = new HistoryRecorder<CounterInput, number>();
    let running = true;
    const rng = seededRandom(SEED + 3);
    const runClient = async (c: number) => {
      const client = new NatsRaftClient({ connection: clientConn, cluster, group: 'g', timeoutMs: 5000 });
      while (running) {
        const input: CounterInput = {
          op: rng.nextFloat() < 0.6 ? 'inc' : 'read',
          key: KEYS[Math.floor(rng.nextFloat() * KEYS.length)]!,
        };
        const h = recorder.invoke(c, input, performance.now());
        try {
          const value =
            input.op === 'inc'
              ? await client.propose({ name: 'inc', args: [input.key] })
              : (await client.query({ name: 'count', args: [input.key] }, { consistency: 'linearizable' }))
                  .value;
          recorder.complete(h, value as number, performance.now());
        } catch {
          await sleep(20); // outcome unknown: the operation stays pending in the history
        }
      }
    };
    const others = [leaderOf(members.slice(3, 6))[0]!, leaderOf(members.slice(6, 9))[0]!];
    const otherTraffic = (async () => {
      for (let i = 0; running && i < 200; i++) {
        await Promise.all(
          others.map((m) => m.node.propose({ name: 'inc', args: ['z'] }).catch(() => undefined)),
        );
        await sleep(50);
      }
    })();
    const workload = Array.from({ length: CLIENTS }, (_, c) => runClient(c));

    // Warm up, capturing real frames; then stop capturing, so the fuzzer never replays its own output.
    await waitFor(
      'real frames of every source',
      () => Object.values(captures).every((c) => c.frames.length >= 200),
      30_000,
    );
    for (const c of Object.values(captures)) c.stop();
    const termBefore = target.map((m) => m.node.status().term);
    const leaderBefore = leaderOf(target)[0]!.id;
    const droppedBefore = target.map((m) => ({ ...m.transport.stats().dropped }));

    // The fuzzing, bounded in time and count.
    const fuzzer = new FrameFuzzer(
      { cluster, group: 'g', key, ids },
      {
        own: captures.own.frames,
        otherCluster: captures.otherCluster.frames,
        otherGroup: captures.otherGroup.frames,
      },
      SEED,
    );
    const expected = new Map(ids.map((id) => [id, new Map<DropReason, number>()]));
    const sentByKind = new Map<FuzzKind, number>();
    const deadline = Date.now() + FUZZ_MS;
    let shots = 0;
    while (Date.now() < deadline && shots < MAX_SHOTS) {
      for (let i = 0; i < BURST && shots < MAX_SHOTS; i++, shots++) {
        const shot = fuzzer.next();
        fuzzConn.publish(`raftline.${cluster}.g.raft.${shot.to}`, shot.data);
        sentByKind.set(shot.kind, (sentByKind.get(shot.kind) ?? 0) + 1);
        const reason = EXPECTED_REASON[shot.kind];
        if (reason !== 'accepted') {
          const perNode = expected.get(shot.to)!;
          perNode.set(reason, (perNode.get(reason) ?? 0) + 1);
        }
      }
      await sleep(BURST_MS);
    }
    await fuzzConn.flush();

    const delta = () =>
      target.map((m, i) => {
        const now = m.transport.stats().dropped;
        return Object.fromEntries(DROP_REASONS.map((r) => [r, now[r] - droppedBefore[i]![r]]));
      });
    const want = ids.map((id) =>
      Object.fromEntries(DROP_REASONS.map((r) => [r, expected.get(id)!.get(r) ?? 0])),
    );
    await waitFor(
      'every fuzzed frame counted',
      () => JSON.stringify(delta()) === JSON.stringify(want),
      15_000,
    ).catch(() => undefined);
    running = false;
    await Promise.all([...workload, otherTraffic]);

    console.log(
      `fuzz seed ${SEED}: ${shots} frames in ${FUZZ_MS / 1000} s`,
      Object.fromEntries(sentByKind),
      `ops ${recorder.history().length}`,
    );
    expect(delta()).toEqual(want);
    for (const kind of Object.keys(EXPECTED_REASON) as FuzzKind[])
      expect(sentByKind.get(kind)).toBeGreaterThan(0);
    expect(loggedErrors).toEqual([]);

    // No replica crashed, no term changed, the same leader; all converge and still serve.
    for (const [i, m] of target.entries()) {
      expect(m.node.status().term).toBe(termBefore[i]);
    }
    expect(leaderOf(target).map((m) => m.id)).toEqual([leaderBefore]);
    const client = new NatsRaftClient({ connection: clientConn, cluster, group: 'g' });
    const last = (await client.propose({ name: 'inc', args: ['a'] })) as number;
    await waitFor('every replica applied the last command', () =>
      target.every((m) => m.applier.counts.get('a') === last),
    );
    expect(target.map((m) => m.applier.applied)).toEqual(target.map(() => target[0]!.applier.applied));

    const history = recorder.history();
    expect(history.filter((op) => op.return !== undefined).length).toBeGreaterThan(50);
    const verdict = checkLinearizability(history, counterModel, { timeoutMs: 60_000 });
    expect(verdict).toMatchObject({ ok: true });
  });
});
