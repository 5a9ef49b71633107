/**
 * One Raft group of a `raftline serve` process: its transport and admin API
 * on the process's Raft connection, what clients use on its client
 * connection (see connections.ts), its stores from the shared database, the replica
 * assembled through core's inversify replicaModule (a user's bindings
 * replace parts), and what it serves: client commands and queries, the
 * admin API, discovery, the committed-stream mirror and its metrics.
 */
import type { Logger, Replica, ReplicatedStateMachine } from '@raftline/core';
import { Container, RAFTLINE, replicaFrom, replicaModule } from '@raftline/core/inversify';
import {
  AdminClient,
  mirrorCommitted,
  NatsTransport,
  registerReplicaService,
  serveAdmin,
  serveClients,
  type JetStreamMirror,
} from '@raftline/transport-nats';
import type { GroupSettings, ServeConfig } from '../config/schema';
import { MirrorStartError } from '../errors';
import { readinessOf, type GroupReadiness } from '../metrics/http';
import type { ServeMetrics } from '../metrics/metrics';
import { applyBindings } from './bindings';
import type { ServeConnections } from './connections';
import { createMachine } from './machine';
import type { StoreProvider } from './stores';

/** What every group of the process shares. */
export interface ProcessContext {
  readonly config: ServeConfig;
  readonly connections: ServeConnections;
  readonly stores: StoreProvider;
  readonly metrics: ServeMetrics;
  readonly logger: Logger & { child(bindings: Record<string, unknown>): Logger };
}

