import { ConfigError, DecodeError, pack } from '@raftline/core';
import {
  committedStreamName,
  connectNats,
  decodeCommittedPosition,
  decodeCommittedRecord,
  encodeCommittedRecord,
  readCommitted,
  type CommittedMessage,
  type CommittedRecord,
  type RecordOutcome,
  mirrorCommitted,
  type JetStreamMirror,
  type NatsConnection,
} from '../src/index';
import { deleteStream, readStream, ScriptedSource } from './support/jetstream';
import { jetstreamModule } from '../src/nats';
import { SHARED_NATS, uniqueCluster, waitFor } from './support/nats-server';

/** Commands at indices 2, 3, 5, 6, … (1 and every third one are no-ops, as after each election). */
function history(count: number, term = 1): { index: number; term: number; key: string }[] {
  const out = [];
  for (let index = 2; out.length < count; index++) {
    if (index % 3 !== 1) out.push({ index, term, key: `k${index}` });
  }
  return out;
}

describe('committed records - the payload of a committed stream message', () => {
  const command = { name: 'put', args: ['a', 1], time: 5, session: { clientId: 'c', seq: 3, ackedBelow: 2 } };

  it('round-trips index, term, the command (session included) and each kind of outcome', () => {
    const outcomes: RecordOutcome[] = [
      { kind: 'applied' },
      {
        kind: 'failed',
        error: { name: 'CommandFailedError', message: 'command put failed while applying: no' },
      },
      {
        kind: 'failed',
        error: {
          name: 'CommandFailedError',
          message: 'command put failed while applying: StaleTokenError: no',
          errorName: 'StaleTokenError',
        },
      },
      { kind: 'duplicate', of: 4 },
    ];
    for (const outcome of outcomes) {
      const record = { index: 7, term: 2, command, outcome };
      expect(decodeCommittedRecord(encodeCommittedRecord(record))).toEqual(record);
    }
    const plain = {
      index: 1,
      term: 1,
      command: { name: 'x', args: [], time: 0 },
      outcome: { kind: 'applied' },
    };
    expect(decodeCommittedRecord(encodeCommittedRecord(plain as CommittedRecord))).toEqual(plain);
  });

  it("leaves the handler's value out: the stream holds what every replica agrees on", () => {
    const event = { index: 3, term: 1, command, outcome: { kind: 'applied' as const, value: 42 } };
    expect(decodeCommittedRecord(encodeCommittedRecord(event)).outcome).toEqual({ kind: 'applied' });
  });

  it('refuses what is not a record with a DecodeError, and reads the position of a record an earlier raftline wrote', () => {
    expect(() => decodeCommittedRecord(new Uint8Array([0xc1]))).toThrow(DecodeError);
    expect(() => decodeCommittedRecord(pack({ index: 0, term: 1, name: 'x', args: [], time: 0 }))).toThrow(
      DecodeError,
    );
    expect(() => decodeCommittedRecord(pack({ index: 1, term: 1, name: 'x', time: 0 }))).toThrow(DecodeError);
    const old = pack({ index: 9, term: 3, name: 'x', args: [], time: 0 });
    expect(() => decodeCommittedRecord(old)).toThrow(/it has no outcome/);
    expect(decodeCommittedPosition(old)).toEqual({ index: 9, term: 3 });
    const bad = pack({ index: 9, term: 3, name: 'x', args: [], time: 0, outcome: { kind: 'duplicate' } });
    expect(() => decodeCommittedRecord(bad)).toThrow(/outcome \(duplicate\) is malformed/);
  });
});

