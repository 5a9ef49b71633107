// The frame fuzzer of the cluster-key test: what an attacker on NATS can
// publish at a group's Raft subjects (random bytes, well-formed frames with a
// missing or wrong MAC, tampered copies of real frames, frames replayed from
// other groups that share the key), and what a replica with the key but a bug
// could (well-MAC'd frames that are malformed), each with the drop reason it
// must be counted under.
import { createHmac } from 'node:crypto';
import { pack, seededRandom, type Message, type NodeId } from '@raftline/core';
import { FrameCodec, PROTOCOL_VERSION, type DropReason, type NatsConnection } from '../../src/index';
import type { Model, Operation } from '@raftline/testing';
import { encodeMessage } from '../../src/messages';

/** What the fuzzer sends: each kind is dropped for the reason named, or (replay-own) accepted. */
export type FuzzKind =
  | 'random-bytes'
  | 'no-mac'
  | 'wrong-key'
  | 'tampered'
  | 'replay-other-cluster'
  | 'replay-other-group'
  | 'replay-own'
  | 'replay-misrouted'
  | 'insider-decode'
  | 'insider-version'
  | 'insider-recipient'
  | 'insider-type'
  | 'insider-malformed';

/** The reason each kind must be dropped for; replay-own frames pass the MAC and are accepted (see the README). */
export const EXPECTED_REASON: Readonly<Record<FuzzKind, DropReason | 'accepted'>> = {
  'random-bytes': 'auth',
  'no-mac': 'auth',
  'wrong-key': 'auth',
  tampered: 'auth',
  'replay-other-cluster': 'cluster',
  'replay-other-group': 'group',
  'replay-own': 'accepted',
  'replay-misrouted': 'recipient',
  'insider-decode': 'decode',
  'insider-version': 'version',
  'insider-recipient': 'recipient',
  'insider-type': 'type',
  'insider-malformed': 'malformed',
};

/** A frame seen on a Raft subject: where it went and its bytes. */
export interface Captured {
  readonly subject: string;
  readonly to: NodeId;
  readonly data: Uint8Array;
}

/**
 * Keeps the last `max` frames published on `raftline.<cluster>.<group>.raft.>`.
 * @returns the ring, filled as frames arrive, and a stop function
 */
export function captureFrames(
  nc: NatsConnection,
  cluster: string,
  group: string,
  max = 400,
): { frames: Captured[]; stop(): void } {
  const frames: Captured[] = [];
  const sub = nc.subscribe(`raftline.${cluster}.${group}.raft.>`, {
    callback: (err, msg) => {
      if (err) return;
      const to = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
      frames.push({ subject: msg.subject, to, data: new Uint8Array(msg.data) });
      if (frames.length > max) frames.shift();
    },
  });
  return { frames, stop: () => sub.unsubscribe() };
}

/** The group under attack. */
export interface Target {
  readonly cluster: string;
  readonly group: string;
  readonly key: string;
  readonly ids: readonly NodeId[];
}

/** The sources of replayed frames. */
export interface Captures {
  readonly own: readonly Captured[];
  readonly otherCluster: readonly Captured[];
  readonly otherGroup: readonly Captured[];
}

/** One frame to publish, the node it targets and the kind it is. */
export interface Shot {
  readonly kind: FuzzKind;
  readonly to: NodeId;
  readonly data: Uint8Array;
}

type Rng = ReturnType<typeof seededRandom>;

/**
 * Makes fuzz frames against target from seed: kinds taken in turn, victims,
 * bytes and mutations chosen by a seeded generator, so a failing seed replays.
 */
export class FrameFuzzer {
  private readonly rng: Rng;
  private turn = 0;

  constructor(
    private readonly target: Target,
    private readonly captures: Captures,
    seed: number,
  ) {
    this.rng = seededRandom(seed);
  }

  /** @returns the next frame (kinds whose source is still empty are skipped) */
  next(): Shot {
    const kinds = Object.keys(EXPECTED_REASON) as FuzzKind[];
    for (let tries = 0; tries < kinds.length; tries++) {
      const kind = kinds[this.turn++ % kinds.length]!;
      const shot = this.make(kind);
      if (shot) return shot;
    }
    return this.make('random-bytes')!;
  }

