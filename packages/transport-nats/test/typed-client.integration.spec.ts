// The typed client against in-process replicas of a real machine over NATS:
// typed commands and queries, every read consistency, follower reads, the
// replicas' own error classes, sessions, and leader tracking.
import {
  CommandFailedError,
  CommandRejectedError,
  ConfigError,
  ReadNotConfirmedError,
  REGISTER_SESSION,
  SessionExpiredError,
  UnknownCommandError,
} from '@raftline/core';
import {
  connectClient,
  connectNats,
  NatsRaftClient,
  OutcomeUnknownError,
  RemoteCommandError,
  type MachineClient,
  type NatsConnection,
} from '../src/index';
import type { Inventory } from '../../../test/fixtures/inventory';
import { leaderOf, startInventory, stopInventory, type InventoryReplica } from './support/inventory';
import { SHARED_NATS, sleep, uniqueCluster, waitFor } from './support/nats-server';

/** The error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('MachineClient - a typed client of a group, from another process', () => {
  let nc: NatsConnection;
  let replicas: InventoryReplica[] = [];
  const clients: MachineClient<Inventory>[] = [];
  let cluster = '';

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    for (const r of replicas) r.link.isolated = false;
    await stopInventory(replicas);
    replicas = [];
  });
  afterAll(async () => {
    await nc.close();
  });

  async function group(hostOptions?: { sessionTtlMs: number }): Promise<InventoryReplica> {
    cluster = uniqueCluster('tc');
    replicas = await startInventory(['n1', 'n2', 'n3'], {
      connection: nc,
      cluster,
      group: 'inv',
      ...(hostOptions ? { hostOptions } : {}),
    });
    await waitFor('a leader', () => leaderOf(replicas) !== undefined);
    return leaderOf(replicas)!;
  }

  async function client(o: { session?: boolean } = {}): Promise<MachineClient<Inventory>> {
    const c = await connectClient<Inventory>({
      connection: nc,
      cluster,
      group: 'inv',
      requestTimeoutMs: 500,
      timeoutMs: 4000,
      ...o,
    });
    clients.push(c);
    return c;
  }

  const marks = (key: string): number[] => replicas.map((r) => r.replica.machine.marks()[key] ?? 0);
  /** The nonces of the registrations the replicas were asked for (a follower's redirect repeats one). */
  const registrations = (): Set<unknown> =>
    new Set(
      replicas
        .flatMap((r) => r.commands)
        .filter((q) => q.name === REGISTER_SESSION)
        .map((q) => q.args[0]),
    );

  it('typed commands resolve with the handler value; submit adds the attempts; queries read at each consistency with the applied index', async () => {
    const leader = await group();
    const inv = await client();
    expect(await inv.commands.stock('apple', 5)).toBe(5);
    expect(await inv.commands.reserve('apple', 2)).toBe(3);
    const receipt = await inv.submit('reserve', ['apple', 1]);
    expect(receipt).toEqual({ value: 2, attempts: 1 });
    const acked = leader.replica.status().appliedIndex; // the last reserve's index, or later
    expect(await inv.queries.available('apple')).toBe(2);
    for (const consistency of ['linearizable', 'lease'] as const) {
      const read = await inv.query('available', ['apple'], { consistency });
      expect(read.value).toBe(2);
      expect(read.appliedIndex).toBeGreaterThanOrEqual(acked);
      expect(['n1', 'n2', 'n3']).toContain(read.replica);
    }
    // A stale read is this replica's state at once: the leader's has every acknowledged command.
    const stale = await inv.query('available', ['apple'], { consistency: 'stale', replica: leader.id });
    expect(stale).toMatchObject({ value: 2, replica: leader.id, attempts: 1 });
    expect(stale.appliedIndex).toBe(leader.replica.status().appliedIndex);
    expect(await inv.queriesWith({ consistency: 'lease' }).available('pear')).toBe(0);
  });

  it('a follower serves a linearizable read through ReadIndex, never stale: cut off from the leader it refuses, while a stale read there answers old state', async () => {
    const leader = await group();
    const inv = await client();
    const follower = replicas.find((r) => r !== leader)!;
    await inv.commands.stock('kiwi', 1);
    await waitFor('the follower applied stock', () => follower.replica.machine.available('kiwi') === 1);

    const read = await inv.query('available', ['kiwi'], { replica: follower.id });
    expect(read).toMatchObject({ value: 1, replica: follower.id, attempts: 1 });
    expect(follower.queries).toEqual([{ name: 'available', args: ['kiwi'] }]);

    follower.link.isolated = true;
    await inv.commands.stock('kiwi', 6); // committed by the leader and the other follower
    const stale = await inv.query('available', ['kiwi'], { replica: follower.id, consistency: 'stale' });
    expect(stale).toMatchObject({ value: 1, replica: follower.id });
    const refused = await rejection(
      inv.query('available', ['kiwi'], { replica: follower.id, timeoutMs: 1500 }),
    );
    expect(refused).toBeInstanceOf(ReadNotConfirmedError);

    follower.link.isolated = false;
    const caughtUp = await inv.query('available', ['kiwi'], { replica: follower.id });
    expect(caughtUp).toMatchObject({ value: 7, replica: follower.id });
    expect(caughtUp.appliedIndex).toBeGreaterThan(stale.appliedIndex);
  });

  it('errors arrive as the classes the replicas raise: rejected, failed, unknown command or query', async () => {
    await group();
    const inv = await client();
    await inv.commands.stock('fig', 1);
    const rejected = await rejection(inv.commands.reserve('fig', 0));
    expect(rejected).toBeInstanceOf(CommandRejectedError);
    expect(rejected).toMatchObject({ command: 'reserve', reason: 'n (0) must be a positive integer' });
    const failed = await rejection(inv.commands.reserve('fig', 2));
    expect(failed).toBeInstanceOf(CommandFailedError);
    expect((failed as Error).message).toBe(
      'command reserve failed while applying: only 1 of fig left, 2 asked',
    );
    // Types cannot tell commands from queries (see CommandsOf): the replicas do.
    const notAQuery = await rejection(inv.queries.stock('fig', 1));
    expect(notAQuery).toBeInstanceOf(UnknownCommandError);
    expect(notAQuery).toMatchObject({ command: 'stock', kind: 'query' });
    const notACommand = await rejection(inv.commands.available('fig'));
    expect(notACommand).toMatchObject({ name: 'UnknownCommandError', kind: 'command' });
    expect(await inv.queries.available('fig')).toBe(1); // nothing above changed the stock
  });

  it('the client registers its session on first use, numbers its commands and keeps ackedBelow; a lost reply is resent with the same seq and applies once', async () => {
    const leader = await group();
    const inv = await client();
    expect(inv.session).toBeUndefined();
    await inv.commands.mark('first');
    const session = inv.session!;
    expect(session.clientId).toMatch(/^\$\d+\.[0-9a-f-]{36}$/);
    expect(session).toMatchObject({ nextSeq: 2, ackedBelow: 2 });
    expect(registrations().size).toBe(1);
    const sent = replicas.flatMap((r) => r.commands);
    expect(sent.find((q) => q.name === 'mark')?.session).toEqual({
      clientId: session.clientId,
      seq: 1,
      ackedBelow: 1,
    });

    let dropped = false;
    leader.dropReply = (q) => q.name === 'mark' && q.args[0] === 'lost' && !dropped && (dropped = true);
    const receipt = await inv.submit('mark', ['lost']);
    expect(receipt.value).toBe(1);
    expect(receipt.attempts).toBeGreaterThanOrEqual(2);
    const attempts = replicas.flatMap((r) => r.commands).filter((q) => q.args[0] === 'lost');
    expect(attempts.every((q) => q.session?.seq === 2 && q.session.clientId === session.clientId)).toBe(true);
    await waitFor('every replica applied it', () => marks('lost').every((n) => n > 0));
    expect(marks('lost')).toEqual([1, 1, 1]);
    expect(inv.session).toMatchObject({ nextSeq: 3, ackedBelow: 3 });
  });

  it('concurrent commands share one registration and each applies once', async () => {
    await group();
    const inv = await client();
    const keys = Array.from({ length: 20 }, (_, i) => `c${i}`);
    expect(await Promise.all(keys.map((k) => inv.commands.mark(k)))).toEqual(keys.map(() => 1));
    expect(registrations().size).toBe(1);
    await waitFor('every replica applied them', () => keys.every((k) => marks(k).every((n) => n === 1)));
    expect(inv.session).toMatchObject({ nextSeq: 21, ackedBelow: 21 });
  });

  it('session: false sends commands without a session and registers none', async () => {
    await group();
    const inv = await client({ session: false });
    expect(await inv.commands.mark('bare')).toBe(1);
    expect(inv.session).toBeUndefined();
    const sent = replicas.flatMap((r) => r.commands); // a follower may have redirected the first attempt
    expect(new Set(sent.map((q) => q.name))).toEqual(new Set(['mark']));
    expect(sent.every((q) => q.session === undefined)).toBe(true);
  });

  it('an expired session: the refused command is SessionExpiredError and not applied, and the next call registers a new session', async () => {
    await group({ sessionTtlMs: 300 });
    const inv = await client();
    await inv.commands.mark('before');
    const first = inv.session!.clientId;
    await sleep(500); // replicated time passes the TTL with the next entry
    const err = await rejection(inv.commands.mark('refused'));
    expect(err).toBeInstanceOf(SessionExpiredError);
    expect(err).toMatchObject({ clientId: first });
    expect(inv.session).toBeUndefined();
    expect(await inv.commands.mark('after')).toBe(1);
    expect(inv.session!.clientId).not.toBe(first);
    await waitFor('every replica applied after', () => marks('after').every((n) => n === 1));
    expect(marks('refused')).toEqual([0, 0, 0]);
  });

  it('a resend refused because the session expired meanwhile is OutcomeUnknownError, not SessionExpiredError: the first attempt may have applied (here it did)', async () => {
    const leader = await group({ sessionTtlMs: 300 });
    const inv = await client(); // requestTimeoutMs 500: the resend comes after the TTL
    await inv.commands.mark('before');
    const first = inv.session!.clientId;
    let dropped = false;
    leader.dropReply = (q) => q.args[0] === 'maybe' && !dropped && (dropped = true);
    const err = await rejection(inv.commands.mark('maybe'));
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect((err as OutcomeUnknownError).cause).toMatchObject({ remoteName: 'SessionExpiredError' });
    await waitFor('every replica applied the first attempt', () => marks('maybe').every((n) => n === 1));
    // The session is gone either way: the next call registers a new one.
    expect(inv.session).toBeUndefined();
    expect(await inv.commands.mark('next')).toBe(1);
    expect(inv.session!.clientId).not.toBe(first);
  });

  it('a seq-1 command resent after its registered session expired is refused, never applied twice', async () => {
    await group({ sessionTtlMs: 300 });
    const raw = new NatsRaftClient({ connection: nc, cluster, group: 'inv', requestTimeoutMs: 500 });
    const clientId = await raw.propose({ name: REGISTER_SESSION, args: ['resend-test'] });
    expect(typeof clientId).toBe('string');
    const request = { name: 'mark', args: ['once'], session: { clientId: clientId as string, seq: 1 } };
    expect(await raw.propose(request)).toBe(1);
    expect(await raw.propose(request)).toBe(1); // a retry within the session: the first result
    await sleep(500);
    const err = await rejection(raw.propose(request));
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect((err as RemoteCommandError).cause).toBeInstanceOf(SessionExpiredError);
    await raw.propose({ name: 'mark', args: ['later'] }); // an entry after the refusal, so all have applied it
    await waitFor('every replica applied later', () => marks('later').every((n) => n === 1));
    expect(marks('once')).toEqual([1, 1, 1]);
  });

  it('follows a leadership transfer from the replicas notices: the next command goes straight to the new leader', async () => {
    const leader = await group();
    const inv = await client();
    await inv.commands.mark('warm-up');
    expect(inv.leader).toBe(leader.id);
    const target = replicas.find((r) => r !== leader)!;
    await leader.replica.node.transferLeadership(target.id);
    await waitFor('the client heard of the new leader', () => inv.leader === target.id);
    for (const r of replicas) r.commands.length = 0;
    const receipt = await inv.submit('mark', ['after-transfer']);
    expect(receipt.attempts).toBe(1);
    expect(target.commands.map((q) => q.args[0])).toEqual(['after-transfer']);
    expect(replicas.filter((r) => r !== target).every((r) => r.commands.length === 0)).toBe(true);
  });

  it('options are checked: an unknown key, a bad consistency', async () => {
    const o = { connection: nc, cluster: 'c', group: 'g' };
    await expect(connectClient<Inventory>({ ...o, consistancy: 'stale' } as never)).rejects.toThrow(
      "MachineClient options: unknown key 'consistancy' (did you mean 'consistency'?)",
    );
    await expect(connectClient<Inventory>({ ...o, consistency: 'eventual' as never })).rejects.toThrow(
      ConfigError,
    );
    const inv = await connectClient<Inventory>(o);
    clients.push(inv);
    await expect(inv.query('available', ['x'], { consistency: 'fresh' as never })).rejects.toThrow(
      'consistency (fresh) must be one of linearizable, lease, stale',
    );
  });
});
