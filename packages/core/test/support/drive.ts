import {
  NONE,
  RaftProtocol,
  seededRandom,
  type Entry,
  type Message,
  type NodeId,
  type ProtocolConfig,
  type Ready,
} from '../../src/index';
import { Net } from './net';

/**
 * Finer-grained ways to drive a Net than settle(): one round at a time, with
 * a filter that loses chosen messages, ticking with settling in between, and
 * watchers that record every Ready. Everything still goes through the nodes'
 * tick/step/campaign/propose/ready/advance.
 */

/** Decides whether a queued message is delivered (true) or lost (false). */
export type Keep = (m: Message) => boolean;

const all: Keep = () => true;

/** A message of one type, narrowed (an intersection, since VoteResponse covers two types). */
export type MessageOf<T extends Message['type']> = Message & { readonly type: T };

/**
 * One network round: drains every node, delivers what was queued (messages
 * refused by `keep`, or on a cut link, are lost), and drains again.
 * @returns the messages handed to their targets
 */
export function round(net: Net, keep: Keep = all): Message[] {
  net.drain();
  const batch = net.queue;
  net.queue = [];
  const delivered: Message[] = [];
  for (const m of batch) {
    if (!keep(m) || net.cut.has(`${m.from}->${m.to}`)) continue;
    net.deliverOne(m);
    delivered.push(m);
  }
  net.drain();
  return delivered;
}

/** Rounds until nothing is in flight; like Net.settle but losing what `keep` refuses. */
export function settleWhere(net: Net, keep: Keep, maxRounds = 1000): void {
  for (let r = 0; ; r++) {
    round(net, keep);
    if (net.queue.length === 0) return;
    if (r > maxRounds) throw new Error('network does not settle');
  }
}

/** Ticks every node (all at once) `times` times, settling the network after each tick. */
export function tickSettle(net: Net, times: number, keep: Keep = all): void {
  for (let t = 0; t < times; t++) {
    net.tickAll();
    settleWhere(net, keep);
  }
}

/** Ticks only the listed nodes, settling after each tick. */
export function tickOnly(net: Net, ids: readonly NodeId[], times: number): void {
  for (let t = 0; t < times; t++) {
    for (const id of ids) net.node(id).tick();
    net.settle();
  }
}

/**
 * Ticks the nodes one after another, settling after each single tick: clocks
 * out of phase and a network faster than a tick, i.e. a quiet cluster.
 * Stops early (returning true) once `until` holds.
 */
export function tickStaggered(net: Net, times: number, until: () => boolean = () => false): boolean {
  for (let t = 0; t < times; t++) {
    for (const id of net.ids) {
      net.node(id).tick();
      net.settle();
      if (until()) return true;
    }
  }
  return false;
}

/** Ticks a lone node until `until` holds; returns the number of ticks taken, or -1 after `max`. */
export function ticksUntil(node: RaftProtocol, until: () => boolean, max = 1000): number {
  for (let t = 1; t <= max; t++) {
    node.tick();
    if (until()) return t;
  }
  return -1;
}

/** One Ready a node produced, with the node's status just after it was advanced. */
export interface Seen {
  readonly id: NodeId;
  readonly rd: Ready;
  readonly role: string;
  readonly term: number;
}

/**
 * Records every Ready cycle the Net runs from now on (cycle, drain, settle
 * and the helpers above). Also checks Election Safety as it goes: throws if
 * two nodes are ever seen leading the same term (§5.2).
 */
export function watchReadies(net: Net): Seen[] {
  const seen: Seen[] = [];
  const leaderOf = new Map<number, NodeId>();
  const cycle = net.cycle.bind(net);
  net.cycle = (id: NodeId) => {
    const rd = cycle(id);
    if (rd) {
      const st = net.node(id).status();
      seen.push({ id, rd, role: st.role, term: st.term });
      if (st.role === 'leader') {
        const other = leaderOf.get(st.term);
        if (other !== undefined && other !== id)
          throw new Error(`two leaders in term ${st.term}: ${other} and ${id}`);
        leaderOf.set(st.term, id);
      }
    }
    return rd;
  };
  return seen;
}