  private int(n: number): number {
    return Math.floor(this.rng.nextFloat() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A plausible message to `to` from a member, at a term that cannot matter if it were accepted (0). */
  private message(to: NodeId): Message {
    const from = this.pick(this.target.ids.filter((id) => id !== to));
    const n = this.int(1000);
    const all: Message[] = [
      { type: 'vote', from, to, term: 0, lastIndex: n, lastTerm: 0, transfer: false },
      { type: 'append', from, to, term: 0, prevIndex: n, prevTerm: 0, commit: n, entries: [] },
      { type: 'heartbeat', from, to, term: 0, commit: n, context: 'x', sentAt: n },
      { type: 'timeout-now', from, to, term: 0 },
      { type: 'append-resp', from, to, term: 0, reject: true, index: n, hintIndex: 0, hintTerm: 0 },
    ];
    return this.pick(all);
  }

  private make(kind: FuzzKind): Shot | undefined {
    const { cluster, group, key, ids } = this.target;
    const to = this.pick(ids);
    const seal = (body: Uint8Array, k = key) => concat(body, createHmac('sha256', k).update(body).digest());
    const envelope = (over: Record<string, unknown>) => {
      const m = this.message(to);
      return pack({
        v: PROTOCOL_VERSION,
        c: cluster,
        g: group,
        f: m.from,
        t: to,
        term: 0,
        type: 'raft',
        body: [encodeMessage(m)],
        ...over,
      });
    };
    switch (kind) {
      case 'random-bytes':
        return { kind, to, data: this.bytes(this.int(300)) };
      case 'no-mac': {
        const m = this.message(to);
        return { kind, to, data: new FrameCodec({ cluster, group, nodeId: m.from }).encodeRaft(to, [m]) };
      }
      case 'wrong-key': {
        const m = this.message(to);
        const codec = new FrameCodec({ cluster, group, nodeId: m.from, clusterKey: `${key}-not` });
        return { kind, to, data: codec.encodeRaft(to, [m]) };
      }
      case 'tampered': {
        const real = this.captures.own.length > 0 ? this.pick(this.captures.own) : undefined;
        if (!real) return undefined;
        const data = new Uint8Array(real.data);
        const bits = new Set<number>();
        const flips = 1 + this.int(3);
        while (bits.size < flips) bits.add(this.int(data.byteLength * 8));
        for (const b of bits) data[b >> 3]! ^= 1 << (b & 7);
        return { kind, to: real.to, data };
      }
      case 'replay-other-cluster':
      case 'replay-other-group':
      case 'replay-own': {
        const source =
          kind === 'replay-own'
            ? this.captures.own
            : kind === 'replay-other-cluster'
              ? this.captures.otherCluster
              : this.captures.otherGroup;
        // A frame for the same node id, replayed onto the target's subject for that node.
        const real = source.length > 0 ? this.pick(source) : undefined;
        return real && ids.includes(real.to) ? { kind, to: real.to, data: real.data } : undefined;
      }
      case 'replay-misrouted': {
        // A real frame of the group, onto another node's subject.
        const real = this.captures.own.length > 0 ? this.pick(this.captures.own) : undefined;
        if (!real) return undefined;
        return { kind, to: this.pick(ids.filter((id) => id !== real.to)), data: real.data };
      }
      case 'insider-decode':
        // 0xc1 is never used in msgpack; followed by at least one byte it is not one value. (A lone 0xc1
        // is unpacked by msgpackr as a C1Type object, not refused: that frame is dropped as malformed.)
        return { kind, to, data: seal(concat(new Uint8Array([0xc1]), this.bytes(1 + this.int(20)))) };
      case 'insider-version':
        return { kind, to, data: seal(envelope({ v: this.pick([0, 1, 3, 'x', null]) })) };
      case 'insider-recipient':
        return { kind, to, data: seal(envelope({ t: `${to}x` })) };
      case 'insider-type':
        return this.rng.nextFloat() < 0.5
          ? { kind, to, data: seal(envelope({ type: this.pick(['evil', '', 'RAFT']) })) }
          : {
              kind,
              to,
              data: seal(envelope({ body: [{ ...encodeMessage(this.message(to)), type: 'evil' }] })),
            };
      case 'insider-malformed':
        return { kind, to, data: seal(this.malformed(to, envelope)) };
    }
  }

  /** An envelope, or a message in one, with one field missing or of the wrong type. */
  private malformed(to: NodeId, envelope: (over: Record<string, unknown>) => Uint8Array): Uint8Array {
    const wrong = (v: unknown): unknown => {
      if (typeof v === 'number') return this.pick(['1', -1, 1.5, 2 ** 60, null, [], {}]);
      if (typeof v === 'boolean') return this.pick([0, 'true', null]);
      if (typeof v === 'string') return this.pick([1, null, [], '']);
      return this.pick([1, 'x', null]);
    };
    const choice = this.int(6);
    if (choice === 0) return envelope({ term: this.pick([-1, 1.5, 'x', null]) });
    if (choice === 1) return envelope({ body: this.pick([[], 'x', 5, null, {}]) });
    if (choice === 2) return envelope({ f: this.pick(['', 'a.b', 'a*', 'a b', 5]) });
    const m = encodeMessage(this.message(to));
    const open = Object.keys(m).filter((k) => k !== 'type' && k !== 'term' && k !== 'context');
    if (open.length === 0) return envelope({ term: 'x' }); // a timeout-now has no other field
    const field = this.pick(open);
    if (choice === 3) delete m[field];
    else m[field] = wrong(m[field]);
    return envelope({ body: [m] });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** An operation of the counter workload: an increment (returns the new count) or a read. */
export type CounterInput = { op: 'inc'; key: string } | { op: 'read'; key: string };

/**
 * The counter as a linearizability model: per key, an increment returns the
 * count after it, a read the count; partitioned by key.
 */
export const counterModel: Model<number, CounterInput, number> = {
  init: () => 0,
  step: (state, input, output) => {
    if (input.op === 'inc') {
      return { ok: output === undefined || output === state + 1, state: state + 1 };
    }
    return { ok: output === undefined || output === state, state };
  },
  readOnly: (input) => input.op === 'read',
  partition: (history) => {
    const byKey = new Map<string, Operation<CounterInput, number>[]>();
    for (const op of history) {
      const list = byKey.get(op.input.key) ?? [];
      list.push(op);
      byKey.set(op.input.key, list);
    }
    return [...byKey.values()];
  },
};
