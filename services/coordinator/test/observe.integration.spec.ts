import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { committedStreamName, connectNats, type NatsConnection } from '@raftline/transport-nats';
import { CoordinatorClient, unwrap, type ObservedEvent, type TaskEvent } from '../src';
import { Replicas } from '../scripts/processes';

// Real processes: three `raftline serve` replicas of the coordinator service
// (in-memory logs, the committed stream mirrored into JetStream) over the
// machine's NATS. A CoordinatorClient observes one task while candidates
// campaign, renew, checkpoint and resign, a human designates, and a lease
// runs out (only the leader's ticks end it). Checked: the observer serves
// the task's history as the replicas hold it, each event once, in commit
// order, at the log index of the command that caused it, with each grant's
// cause; a renewal is no event; an observer resumed from an event's index
// serves exactly the events after it, then follows new ones. The stream is
// deleted afterwards.

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const LEASE_MS = 1500;

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Collects an observation in the background until `stop` aborts it. */
function collect(iteration: AsyncIterable<ObservedEvent>): { events: ObservedEvent[]; done: Promise<void> } {
  const events: ObservedEvent[] = [];
  const done = (async () => {
    for await (const e of iteration) events.push(e);
  })();
  return { events, done };
}

const label = (e: TaskEvent): string =>
  `${e.kind}:${e.epoch}${e.candidate ? `:${e.candidate}` : ''}${e.reason ? `(${e.reason})` : ''}`;

describe('observe over NATS - three raftline serve replicas, the committed stream mirrored into JetStream', () => {
  const cluster = `coob${process.pid}${Date.now().toString(36)}`;
  const group = 'coord';
  const dir = mkdtempSync(join(tmpdir(), 'raftline-coordinator-observe-'));
  const errors: unknown[] = [];
  const abort = new AbortController();
  let nc: NatsConnection;
  let replicas: Replicas;
  let client: CoordinatorClient;

  beforeAll(async () => {
    nc = await connectNats({ servers: NATS_URL });
    replicas = await Replicas.start(
      { cluster, group, dir, natsUrl: NATS_URL, store: 'memory', mirror: true },
      nc,
    );
    await replicas.leader();
    client = await CoordinatorClient.connect({ connection: nc, cluster, group, timeoutMs: 5000 });
  }, 90_000);

  afterAll(async () => {
    abort.abort();
    client?.close();
    await replicas?.stop();
    if (nc) {
      await nc
        .request(`$JS.API.STREAM.DELETE.${committedStreamName(cluster, group)}`, '', { timeout: 5000 })
        .catch(() => undefined);
      await nc.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves campaign, checkpoint, resignation, override and expiry in commit order, once each; resuming from an index serves exactly what follows', async () => {
    const c = client.commands;
    for (const who of ['ada', 'bob', 'cy'])
      await until(`${who} registered`, async () => unwrap(await c.register(who)));
    const live = collect(client.observe('job', { signal: abort.signal, onError: (e) => errors.push(e) }));

    const created = unwrap(await c.createTask('job', { leaseMs: LEASE_MS }));
    const first = unwrap(await c.campaign('job', 'ada'));
    expect(first).toMatchObject({ status: 'elected' });
    await c.campaign('job', 'bob');
    unwrap(await c.renew('job', 1, { marker: 'step-1' })); // no event
    const cp = unwrap(await c.checkpoint('job', 1, { state: 'step-1', summary: 'one step' }));
    const resigned = unwrap(await c.resign('job', 1)); // bob is selected at once
    expect(resigned).toMatchObject({ epoch: 2, holder: 'bob' });
    const designated = unwrap(await c.designate('job', 'cy', 'alice')); // takes the task from bob
    await c.campaign('job', 'ada'); // ada waits; cy renews nothing, so ticks end cy's lease and select ada
    const expired = await until(
      'a tick to end the lease of epoch 3 and grant epoch 4',
      () => live.events.find((e) => e.kind === 'granted' && e.epoch === 4),
      15_000,
    );

    const history = (await client.client.query('history', ['job'], { consistency: 'linearizable' })).value!;
    expect(live.events.map(label)).toEqual([
      'created:0',
      'granted:1:ada',
      'checkpoint:1:ada',
      'ended:1:ada(resigned)',
      'granted:2:bob',
      'designated:2:cy',
      'ended:2:bob(overridden)',
      'granted:3:cy',
      'ended:3:cy(expired)',
      'granted:4:ada',
    ]);
    expect(live.events).toEqual(history.events.map((e) => expect.objectContaining({ ...e, task: 'job' })));
    expect(live.events.map((e) => e.seq)).toEqual(history.events.map((_, i) => i + 1));
    expect(live.events.filter((e) => e.kind === 'granted').map((e) => e.cause)).toEqual([
      'campaign',
      'resignation',
      'override',
      'expiry',
    ]);
    // each event at the log index of the command that caused it
    const at = (kind: string, epoch: number): number =>
      live.events.find((e) => e.kind === kind && e.epoch === epoch)!.index;
    expect(at('created', 0)).toBe(created.index);
    expect(at('granted', 1)).toBe(first.index);
    expect(at('checkpoint', 1)).toBe(cp.index);
    expect(at('granted', 2)).toBe(resigned.index);
    expect(at('granted', 3)).toBe(designated.index);
    expect(expired.index).toBeGreaterThan(designated.index);
    expect(live.events.every((e, i) => i === 0 || e.index >= live.events[i - 1]!.index)).toBe(true);

    // resume after the checkpoint: exactly the events after its index, then what comes next
    const resumed = client.observe('job', { fromIndex: cp.index });
    const after: ObservedEvent[] = [];
    const expected = live.events.filter((e) => e.index > cp.index);
    for await (const e of resumed) {
      after.push(e);
      if (after.length === expected.length) break;
    }
    expect(after).toEqual(expected);

    const again = client.observe('job', { fromIndex: expired.index });
    const next = again.next();
    const final = unwrap(await c.resign('job', 4, { state: 'step-9', summary: 'done' }));
    expect((await next).value).toMatchObject({
      kind: 'checkpoint',
      epoch: 4,
      index: final.index,
      summary: 'done',
    });
    expect((await again.next()).value).toMatchObject({
      kind: 'ended',
      epoch: 4,
      reason: 'resigned',
      index: final.index,
    });
    await again.return();
    await until('the live observer to see the resignation', () =>
      live.events.find((e) => e.kind === 'ended' && e.epoch === 4),
    );
    expect(live.events.slice(-2).map(label)).toEqual(['checkpoint:4:ada', 'ended:4:ada(resigned)']);

    abort.abort();
    await live.done;
    expect(errors).toEqual([]);
  }, 90_000);
});