/** A running group of the process. */
export interface RunningGroup {
  readonly name: string;
  readonly replica: Replica<ReplicatedStateMachine>;
  /**
   * Resolves with the cause if the replica stops itself because going on
   * would be unsafe (RaftNode.onHalt: its storage lost entries it had
   * acknowledged); never otherwise.
   */
  readonly halted: Promise<Error>;
  /** Whether it is ready to serve (see readinessOf). */
  readiness(): GroupReadiness;
  /**
   * Stops gracefully: leaves discovery, stops taking client requests, waits
   * up to drainTimeoutMs for commands in flight, hands leadership over,
   * stops the replica and closes its stores. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Starts one group's replica and everything it serves.
 * @returns once the replica runs and serves
 * @throws ConfigError for a bad machine, options or bindings; DuplicateNodeError when another
 *   process runs this node of the group; the store's errors (NodeAlreadyRunningError, …)
 */
export async function startGroup(ctx: ProcessContext, group: GroupSettings): Promise<RunningGroup> {
  const { config, connections } = ctx;
  const { cluster, node } = config;
  // Raft frames, liveness and admin on one connection; what clients send and read on the other.
  const raftAt = { connection: connections.raft, cluster, group: group.name };
  const clientAt = { connection: connections.clients, cluster, group: group.name };
  const logger = ctx.logger.child({ group: group.name });
  const machine = createMachine(group);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const undo = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const transport = await NatsTransport.create({
      ...raftAt,
      nodeId: node,
      ...(config.nats.clusterKey !== undefined ? { clusterKey: config.nats.clusterKey } : {}),
      logger,
    });
    cleanups.push(() => transport.close());
    const stores = await ctx.stores.open(group.name, node, logger);
    cleanups.push(() => stores.close());
    const metrics = ctx.metrics.group(group.name, node);
    cleanups.push(() => metrics.close());

    const container = new Container();
    container.loadSync(
      replicaModule({
        id: node,
        voters: group.join ? [] : group.voters,
        machine,
        logStore: metrics.logStore(stores.logStore),
        stableStore: stores.stableStore,
        snapshotStore: metrics.snapshotStore(stores.snapshotStore),
        transport,
        config: group.raft,
        logger,
        ...(group.sessions ? { hostOptions: group.sessions } : {}),
      }),
    );
    if (group.bindings) await applyBindings(container, group.bindings, { cluster, group: group.name, node });
    const replica = replicaFrom<ReplicatedStateMachine>(container);
    // The mirror starts before the replica: it pins the log at the stream's tail before any compaction.
    let mirror: JetStreamMirror | undefined;
    if (group.mirror) {
      try {
        mirror = await mirrorCommitted({ ...clientAt, node: replica.node, logger });
      } catch (err) {
        throw new MirrorStartError(group.name, { cause: err });
      }
      cleanups.push(() => mirror!.close());
    }
    const halted = new Promise<Error>((resolve) => replica.node.onHalt(resolve));
    await replica.start();
    cleanups.push(() => replica.stop());

    const clients = serveClients({
      ...clientAt,
      node: metrics.served(replica.node),
      logger,
      ...config.clients,
    });
    cleanups.push(() => clients.close());
    const admin = serveAdmin({ ...raftAt, node: replica.node, transport, logger });
    cleanups.push(() => admin.close());
    const service = await registerReplicaService({
      ...clientAt,
      node: replica.node,
      transport,
      ...(mirror ? { mirror } : {}),
      metadata: { machine: machine.constructor.name, store: ctx.stores.engine },
    });
    cleanups.push(() => service.stop());
    metrics.track(replica.node, transport, { machine: replica.machine, logger, clients });

    const joining = group.join ? join(ctx, group, logger) : undefined;
    logger.info(
      {
        machine: machine.constructor.name,
        voters: group.join ? [] : group.voters,
        join: group.join ?? false,
        store: ctx.stores.engine,
        mirror: group.mirror,
        boundParts: boundParts(container),
      },
      'replica started',
    );

    let stopped: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      joining?.cancel();
      await service.stop().catch((err: unknown) => logger.warn({ err }, 'leaving discovery failed'));
      clients.close();
      const drained = await metrics.drained(config.shutdown.drainTimeoutMs);
      if (!drained) {
        logger.warn({ pending: metrics.pending }, 'commands still in flight after shutdown.drainTimeoutMs');
      }
      await mirror?.close().catch((err: unknown) => logger.warn({ err }, 'closing the mirror failed'));
      await replica.stop({ transferLeadership: true });
      admin.close();
      metrics.close();
      await stores.close();
      logger.info({}, 'replica stopped');
    };
    return {
      name: group.name,
      replica,
      halted,
      readiness: () => readinessOf(safeStatus(replica), config.metrics.readyMaxLagEntries),
      stop: () => (stopped ??= stop()),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Asks the group's leader to add this node (a joining replica), again every 2 s until it is done or cancelled. */
function join(ctx: ProcessContext, group: GroupSettings, logger: Logger): { cancel(): void } {
  const { cluster, node } = ctx.config;
  const admin = new AdminClient({
    connection: ctx.connections.raft,
    cluster,
    group: group.name,
    timeoutMs: 15_000,
  });
  let cancelled = false;
  void (async () => {
    for (let attempt = 1; !cancelled; attempt++) {
      try {
        const outcome = group.join === 'learner' ? await admin.addLearner(node) : await admin.addVoter(node);
        logger.info(
          { as: group.join, changed: outcome.changed, members: outcome.members },
          'joined the group',
        );
        return;
      } catch (err) {
        if (cancelled) return;
        logger.warn({ err, attempt }, 'joining the group failed; retrying in 2 s');
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  })();
  return {
    cancel: () => {
      cancelled = true;
    },
  };
}

/** The parts a user's bindings replaced, for the start-up log. */
function boundParts(container: Container): string[] {
  const parts = [
    'Logger',
    'Clock',
    'Random',
    'LogStore',
    'StableStore',
    'SnapshotStore',
    'Transport',
  ] as const;
  return parts.filter((p) => container.isBound(RAFTLINE[p]));
}

function safeStatus(replica: Replica<ReplicatedStateMachine>) {
  try {
    return replica.status();
  } catch {
    return undefined;
  }
}
