// serveClients bounds the requests it serves at once, per client connection
// and in all: past a bound a request is answered at once with
// OverloadedError and never reaches the node; the client gets it back as
// that class, and the others' requests go on.
import { ConfigError, OverloadedError, type CommandRequest, type QueryResult } from '@raftline/core';
import { clientOf } from '../src/admission';
import { decodeReply } from '../src/client-wire';
import { groupSubjects } from '../src/subjects';
import {
  connectNats,
  NatsRaftClient,
  RemoteCommandError,
  serveClients,
  type NatsConnection,
} from '../src/index';
import { SHARED_NATS, uniqueCluster } from './support/nats-server';

/** A replica whose commands and queries wait until release(); counts what reached it. */
function heldNode() {
  const waiting: (() => void)[] = [];
  let reached = 0;
  const hold = <T>(value: T) =>
    new Promise<T>((resolve) => {
      reached++;
      waiting.push(() => resolve(value));
    });
  return {
    node: {
      id: 'solo',
      propose: (r: CommandRequest) => hold(r.name),
      query: (name: string): Promise<QueryResult> => hold({ value: name, appliedIndex: 1 }),
    },
    get reached() {
      return reached;
    },
    release: () => waiting.splice(0).forEach((go) => go()),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error('timed out');
}

describe('serveClients - admission: at most maxInFlightPerClient per connection, maxInFlight in all', () => {
  const connections: NatsConnection[] = [];
  const servers: { close(): void }[] = [];
  afterEach(async () => {
    servers.splice(0).forEach((s) => s.close());
    await Promise.all(connections.splice(0).map((c) => c.close()));
  });
  const connect = async () => {
    const nc = await connectNats({ servers: SHARED_NATS });
    connections.push(nc);
    return nc;
  };

  it('refuses one connection past its bound at once, lets another in, and refuses past the total', async () => {
    const cluster = uniqueCluster('adm');
    const served = heldNode();
    const serverConn = await connect();
    servers.push(
      serveClients({
        connection: serverConn,
        cluster,
        group: 'g',
        node: served.node,
        maxInFlightPerClient: 2,
        maxInFlight: 3,
      }),
    );
    await serverConn.flush();
    const [a, b] = [await connect(), await connect()];
    const clientA = new NatsRaftClient({ connection: a, cluster, group: 'g', timeoutMs: 10_000 });
    const clientB = new NatsRaftClient({ connection: b, cluster, group: 'g', timeoutMs: 10_000 });

    const held = [clientA.propose({ name: 'one', args: [] }), clientA.query({ name: 'two', args: [] })];
    await until(() => served.reached === 2);
    const third = await rejection(clientA.propose({ name: 'three', args: [] }));
    expect(third).toBeInstanceOf(RemoteCommandError);
    expect(third).toMatchObject({ remoteName: 'OverloadedError', outcomeUnknown: false, attempts: 1 });
    expect((third as Error).cause).toBeInstanceOf(OverloadedError);
    expect((third as Error).cause).toMatchObject({ limitName: 'maxInFlightPerClient', limit: 2 });

    held.push(clientB.propose({ name: 'four', args: [] })); // another connection: admitted
    await until(() => served.reached === 3);
    const fifth = await rejection(clientB.query({ name: 'five', args: [] }));
    expect((fifth as Error).cause).toMatchObject({
      name: 'OverloadedError',
      limitName: 'maxInFlight',
      limit: 3,
    });
    expect(served.reached).toBe(3); // the refused never reached the node

    served.release();
    const results = await Promise.all(held);
    expect(results[0]).toBe('one');
    expect(results[2]).toBe('four');
    // Their places are free again.
    const again = clientA.propose({ name: 'six', args: [] });
    await until(() => served.reached === 4);
    served.release();
    await expect(again).resolves.toBe('six');
  });

  it('refuses a command before decoding it when the node says it is overloaded, from one encoded reply', async () => {
    const cluster = uniqueCluster('adm');
    const served = heldNode();
    let full = true;
    const node = {
      ...served.node,
      refusal: () => (full ? new OverloadedError('solo', 'maxPendingProposals', 7) : undefined),
    };
    const serverConn = await connect();
    servers.push(serveClients({ connection: serverConn, cluster, group: 'g', node }));
    await serverConn.flush();
    const client = new NatsRaftClient({
      connection: await connect(),
      cluster,
      group: 'g',
      timeoutMs: 10_000,
    });
    const refusals = await Promise.all(
      [1, 2, 3].map(() => rejection(client.propose({ name: 'put', args: [] }))),
    );
    for (const r of refusals)
      expect((r as Error).cause).toMatchObject({
        name: 'OverloadedError',
        nodeId: 'solo',
        limitName: 'maxPendingProposals',
        limit: 7,
      });
    // Not decoded: a malformed request gets the same refusal (not DecodeError), byte for byte.
    const subject = groupSubjects(cluster, 'g').client;
    const malformed = await serverConn.request(subject, new Uint8Array([0xc1]), { timeout: 5000 });
    expect(decodeReply(malformed.data)).toMatchObject({ ok: false, error: { name: 'OverloadedError' } });
    const again = await serverConn.request(subject, new Uint8Array([0xc1]), { timeout: 5000 });
    expect(Buffer.from(again.data).equals(Buffer.from(malformed.data))).toBe(true);
    expect(served.reached).toBe(0);
    full = false;
    const admitted = client.propose({ name: 'put', args: [] });
    await until(() => served.reached === 1);
    served.release();
    await expect(admitted).resolves.toBe('put');
  });

  it('tells connections apart by the request inbox of the reply subject', () => {
    expect(clientOf('_INBOX.abc123.7')).toBe('_INBOX.abc123');
    expect(clientOf('_INBOX.abc123.8')).toBe('_INBOX.abc123');
    expect(clientOf('_INBOX.zzz')).toBe('_INBOX.zzz'); // one request's own inbox stands for itself
    expect(clientOf('reply')).toBe('reply');
  });

  it('refuses bounds that are not positive integers', async () => {
    const nc = await connect();
    const node = heldNode().node;
    expect(() =>
      serveClients({ connection: nc, cluster: 'c', group: 'g', node, maxInFlightPerClient: 0 }),
    ).toThrow(ConfigError);
    expect(() => serveClients({ connection: nc, cluster: 'c', group: 'g', node, maxInFlight: 2.5 })).toThrow(
      /maxInFlight \(2.5\) must be a positive integer/,
    );
  });
});
