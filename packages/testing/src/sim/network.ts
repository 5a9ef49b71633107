import {
  ConfigError,
  MESSAGE_TYPES,
  pack,
  type Message,
  type MessageType,
  type NodeId,
  type Transport,
} from '@raftline/core';
import type { VirtualClock } from './virtual-clock';

/** A source of seeded randomness (core's seededRandom satisfies it). */
export interface SimRandom {
  nextInt(maxExclusive: number): number;
  nextFloat(): number;
}

/** Faults the network injects on top of its base latency; every field is optional. */
export interface UnreliableSettings {
  /** Probability in [0, 1] that a message is lost. */
  readonly dropRate?: number;
  /** Extra one-way delay drawn uniformly from [min, max] ms, per message. */
  readonly delayMs?: readonly [number, number];
  /** Probability in [0, 1] that a message is delivered twice (the copy with its own delay). */
  readonly duplicateRate?: number;
  /** Allow messages on one link to overtake each other (otherwise each link is FIFO). */
  readonly reorder?: boolean;
}

/** Picks messages for SimNetwork.dropWhere: true means "lose this one". It sees each message once, as it is sent. */
export type MessageMatcher = (m: Message) => boolean;

/** A targeted drop installed by dropWhere. */
export interface DropRule {
  /** Messages this rule has dropped so far. */
  readonly dropped: number;
  /** False once removed, or once it dropped the `count` it was given. */
  readonly active: boolean;
  /** Stops dropping (idempotent). */
  remove(): void;
}

/** Count and bytes of one kind of message. */
export interface TrafficCount {
  count: number;
  bytes: number;
}

/** What the network carried so far. Sent counts include messages later lost. */
export interface NetworkStats {
  /** Requests sent: vote, pre-vote, append, heartbeat, and every other message that is not a response. */
  readonly requests: TrafficCount;
  /** Responses sent: the message types ending in -resp. */
  readonly responses: TrafficCount;
  /** Per message type. */
  readonly byType: Readonly<Record<MessageType, TrafficCount>>;
  /** Messages handed to their target. */
  readonly delivered: number;
  /** Messages lost: cut links, drops, dead targets. */
  readonly dropped: number;
  /** Extra copies injected by duplicateRate. */
  readonly duplicated: number;
}

/** What one node incarnation looks like to the network. */
export interface Endpoint {
  /** False once the incarnation crashed or stopped: it neither sends nor receives. */
  alive(): boolean;
}

/** A response answers a request; everything else (vote, append, heartbeat, snapshot, …) is a request. */
function isResponse(type: MessageType): boolean {
  return type.endsWith('-resp');
}

function checkRate(field: string, v: number | undefined, problems: string[]): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) problems.push(`${field} (${v}) must be in [0, 1]`);
}

/**
 * Validates unreliable settings.
 * @throws ConfigError naming each bad field
 */