describe('JetStreamMirror - the committed stream in JetStream (shared NATS)', () => {
  let nc: NatsConnection;
  const mirrors: JetStreamMirror[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    nc = await connectNats({ servers: SHARED_NATS });
  });
  afterEach(async () => {
    await Promise.all(mirrors.splice(0).map((m) => m.close()));
    await Promise.all(streams.splice(0).map((s) => deleteStream(nc, s)));
  });
  afterAll(async () => {
    await nc.close();
  });

  async function start(source: ScriptedSource, cluster: string, extra: { maxInFlight?: number } = {}) {
    const mirror = await mirrorCommitted({ node: source, connection: nc, cluster, group: 'g', ...extra });
    mirrors.push(mirror);
    if (!streams.includes(mirror.stream)) streams.push(mirror.stream);
    return mirror;
  }

  it('publishes each committed command once, in log order, with the index as message id; a consumer resumes from any sequence', async () => {
    const cluster = uniqueCluster('m');
    const source = new ScriptedSource('n1');
    const mirror = await start(source, cluster);
    expect(mirror.stream).toBe(committedStreamName(cluster, 'g'));
    expect(mirror.subject).toBe(`raftline.${cluster}.g.committed`);
    const script = history(300);
    source.add(...script.slice(0, 100));
    await waitFor('100 mirrored', () => mirror.status().lastIndex === script[99]!.index);
    source.add(...script.slice(100));
    await waitFor('300 mirrored', () => mirror.status().lastIndex === script[299]!.index);

    const all = await readStream(nc, mirror.stream);
    expect(all.map((m) => m.record.index)).toEqual(script.map((e) => e.index));
    expect(all.map((m) => m.record.command.args[0])).toEqual(script.map((e) => e.key));
    expect(all.map((m) => m.seq)).toEqual(script.map((_, i) => i + 1));
    expect(all.map((m) => m.msgId)).toEqual(script.map((e) => String(e.index)));
    const resumed = await readStream(nc, mirror.stream, 201);
    expect(resumed).toEqual(all.slice(200));
    expect(mirror.status()).toMatchObject({ active: true, published: 300, conflicts: 0, errors: 0 });
  });

  it('carries each outcome in the payload and the headers; readCommitted yields applied commands by default and every command with all outcomes, from any index', async () => {
    const cluster = uniqueCluster('m');
    const source = new ScriptedSource('n1');
    const mirror = await start(source, cluster);
    // Every fourth command failed, every fifth repeats the one before it (a session retry).
    const script = history(40).map((e, i, all) => {
      const outcome: RecordOutcome =
        i % 4 === 3
          ? { kind: 'failed', error: { name: 'CommandFailedError', message: `command inc failed: ${e.key}` } }
          : i % 5 === 4
            ? { kind: 'duplicate', of: all[i - 1]!.index }
            : { kind: 'applied' };
      return { ...e, outcome };
    });
    source.add(...script);
    await waitFor('40 mirrored', () => mirror.status().lastIndex === script[39]!.index);

    const stored = await readStream(nc, mirror.stream);
    expect(stored.map((m) => m.seq)).toEqual(script.map((_, i) => i + 1)); // every command is in the stream
    expect(stored.map((m) => m.record.outcome)).toEqual(script.map((e) => e.outcome));
    const headers = (o: RecordOutcome) =>
      o.kind === 'failed'
        ? { 'Raftline-Outcome': 'failed', 'Raftline-Error': 'CommandFailedError' }
        : o.kind === 'duplicate'
          ? { 'Raftline-Outcome': 'duplicate', 'Raftline-Duplicate-Of': String(o.of) }
          : { 'Raftline-Outcome': 'applied' };
    expect(stored.map((m) => m.outcomeHeaders)).toEqual(script.map((e) => headers(e.outcome)));

    const read = async (o: { fromIndex?: number; outcomes?: 'applied' | 'all' } = {}) => {
      const out: CommittedMessage[] = [];
      for await (const m of readCommitted({ connection: nc, cluster, group: 'g', follow: false, ...o }))
        out.push(m);
      return out;
    };
    const applied = script.filter((e) => e.outcome.kind === 'applied');
    expect(applied.length).toBeLessThan(script.length);
    expect((await read()).map((m) => m.index)).toEqual(applied.map((e) => e.index));
    expect((await read({ outcomes: 'all' })).map((m) => [m.index, m.seq])).toEqual(
      script.map((e, i) => [e.index, i + 1]),
    );
    // From an index: the first command at or after it (index 13 is a no-op in this history).
    const from = script.findIndex((e) => e.index >= 13);
    expect((await read({ fromIndex: 13, outcomes: 'all' })).map((m) => m.index)).toEqual(
      script.slice(from).map((e) => e.index),
    );
    expect(await read({ fromIndex: script[39]!.index + 1 })).toEqual([]);
    expect(() => readCommitted({ connection: nc, cluster, group: 'g', outcomes: 'most' as never })).toThrow(
      ConfigError,
    );

    // Following: new commands arrive as they are mirrored.
    const more = history(50).slice(40);
    const followed: number[] = [];
    const ac = new AbortController();
    const done = (async () => {
      for await (const m of readCommitted({
        connection: nc,
        cluster,
        group: 'g',
        fromIndex: more[0]!.index,
        signal: ac.signal,
      })) {
        followed.push(m.index);
        if (followed.length === more.length) ac.abort();
      }
    })();
    source.add(...more);
    await done;
    expect(followed).toEqual(more.map((e) => e.index));
  });

  it('two writers at once (a deposed leader that does not know it yet) store each index once, in order', async () => {
    const cluster = uniqueCluster('m');
    const a = new ScriptedSource('a');
    const b = new ScriptedSource('b');
    // Small windows so that the writers interleave many times.
    const ma = await start(a, cluster, { maxInFlight: 4 });
    const mb = await start(b, cluster, { maxInFlight: 7 });
    const script = history(600);
    // Chunks of 30: alternately one writer hears of them first and stores them
    // before the other hears (which then meets a conflict and resyncs), or
    // both hear at once (a race). Waiting for the first, not a fixed delay,
    // makes each writer store some on a loaded machine too.
    for (let i = 0, round = 0; i < script.length; i += 30, round++) {
      const chunk = script.slice(i, i + 30);
      const [first, second, firstMirror] = round % 2 === 0 ? [a, b, ma] : [b, a, mb];
      first.add(...chunk);
      if (round % 3 !== 2) {
        const end = chunk[chunk.length - 1]!.index;
        await waitFor(
          'the first writer to store its chunk',
          () => firstMirror.status().lastIndex >= end,
          15_000,
        );
      }
      second.add(...chunk);
    }
    const lastIndex = script[script.length - 1]!.index;
    await waitFor(
      'both mirrors see the whole stream',
      () => [ma, mb].every((m) => m.status().lastIndex === lastIndex),
      15_000,
    );
    const all = await readStream(nc, ma.stream);
    expect(all.map((m) => m.record.index)).toEqual(script.map((e) => e.index));
    expect(all.map((m) => m.seq)).toEqual(script.map((_, i) => i + 1));
    const [sa, sb] = [ma.status(), mb.status()];
    expect(sa.published + sb.published).toBe(script.length);
    // Both wrote, and each refusal made the loser resync rather than append out of place.
    expect(sa.published).toBeGreaterThan(0);
    expect(sb.published).toBeGreaterThan(0);
    expect(sa.conflicts + sb.conflicts).toBeGreaterThan(0);
  });

  it('a new leader resumes after the last stored index; a follower publishes nothing', async () => {
    const cluster = uniqueCluster('m');
    const a = new ScriptedSource('a');
    const b = new ScriptedSource('b');
    b.leader = false;
    const ma = await start(a, cluster);
    const mb = await start(b, cluster);
    const script = history(120);
    a.add(...script.slice(0, 60));
    b.add(...script); // b applied more than a mirrored, as a follower does
    await waitFor('a mirrored 60', () => ma.status().lastIndex === script[59]!.index);
    a.leader = false;
    b.leader = true;
    await waitFor('b mirrored the rest', () => mb.status().lastIndex === script[119]!.index);
    expect(mb.status().published).toBe(60);
    const all = await readStream(nc, ma.stream);
    expect(all.map((m) => m.record.index)).toEqual(script.map((e) => e.index));
    // a stops within one role poll of losing leadership.
    await waitFor('a inactive', () => !ma.status().active, 1000);
  });

  it("pins the log: holds every compaction until it has read the stream's tail, then keeps the log from the tail on", async () => {
    const cluster = uniqueCluster('m');
    const a = new ScriptedSource('a');
    const ma = await start(a, cluster);
    const script = history(40);
    a.add(...script);
    await waitFor('a mirrored 40', () => ma.status().lastIndex === script[39]!.index);
    expect(a.floors[0]).toBe(1); // set before the stream was even opened
    expect(a.floors.at(-1)).toBe(script[39]!.index); // raised as the leader publishes
    await ma.close();

    // A replica restarting (as a follower): by the time start() returns, its log is pinned at the tail.
    const b = new ScriptedSource('b');
    b.leader = false;
    await start(b, cluster);
    expect(b.floors).toEqual([1, script[39]!.index]);
  });

  it('refuses to continue a stream that holds another history, and reports why', async () => {
    const cluster = uniqueCluster('m');
    const a = new ScriptedSource('a');
    const ma = await start(a, cluster);
    a.add(...history(10, 1));
    await waitFor('a mirrored 10', () => ma.status().published === 10);
    await ma.close();
    const other = new ScriptedSource('x');
    other.add(...history(20, 2)); // same indices, another term: another cluster's log
    const mx = await start(other, cluster);
    await waitFor('the mirror reports the divergence', () => mx.status().errors > 0);
    expect(mx.status().lastError).toMatch(/CommittedStreamError: .*another history/);
    expect(mx.status().published).toBe(0);
    expect((await readStream(nc, mx.stream)).length).toBe(10);
  });

  it('refuses a bad stream name or option, and a stream of that name that does not capture the subject', async () => {
    const cluster = uniqueCluster('m');
    const node = new ScriptedSource('a');
    const base = { node, connection: nc, cluster, group: 'g' };
    await expect(mirrorCommitted({ ...base, stream: 'a.b' })).rejects.toThrow(ConfigError);
    await expect(mirrorCommitted({ ...base, maxInFlight: 0 })).rejects.toThrow(/maxInFlight \(0\) must be/);
    const jsm = await jetstreamModule.jetstreamManager(nc);
    const taken = `${cluster}_other`;
    await jsm.streams.add({ name: taken, subjects: [`${cluster}.elsewhere`] });
    streams.push(taken);
    await expect(mirrorCommitted({ ...base, stream: taken })).rejects.toThrow(
      /does not capture the committed subject/,
    );
  });
});
