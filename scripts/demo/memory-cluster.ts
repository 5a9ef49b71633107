/**
 * The demo without NATS: the three replicas of each group in this process,
 * joined by core's in-process MemoryNetwork, each node on its own embedded
 * PostgreSQL (PGlite) data directory shared by its three groups' stores.
 * "Killing" a node stops its replicas without a leadership transfer; its
 * stores stay on disk and a restart loads them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  commandProxy,
  MemoryNetwork,
  NotLeaderError,
  queryProxy,
  Replica,
  type CommandsOf,
  type QueriesOf,
  type ReplicatedStateMachine,
} from '@raftline/core';
import { Coordinator } from '@raftline/coordinator';
import { FeatureFlags } from '@raftline/feature-flags';
import {
  createPostgresStores,
  openStoreDatabase,
  type PostgresStores,
  type SqlExecutor,
} from '@raftline/store-postgres';
import { TaskQueue } from '@raftline/task-queue';
import { GROUPS, NODES, sleep, until, type DemoCluster, type DemoWorker, type GroupName } from './cluster';

const MACHINES: Record<GroupName, () => ReplicatedStateMachine> = {
  jobs: () => new TaskQueue(),
  flags: () => new FeatureFlags(),
  coord: () => new Coordinator(),
};

/**
 * Opens every node's data directory and starts the nine replicas; `why` says why not over NATS.
 * @returns the running cluster
 * @throws what the stores and replicas throw on start
 */
export async function startMemoryCluster(dir: string, why: string): Promise<DemoCluster> {
  const groups = Object.keys(GROUPS) as GroupName[];
  const networks = new Map(groups.map((g) => [g, new MemoryNetwork()]));
  const databases = new Map<string, SqlExecutor>();
  const stores = new Map<string, PostgresStores>();
  const replicas = new Map<string, Replica<ReplicatedStateMachine>>();
  const down = new Set<string>();
  const key = (group: GroupName, node: string): string => `${group}/${node}`;

  const startReplica = async (group: GroupName, node: string): Promise<void> => {
    const s = stores.get(key(group, node))!;
    const replica = new Replica({
      id: node,
      voters: [...NODES],
      machine: MACHINES[group](),
      logStore: s.logStore,
      stableStore: s.stableStore,
      snapshotStore: s.snapshotStore,
      transport: networks.get(group)!.transport(node),
    });
    replicas.set(key(group, node), replica);
    await replica.start();
  };

  await Promise.all(
    NODES.map(async (node) => {
      const dataDir = join(dir, 'data', node);
      mkdirSync(dataDir, { recursive: true });
      const db = await openStoreDatabase({ embedded: { dataDir } });
      databases.set(node, db);
      for (const group of groups) {
        stores.set(
          key(group, node),
          await createPostgresStores({ executor: db, groupId: group, nodeId: node }),
        );
      }
    }),
  );
  for (const node of NODES) for (const group of groups) await startReplica(group, node);

  const live = (group: GroupName): Replica<ReplicatedStateMachine>[] =>
    NODES.filter((n) => !down.has(n)).map((n) => replicas.get(key(group, n))!);
  const leaderOf = (group: GroupName): Promise<Replica<ReplicatedStateMachine>> =>
    until(`a leader of ${group}`, async () => live(group).find((r) => r.node.status().role === 'leader'));
  /** Runs fn on the group's leader; on NotLeaderError (nothing was appended) tries the next one. */
  const onLeader = async <T>(
    group: GroupName,
    fn: (r: Replica<ReplicatedStateMachine>) => Promise<T>,
  ): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const leader = await leaderOf(group);
      try {
        return await fn(leader);
      } catch (err) {
        if (!(err instanceof NotLeaderError) || attempt >= 50) throw err;
        await sleep(100);
      }
    }
  };
  const stops: (() => void)[] = [];
  const workers: DemoWorker[] = [];

  const cluster: DemoCluster = {
    description: `in this process, over the in-process transport (${why})`,
    killDescription: 'its replicas stopped at once, without handing over leadership',
    commands: <M extends ReplicatedStateMachine>(group: GroupName) =>
      commandProxy<M>((req) => onLeader(group, (r) => r.node.propose(req))) as CommandsOf<M>,
    queries: <M extends ReplicatedStateMachine>(group: GroupName) =>
      queryProxy<M>((req) =>
        onLeader(group, async (r) => (await r.node.query(req.name, req.args)).value),
      ) as QueriesOf<M>,
    async status(group) {
      return NODES.map((node) => {
        if (down.has(node)) return { node, role: 'down' };
        const s = replicas.get(key(group, node))!.node.status();
        return {
          node,
          role: s.role,
          term: s.term,
          leader: s.leaderId,
          commit: s.commitIndex,
          applied: s.appliedIndex,
        };
      });
    },
    async kill(node) {
      down.add(node);
      await Promise.all(groups.map((g) => replicas.get(key(g, node))!.stop()));
    },
    async restart(node) {
      for (const group of groups) await startReplica(group, node);
      down.delete(node);
    },
    async verify(group) {
      const { index } = await onLeader(group, (r) => r.node.verify());
      const digests = await Promise.all(
        NODES.map(async (node) => {
          if (down.has(node)) return { node, reason: 'down' };
          const digest = await replicas.get(key(group, node))!.node.digestAt(index, { timeoutMs: 10_000 });
          return digest === undefined ? { node, reason: 'no digest at the marker' } : { node, digest };
        }),
      );
      const values = new Set(digests.map((d) => d.digest));
      return { index, agree: values.size === 1 && !values.has(undefined), digests };
    },
    async watch(group, onCommand) {
      // A follower's committed stream: what every replica applies, in log order.
      const replica = live(group).find((r) => r.node.status().role !== 'leader') ?? live(group)[0]!;
      const controller = new AbortController();
      // From after what the group committed: a follower may hear of the last commit a tick late.
      const fromIndex = Math.max(...live(group).map((r) => r.node.status().commitIndex)) + 1;
      void (async () => {
        for await (const e of replica.committed({ fromIndex, signal: controller.signal })) {
          onCommand({ index: e.index, name: e.command.name, args: e.command.args });
        }
      })().catch(() => undefined);
      const stop = (): void => controller.abort();
      stops.push(stop);
      return stop;
    },
    worker(queue, handler) {
      // The Worker class speaks NATS; in one process, the same claim → handle → ack cycle by hand.
      const jobs = cluster.commands<TaskQueue>('jobs');
      let completed = 0;
      let closing = false;
      const loop = (async () => {
        while (!closing) {
          const claimed = await jobs.claim(queue, 'worker-1', { leaseMs: 10_000, max: 8 }).catch(() => []);
          if (claimed.length === 0) {
            await sleep(50);
            continue;
          }
          for (const job of claimed) {
            const result = await handler(job.payload);
            const ack = await jobs.ack(job.id, job.token, result).catch(() => undefined);
            if (ack?.ok) completed++;
          }
        }
      })();
      const w = {
        completed: () => completed,
        close: async () => {
          closing = true;
          await loop;
        },
      };
      workers.push(w);
      return w;
    },
    async close() {
      for (const stop of stops) stop();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(
        NODES.filter((n) => !down.has(n)).flatMap((n) => groups.map((g) => replicas.get(key(g, n))!.stop())),
      );
      for (const s of stores.values()) await s.close().catch(() => undefined);
      for (const db of databases.values()) await db.close().catch(() => undefined);
    },
  };
  return cluster;
}
