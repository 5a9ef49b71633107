import {
  RaftProtocol,
  seededRandom,
  type Entry,
  type Message,
  type NodeId,
  type ProtocolConfig,
  type Ready,
} from '../../src/index';

/** A durable store for one pure node in tests: what a driver would have written. */
export interface Disk {
  term: number;
  vote: NodeId;
  commit: number;
  log: Entry[];
}

/**
 * A hand-driven network of pure RaftProtocol nodes. Nothing moves unless the
 * test says so: `drain()` runs every node's Ready cycle (persist, collect
 * messages, apply), `deliver()` hands queued messages to their targets.
 */
export class Net {
  readonly nodes = new Map<NodeId, RaftProtocol>();
  readonly disks = new Map<NodeId, Disk>();
  readonly applied = new Map<NodeId, Entry[]>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Every message ever sent, for counting. */
  readonly sent: Message[] = [];
  /** Pairs that cannot talk: `${from}->${to}`. */
  readonly cut = new Set<string>();

  constructor(
    readonly ids: NodeId[],
    readonly config: Partial<ProtocolConfig> = {},
    seed = 1,
  ) {
    const rng = seededRandom(seed);
    for (const id of ids) {
      this.disks.set(id, { term: 0, vote: '', commit: 0, log: [] });
      this.applied.set(id, []);
      this.nodes.set(id, new RaftProtocol({ id, voters: ids, config, random: rng.fork() }));
    }
  }

  node(id: NodeId): RaftProtocol {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Runs one Ready cycle on id (persist, queue messages, apply, advance). Returns the Ready. */
  cycle(id: NodeId): Ready | undefined {
    const n = this.node(id);
    if (!n.hasReady()) return undefined;
    const rd = n.ready();
    const disk = this.disks.get(id)!;
    for (const m of rd.leaderMessages) this.post(m);
    if (rd.snapshot) disk.log = []; // installing a snapshot replaces the whole stored log
    if (rd.hardState) Object.assign(disk, rd.hardState);
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      disk.log = disk.log.filter((e) => e.index < first).concat(rd.entries);
    }
    for (const m of rd.messages) this.post(m);
    this.applied.get(id)!.push(...rd.committed);
    n.advance(rd);
    return rd;
  }

  /** Ready cycles on every node until none has work. */
  drain(): void {
    for (let again = true, rounds = 0; again; rounds++) {
      if (rounds > 10_000) throw new Error('drain does not converge');
      again = false;
      for (const id of this.ids) if (this.nodes.has(id) && this.cycle(id)) again = true;
    }
  }

  private post(m: Message): void {
    this.sent.push(m);
    this.queue.push(m);
  }

  /** Delivers every queued message (dropping cut links), then drains; repeats until quiet. */
  settle(maxRounds = 1000): void {
    this.drain();
    for (let r = 0; this.queue.length > 0; r++) {
      if (r > maxRounds) throw new Error('network does not settle');
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliverOne(m);
      this.drain();
    }
  }

  deliverOne(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`)) return;
    this.nodes.get(m.to)?.step(m);
  }

  /** Cuts every link between the groups (both ways). */
  partition(...groups: NodeId[][]): void {
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cut.add(`${x}->${y}`);
  }

  isolate(id: NodeId): void {
    this.partition(
      [id],
      this.ids.filter((x) => x !== id),
    );
  }

  heal(): void {
    this.cut.clear();
  }

  /** Makes id campaign and runs the network until quiet. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.settle();
  }

  tickAll(times = 1): void {
    for (let t = 0; t < times; t++) for (const n of this.nodes.values()) n.tick();
  }

  /** Proposes on id and settles. */
  propose(id: NodeId, ...payloads: string[]): void {
    this.node(id).propose(payloads.map((p) => new TextEncoder().encode(p)));
    this.settle();
  }

  /** Restarts id from its disk: volatile state is lost, durable state kept. */
  restart(id: NodeId, seed = 99): void {
    const disk = this.disks.get(id)!;
    this.nodes.set(
      id,
      new RaftProtocol({
        id,
        voters: this.ids,
        config: this.config,
        random: seededRandom(seed),
        hardState: { term: disk.term, vote: disk.vote, commit: disk.commit },
        entries: disk.log,
        applied: 0,
      }),
    );
    this.applied.set(id, []);
  }

  leaders(): NodeId[] {
    return this.ids.filter((id) => this.nodes.get(id)?.status().role === 'leader');
  }

  /** Payloads of id's log, decoded, noops shown as '·'. */
  logOf(id: NodeId): string[] {
    return this.node(id)
      .log.slice(1, this.node(id).log.lastIndex())
      .map((e) => (e.type === 'noop' ? '·' : new TextDecoder().decode(e.data)));
  }
}