/** Messages of one type (optionally from/to given nodes). */
export function ofType<T extends Message['type']>(
  msgs: readonly Message[],
  type: T,
  from?: NodeId,
  to?: NodeId,
): MessageOf<T>[] {
  return msgs.filter(
    (m): m is MessageOf<T> =>
      m.type === type && (from === undefined || m.from === from) && (to === undefined || m.to === to),
  );
}

const enc = new TextEncoder();

/** Normal entries at first, first + 1, … with the given terms; payload `index@term`. */
export function entriesOf(terms: readonly number[], first = 1): Entry[] {
  return terms.map((term, k) => ({
    index: first + k,
    term,
    type: 'normal',
    data: enc.encode(`${first + k}@${term}`),
  }));
}

/** The term of every entry in a node's log, index 1 first. */
export function termsOf(node: RaftProtocol): number[] {
  return node.log.slice(1, node.log.lastIndex()).map((e) => e.term);
}

/**
 * A Net whose nodes start from the given durable logs (listed as the term of
 * each entry) in the given term, with no vote cast, as if restarted.
 */
export function netWithLogs(
  logs: Readonly<Record<NodeId, readonly number[]>>,
  term: number,
  config: Partial<ProtocolConfig> = {},
): Net {
  const ids = Object.keys(logs);
  const net = new Net(ids, config);
  ids.forEach((id, k) => {
    const disk = net.disks.get(id)!;
    disk.term = term;
    disk.log = entriesOf(logs[id]!);
    net.restart(id, 1000 + k);
  });
  return net;
}

/**
 * A lone node built from the given durable state; its peers are played by the
 * test with step(), so nothing answers unless the test says so.
 */
export function loneNode(
  id: NodeId,
  voters: readonly NodeId[],
  options: {
    config?: Partial<ProtocolConfig>;
    seed?: number;
    term?: number;
    vote?: NodeId;
    commit?: number;
    terms?: readonly number[];
  } = {},
): RaftProtocol {
  return new RaftProtocol({
    id,
    voters,
    config: options.config ?? {},
    random: seededRandom(options.seed ?? 1),
    hardState: { term: options.term ?? 0, vote: options.vote ?? NONE, commit: options.commit ?? 0 },
    entries: entriesOf(options.terms ?? []),
  });
}

/** Runs one Ready cycle on a lone node (pretending everything was persisted and sent) and returns it. */
export function cycleLone(node: RaftProtocol): Ready {
  const rd = node.ready();
  node.advance(rd);
  return rd;
}

/** Every message in a Ready, both kinds. */
export function outbox(rd: Ready): Message[] {
  return [...rd.leaderMessages, ...rd.messages];
}

// Hand-made messages, for playing a node's peers.

export function voteReq(
  from: NodeId,
  to: NodeId,
  term: number,
  lastIndex: number,
  lastTerm: number,
  type: 'vote' | 'pre-vote' = 'vote',
  transfer = false,
): Message {
  return { type, from, to, term, lastIndex, lastTerm, transfer };
}

export function voteResp(
  from: NodeId,
  to: NodeId,
  term: number,
  reject: boolean,
  type: 'vote-resp' | 'pre-vote-resp' = 'vote-resp',
): Message {
  return { type, from, to, term, reject };
}

export function appendReq(
  from: NodeId,
  to: NodeId,
  term: number,
  prevIndex: number,
  prevTerm: number,
  entries: readonly Entry[],
  commit: number,
): Message {
  return { type: 'append', from, to, term, prevIndex, prevTerm, entries, commit };
}

export function heartbeat(from: NodeId, to: NodeId, term: number, commit: number): Message {
  return { type: 'heartbeat', from, to, term, commit, context: '', sentAt: 0 };
}

export function appendResp(from: NodeId, to: NodeId, term: number, index: number, reject = false): Message {
  return { type: 'append-resp', from, to, term, reject, index, hintIndex: 0, hintTerm: 0 };
}
