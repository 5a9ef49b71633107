import { ConfigError, type CommandRequest } from '@raftline/core';
import {
  connectNats,
  NatsRaftClient,
  OutcomeUnknownError,
  RemoteCommandError,
  serveClients,
  type NatsConnection,
} from '../src/index';
import {
  startTallyReplicas,
  stopTallyReplicas,
  type MachineReplica,
  type ProposeHook,
} from './support/machines';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

/** The error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const never = new Promise<never>(() => undefined);

/**
 * A hook that, once armed, applies the next `inc` the leader gets but never
 * answers it (the reply is lost), and counts the requests that come after.
 */
function dropFirstReply(): { hook: ProposeHook; arm(): void; readonly after: number } {
  let armed = false;
  let dropped = false;
  let after = 0;
  return {
    arm: () => (armed = true),
    get after() {
      return after;
    },
    hook: async (replica, request, propose) => {
      if (dropped) after++;
      if (!armed || request.name !== 'inc' || !replica.node.isLeader()) return propose();
      armed = false;
      await propose();
      dropped = true;
      return never;
    },
  };
}

describe('NatsRaftClient - a command with a session is retried after an unknown outcome, and applies once', () => {
  let nc: NatsConnection;
  let replicas: MachineReplica[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await stopTallyReplicas(replicas);
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  async function group(hook?: ProposeHook): Promise<string> {
    const cluster = uniqueCluster('r');
    replicas = await startTallyReplicas(['n1', 'n2', 'n3'], {
      connection: nc,
      cluster,
      group: 'g',
      ...(hook ? { hook } : {}),
    });
    await waitFor('a leader', () => replicas.some((r) => r.node.isLeader()));
    return cluster;
  }

  const sent = (key: string): CommandRequest[] =>
    replicas.flatMap((r) => r.seen).filter((q) => q.args[0] === key);
  const counts = (key: string): number[] => replicas.map((r) => r.machine.counts[key] ?? 0);

  it('a lost reply is retried with the same session; the retry returns the first result and says how many attempts it took', async () => {
    const drop = dropFirstReply();
    const cluster = await group(drop.hook);
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', requestTimeoutMs: 300 });
    await client.propose({ name: 'inc', args: ['warm-up'] });
    drop.arm();
    const session = { clientId: 'c1', seq: 1 };
    const receipt = await client.submit({ name: 'inc', args: ['k'], session });
    expect(receipt.value).toBe(1);
    expect(receipt.attempts).toBeGreaterThanOrEqual(2);
    expect(drop.after).toBeGreaterThanOrEqual(1);
    // Every attempt reached a replica, each with the same session.
    expect(sent('k')).toHaveLength(receipt.attempts);
    expect(sent('k').every((q) => q.session?.clientId === 'c1' && q.session.seq === 1)).toBe(true);
    // Applied once on every replica, although the log holds it twice (the leader applied both before answering).
    const applied = replicas.find((r) => r.node.isLeader())!.host.appliedIndex;
    await waitFor('every replica applied as far as the leader', () =>
      replicas.every((r) => r.host.appliedIndex >= applied),
    );
    expect(counts('k')).toEqual([1, 1, 1]);
  });

  it('without a session a lost reply is OutcomeUnknownError after one attempt, never resent', async () => {
    const drop = dropFirstReply();
    const cluster = await group(drop.hook);
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', requestTimeoutMs: 300 });
    await client.propose({ name: 'inc', args: ['warm-up'] });
    drop.arm();
    const err = await rejection(client.submit({ name: 'inc', args: ['k'] }));
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    // Every request sent reached a replica (a follower may have redirected the first); none after the lost reply.
    const attempts = (err as OutcomeUnknownError).attempts;
    expect(sent('k')).toHaveLength(attempts);
    expect(drop.after).toBe(0);
    expect((err as Error).message).toMatch(/^no answer to the command \(after [12] attempts?\)$/);
  });

  it('retries: 0 turns the retry off, even with a session', async () => {
    const drop = dropFirstReply();
    const cluster = await group(drop.hook);
    const client = new NatsRaftClient({
      connection: nc,
      cluster,
      group: 'g',
      requestTimeoutMs: 300,
      retries: 0,
    });
    await client.propose({ name: 'inc', args: ['warm-up'] });
    drop.arm();
    const err = await rejection(
      client.submit({ name: 'inc', args: ['k'], session: { clientId: 'c2', seq: 1 } }),
    );
    expect(err).toMatchObject({ name: 'OutcomeUnknownError', attempts: sent('k').length });
    expect(drop.after).toBe(0);
  });

  it('the leader stopping mid-request: the retry reaches the next leader and the command applies once', async () => {
    let armed = false;
    const stopLeader: ProposeHook = (replica, request, propose) => {
      if (!armed || request.name !== 'inc' || !replica.node.isLeader()) return propose();
      armed = false;
      const result = propose();
      // The process goes away with the command in flight: it no longer serves clients, its node stops.
      replica.stopServing();
      void replica.node.stop();
      return result;
    };
    const cluster = await group(stopLeader);
    const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', requestTimeoutMs: 500 });
    await client.propose({ name: 'inc', args: ['warm-up'] });
    const old = replicas.find((r) => r.node.isLeader())!;
    armed = true;
    const receipt = await client.submit({ name: 'inc', args: ['k'], session: { clientId: 'c3', seq: 1 } });
    expect(receipt.value).toBe(1);
    expect(receipt.attempts).toBeGreaterThanOrEqual(2);
    const rest = replicas.filter((r) => r !== old);
    const leader = rest.find((r) => r.node.isLeader());
    expect(leader).toBeDefined();
    await waitFor('both remaining replicas applied it', () =>
      rest.every((r) => r.machine.counts.k !== undefined),
    );
    expect(rest.map((r) => r.machine.counts.k)).toEqual([1, 1]);
  });

  it('retries must be a non-negative integer', () => {
    const o = { connection: nc, cluster: 'c', group: 'g' };
    expect(() => new NatsRaftClient({ ...o, retries: -1 })).toThrow(
      'retries (-1) must be a non-negative integer',
    );
    expect(() => new NatsRaftClient({ ...o, retries: 1.5 })).toThrow(ConfigError);
  });

  it('an unknown outcome the replicas report (NodeStoppedError) is retried the same way, and the error counts every attempt when all fail', async () => {
    const cluster = uniqueCluster('r');
    const calls: CommandRequest[] = [];
    const server = serveClients({
      connection: nc,
      cluster,
      group: 'g',
      node: {
        id: 'solo',
        propose: (request) => {
          calls.push(request);
          return Promise.reject(
            Object.assign(new Error('node solo is stopped'), { name: 'NodeStoppedError' }),
          );
        },
        query: () => Promise.reject(new Error('this fake replica serves no queries')),
      },
    });
    try {
      await nc.flush();
      const client = new NatsRaftClient({ connection: nc, cluster, group: 'g', retries: 2 });
      const err = await rejection(
        client.submit({ name: 'inc', args: ['k'], session: { clientId: 'c4', seq: 1 } }),
      );
      expect(err).toBeInstanceOf(RemoteCommandError);
      expect(err).toMatchObject({ remoteName: 'NodeStoppedError', outcomeUnknown: true, attempts: 3 });
      expect(calls).toHaveLength(3);
      // Without a session: one attempt.
      const once = await rejection(client.submit({ name: 'inc', args: ['k'] }));
      expect(once).toMatchObject({ remoteName: 'NodeStoppedError', attempts: 1 });
      expect(calls).toHaveLength(4);
    } finally {
      server.close();
    }
  });
});