export function validateUnreliable(s: UnreliableSettings): void {
  const problems: string[] = [];
  checkRate('dropRate', s.dropRate, problems);
  checkRate('duplicateRate', s.duplicateRate, problems);
  if (s.delayMs && !(s.delayMs[0] >= 0 && s.delayMs[1] >= s.delayMs[0])) {
    problems.push(`delayMs ([${s.delayMs.join(', ')}]) must be [min, max] with 0 ≤ min ≤ max`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** A deep enough copy that no two nodes ever share a message, an entry or a byte array, as on a real wire. */
function copyMessage(m: Message): Message {
  const copy: Record<string, unknown> = { ...m };
  if (m.type === 'append') copy.entries = m.entries.map((e) => ({ ...e, data: e.data.slice() }));
  if (m.type === 'snapshot-chunk') copy.data = m.data.slice();
  return copy as unknown as Message;
}

/**
 * The simulated network: one Transport per node incarnation, delivering over
 * the VirtualClock after a base one-way latency (drawn per message from
 * latencyMs) plus whatever the unreliable settings add. Links are FIFO unless
 * reordering is on. Partitions and disconnections drop messages both when
 * they are sent and when they would be delivered.
 */
export class SimNetwork {
  private readonly handlers = new Map<NodeId, { endpoint: Endpoint; handler: (m: Message) => void }>();
  private readonly disconnected = new Set<NodeId>();
  private groups: Map<NodeId, number> | undefined;
  private unreliable: UnreliableSettings | undefined;
  private readonly linkTail = new Map<string, number>();
  private readonly rules = new Set<{ match: MessageMatcher; left: number; dropped: number }>();
  private readonly byType = Object.fromEntries(
    MESSAGE_TYPES.map((t) => [t, { count: 0, bytes: 0 }]),
  ) as Record<MessageType, TrafficCount>;
  private readonly requests: TrafficCount = { count: 0, bytes: 0 };
  private readonly responses: TrafficCount = { count: 0, bytes: 0 };
  private delivered = 0;
  private dropped = 0;
  private duplicated = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: SimRandom,
    private readonly latencyMs: readonly [number, number],
  ) {}

  /**
   * A Transport for one incarnation of node id. Once endpoint.alive() is
   * false it sends nothing and receives nothing.
   */
  transport(id: NodeId, endpoint: Endpoint): Transport {
    return {
      send: (messages) => {
        if (!endpoint.alive()) return;
        for (const m of messages) this.send(m);
      },
      listen: async (handler) => {
        this.handlers.set(id, { endpoint, handler });
      },
      close: async () => {
        if (this.handlers.get(id)?.endpoint === endpoint) this.handlers.delete(id);
      },
    };
  }

  /** Cuts id off from everyone, both ways, until connect(id) or heal(). */
  disconnect(id: NodeId): void {
    this.disconnected.add(id);
  }

  connect(id: NodeId): void {
    this.disconnected.delete(id);
  }

  /** Whether id is disconnected. */
  isDisconnected(id: NodeId): boolean {
    return this.disconnected.has(id);
  }

  /** Splits the nodes into groups that cannot reach each other; a node in no group is isolated. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((g, k) => g.forEach((id) => map.set(id, k)));
    this.groups = map;
  }

  /** Removes partitions and disconnections (the unreliable settings stay). */
  heal(): void {
    this.groups = undefined;
    this.disconnected.clear();
  }

  /** Whether a message from a to b would get through the current cuts. */
  canTalk(a: NodeId, b: NodeId): boolean {
    if (this.disconnected.has(a) || this.disconnected.has(b)) return false;
    if (!this.groups) return true;
    const ga = this.groups.get(a);
    return ga !== undefined && ga === this.groups.get(b);
  }

  /** Sets (or with false, clears) the unreliable settings. @throws ConfigError for bad settings */
  setUnreliable(settings: UnreliableSettings | false): void {
    if (settings) validateUnreliable(settings);
    this.unreliable = settings || undefined;
  }

  /**
   * Loses the messages `match` picks, from now on, until the rule is removed
   * or, with `count`, after it dropped that many: the way to lose one
   * particular message (the second snapshot chunk to n3, the append-resp
   * after an install, …). `match` is called once for each message sent, in
   * send order and before any random loss, so it may keep state (count
   * chunks, say); a message an older rule already took is not shown to it. Dropped messages count in stats().dropped. Rules are independent
   * of partitions and of setUnreliable, and heal() leaves them in place.
   * @returns the rule, to read how many it dropped and to remove it
   * @throws RangeError when count is given and is not a positive integer
   */
  dropWhere(match: MessageMatcher, options: { readonly count?: number } = {}): DropRule {
    const count = options.count ?? Infinity;
    if (count !== Infinity && !(Number.isSafeInteger(count) && count > 0)) {
      throw new RangeError(`count (${count}) must be a positive integer`);
    }
    const rule = { match, left: count, dropped: 0 };
    this.rules.add(rule);
    const rules = this.rules;
    return {
      get dropped() {
        return rule.dropped;
      },
      get active() {
        return rules.has(rule);
      },
      remove: () => void rules.delete(rule),
    };
  }

  /** @returns a snapshot of the traffic counters */
  stats(): NetworkStats {
    const copy = (t: TrafficCount): TrafficCount => ({ ...t });
    return {
      requests: copy(this.requests),
      responses: copy(this.responses),
      byType: Object.fromEntries(MESSAGE_TYPES.map((t) => [t, copy(this.byType[t])])) as Record<
        MessageType,
        TrafficCount
      >,
      delivered: this.delivered,
      dropped: this.dropped,
      duplicated: this.duplicated,
    };
  }

  private send(m: Message): void {
    const bytes = pack(m).byteLength;
    const kind = isResponse(m.type) ? this.responses : this.requests;
    kind.count++;
    kind.bytes += bytes;
    this.byType[m.type].count++;
    this.byType[m.type].bytes += bytes;
    const u = this.unreliable;
    if (
      this.dropByRule(m) ||
      !this.canTalk(m.from, m.to) ||
      (u?.dropRate && this.random.nextFloat() < u.dropRate)
    ) {
      this.dropped++;
      return;
    }
    this.schedule(m, this.delay(), !u?.reorder);
    if (u?.duplicateRate && this.random.nextFloat() < u.duplicateRate) {
      this.duplicated++;
      this.schedule(m, this.delay(), false);
    }
  }

  /** Whether a dropWhere rule takes m; the first matching rule counts it. */
  private dropByRule(m: Message): boolean {
    for (const rule of this.rules) {
      if (!rule.match(m)) continue;
      rule.dropped++;
      if (--rule.left <= 0) this.rules.delete(rule);
      return true;
    }
    return false;
  }

  private delay(): number {
    const [lo, hi] = this.latencyMs;
    let d = lo + this.random.nextInt(hi - lo + 1);
    const extra = this.unreliable?.delayMs;
    if (extra) d += extra[0] + this.random.nextInt(extra[1] - extra[0] + 1);
    return d;
  }

  private schedule(m: Message, delay: number, fifo: boolean): void {
    let at = this.clock.now() + delay;
    if (fifo) {
      const link = `${m.from}>${m.to}`;
      at = Math.max(at, this.linkTail.get(link) ?? 0);
      this.linkTail.set(link, at);
    }
    this.clock.setTimeout(() => this.deliver(m), at - this.clock.now());
  }

  private deliver(m: Message): void {
    const target = this.handlers.get(m.to);
    if (!target || !target.endpoint.alive() || !this.canTalk(m.from, m.to)) {
      this.dropped++;
      return;
    }
    this.delivered++;
    target.handler(copyMessage(m));
  }
}
