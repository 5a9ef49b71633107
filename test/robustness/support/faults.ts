// The nemesis at work: runs a plan's faults against a RobustCluster and its
// Environment, overlapping as planned, keeping a majority of voters
// unimpaired (except kill-majority), and records what each did and when.
import { performance } from 'node:perf_hooks';
import { AdminClient } from '@raftline/transport-nats';
import { sleep } from '../../cluster/support/nats';
import type { RobustCluster } from './cluster';
import type { FaultProxy } from './fault-proxy';
import { describeFault, type FaultKind, type PlannedFault } from './nemesis';

/** What one fault did. Times are ms since the run started. */
export interface FaultRecord {
  readonly kind: FaultKind;
  readonly plan: string;
  /** When it took effect (kill sent, link cut, server stopped…), and when it was over (restarted, healed, back). */
  start?: number;
  end?: number;
  /** The nodes it hit. */
  targets: string[];
  /** Why it did nothing (no leader known, it would impair a majority, …). */
  skipped?: string;
  /** An error of its own (a transfer refused, a restart that failed, …): noted, not a check failure. */
  error?: string;
}

/** Runs faults; see runPlan and healAll. */
export class Nemesis {
  readonly records: FaultRecord[] = [];
  private readonly impaired = new Map<string, number>();
  private spareVoter = false;
  private readonly admin: AdminClient;
  private majorityDown = false;

  constructor(
    private readonly c: RobustCluster,
    private readonly origin: number,
  ) {
    this.admin = new AdminClient({
      connection: c.env.nc,
      cluster: c.cluster,
      group: c.group,
      timeoutMs: 4000,
      requestTimeoutMs: 400,
    });
  }

  private now(): number {
    return performance.now() - this.origin;
  }

  /** Runs every fault of the plan at its time; resolves once all are over. */
  async runPlan(plan: readonly PlannedFault[]): Promise<void> {
    const running: Promise<void>[] = [];
    for (const f of plan) {
      const wait = f.at - this.now();
      if (wait > 0) await sleep(wait);
      const record: FaultRecord = { kind: f.kind, plan: describeFault(f), targets: [] };
      this.records.push(record);
      running.push(
        this.run(f, record).catch((err: unknown) => {
          record.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          record.end ??= this.now();
        }),
      );
    }
    await Promise.all(running);
  }

  /** The voters as the nemesis counts them: the bootstrap ones, and the spare while it joins or is one. */
  private voters(): string[] {
    return this.spareVoter ? [...this.c.ids, this.c.spare] : [...this.c.ids];
  }

  /** Whether k more impaired voters still leave a majority unimpaired. */
  private canImpair(k: number): boolean {
    const n = this.voters().length;
    const impaired = this.voters().filter((id) => (this.impaired.get(id) ?? 0) > 0).length;
    return impaired + k <= Math.floor((n - 1) / 2);
  }

  private impair(id: string, by: 1 | -1): void {
    this.impaired.set(id, (this.impaired.get(id) ?? 0) + by);
  }

  private isImpaired(id: string): boolean {
    return (this.impaired.get(id) ?? 0) > 0;
  }

  /** The leader as the admin API reports it ('' when none is known in time). */
  async leader(): Promise<string> {
    try {
      return (await this.admin.status()).leaderId;
    } catch {
      return '';
    }
  }

  /** A bootstrap voter that runs and is not impaired, chosen by pick. */
  private healthy(pick: number): string | undefined {
    const ok = this.c.ids.filter((id) => this.c.isUp(id) && !this.isImpaired(id));
    return ok[Math.floor(pick * ok.length)];
  }

  private async run(f: PlannedFault, r: FaultRecord): Promise<void> {
    const skip = (why: string) => void (r.skipped = why);
    switch (f.kind) {
      case 'kill-leader':
      case 'kill-random': {
        const id = f.kind === 'kill-leader' ? await this.leader() : this.healthy(f.pick);
        if (!id || !this.c.ids.includes(id)) return skip('no leader known');
        if (!this.c.isUp(id) || this.isImpaired(id) || !this.canImpair(1))
          return skip(`${id} may not be hit now`);
        return this.downFor([id], f.durationMs, r);
      }
      case 'kill-majority': {
        if (this.majorityDown) return skip('a majority is down already');
        const n = this.voters().length;
        const up = this.c.ids.filter((id) => this.c.isUp(id));
        const start = Math.floor(f.pick * up.length);
        const ids = [...up.slice(start), ...up.slice(0, start)].slice(0, Math.floor(n / 2) + 1);
        this.majorityDown = true;
        try {
          return await this.downFor(ids, f.durationMs, r);
        } finally {
          this.majorityDown = false;
        }
      }
      case 'pause': {
        const id = f.variant === 'leader' ? await this.leader() : this.healthy(f.pick);
        if (!id || !this.c.ids.includes(id) || this.isImpaired(id) || !this.canImpair(1)) {
          return skip('no node may be paused now');
        }
        if (!this.c.pause(id)) return skip(`${id} does not run`);
        this.impair(id, 1);
        r.targets.push(id);
        r.start = this.now();
        await sleep(f.durationMs);
        this.c.resume(id);
        this.impair(id, -1);
        r.end = this.now();
        return;
      }
      case 'isolate':
        return this.breakLink(f, r, 'no node may be isolated now', (proxy) =>
          f.variant === 'cut' ? proxy.cut() : proxy.drop(),
        );
      case 'one-way':
        // The proxy's client is the replica: 'up' is what it sends, 'down' what it hears.
        return this.breakLink(f, r, 'no node may be cut off one way now', (proxy) =>
          proxy.dropOneWay(f.variant === 'mute' ? 'up' : 'down'),
        );
      case 'bridge':
        return this.bridge(f, r);
      case 'latency': {
        r.targets.push(...this.c.proxies.keys());
        r.start = this.now();
        for (const p of this.c.proxies.values()) p.delay(f.delayMs ?? 0);
        await sleep(f.durationMs);
        for (const p of this.c.proxies.values()) p.delay(0);
        r.end = this.now();
        return;
      }
      case 'nats-restart':
        return this.natsRestart(f, r);
      case 'pg-restart': {
        if (!this.c.env.postgresUp) return skip('PostgreSQL is down already');
        r.start = this.now();
        await this.c.env.stopPostgres(f.variant === 'immediate' ? 'immediate' : 'fast');
        await sleep(f.durationMs);
        await this.c.env.startPostgres();
        r.end = this.now();
        return;
      }
      case 'transfer': {
        const leader = await this.leader();
        const others = this.voters().filter((id) => id !== leader && this.c.isUp(id));
        const to = others[Math.floor(f.pick * others.length)];
        r.start = this.now();
        if (to) r.targets.push(to);
        try {
          const out = await this.admin.transferLeadership(to, { timeoutMs: 4000 });
          r.targets.push(`leader ${out.leaderId}`);
        } catch (err) {
          r.error = err instanceof Error ? err.name : String(err);
        }
        r.end = this.now();
        return;
      }
      case 'snapshot': {
        const node = this.c.running()[Math.floor(f.pick * this.c.running().length)];
        r.start = this.now();
        if (node) r.targets.push(node);
        try {
          await this.admin.snapshot({ ...(node ? { node } : {}), timeoutMs: 4000 });
        } catch (err) {
          r.error = err instanceof Error ? err.name : String(err);
        }
        r.end = this.now();
        return;
      }
      case 'membership':
        return this.membership(f, r);
    }
  }

  /**
   * Breaks the link of the leader (pick < 0.5) or of a healthy node with
   * `apply`, for durationMs, then heals it; skipped (`skipWhy`) when no
   * such node may be impaired now.
   */
  private async breakLink(
    f: PlannedFault,
    r: FaultRecord,
    skipWhy: string,
    apply: (proxy: FaultProxy) => void,
  ): Promise<void> {
    const id = f.pick < 0.5 ? await this.leader() : this.healthy(f.pick * 2 - 1);
    if (!id || !this.c.ids.includes(id) || this.isImpaired(id) || !this.canImpair(1)) {
      r.skipped = skipWhy;
      return;
    }
    const proxy = this.c.proxy(id);
    this.impair(id, 1);
    r.targets.push(id);
    r.start = this.now();
    apply(proxy);
    await sleep(f.durationMs);
    proxy.heal();
    this.impair(id, -1);
    r.end = this.now();
  }

  /**
   * Stops a nats-server and starts it again after durationMs: the one
   * server, or one of three chosen by pick, whose nodes are cut off from
   * the rest meanwhile (they count as impaired; skipped when that would
   * impair a majority).
   */
  private async natsRestart(f: PlannedFault, r: FaultRecord): Promise<void> {
    const nats = this.c.env.nats;
    if (!nats.allUp()) return void (r.skipped = 'a nats-server is down already');
    const server = Math.floor(f.pick * nats.count);
    const cutOff = nats.count > 1 ? this.voters().filter((id) => this.c.serverOf(id) === server) : [];
    if (cutOff.some((id) => this.isImpaired(id)) || !this.canImpair(cutOff.length)) {
      return void (r.skipped = `nats-server n${server + 1} may not be stopped now`);
    }
    for (const id of cutOff) this.impair(id, 1);
    r.targets.push(`n${server + 1}`, ...cutOff);
    r.start = this.now();
    try {
      await nats.stop(server);
      await sleep(f.durationMs);
      await nats.start(server);
    } finally {
      for (const id of cutOff) this.impair(id, -1);
    }
    r.end = this.now();
  }

  /**
   * A partial partition (3 nats-servers): the route between two servers is
   * cut, dropped, or dropped one way, for durationMs, then healed. The
   * nodes on either end still reach those on the third server, not each
   * other. The voters on the end with fewer count as impaired (skipped
   * when that would impair a majority).
   */
  private async bridge(f: PlannedFault, r: FaultRecord): Promise<void> {
    const nats = this.c.env.nats;
    const routes = nats.routes();
    if (routes.length === 0) return void (r.skipped = 'one nats-server: no route to break');
    // pick chooses the route and, for a one-way drop, its direction.
    const k = Math.floor(f.pick * routes.length * 2);
    const [a, b] = routes[k >> 1]!;
    const on = (s: number) => this.voters().filter((id) => this.c.serverOf(id) === s);
    const impaired = on(a).length <= on(b).length ? on(a) : on(b);
    if (impaired.some((id) => this.isImpaired(id)) || !this.canImpair(impaired.length)) {
      return void (r.skipped = `the route n${a + 1}-n${b + 1} may not be broken now`);
    }
    const proxy = nats.route(a, b);
    for (const id of impaired) this.impair(id, 1);
    // The route's proxy client is server a: 'up' loses what a sends to b.
    const direction = (k & 1) === 0 ? 'up' : 'down';
    const lost =
      f.variant === 'one-way' ? (direction === 'up' ? ` n${a + 1}>n${b + 1}` : ` n${b + 1}>n${a + 1}`) : '';
    r.targets.push(`n${a + 1}-n${b + 1}${lost}`, ...impaired);
    r.start = this.now();
    try {
      if (f.variant === 'cut') proxy.cut();
      else if (f.variant === 'drop') proxy.drop();
      else proxy.dropOneWay(direction);
      await sleep(f.durationMs);
      proxy.heal();
    } finally {
      for (const id of impaired) this.impair(id, -1);
    }
    r.end = this.now();
  }

  /** kill -9 of ids, then each restarted once durationMs passed (and the servers it needs are up). */
  private async downFor(ids: readonly string[], durationMs: number, r: FaultRecord): Promise<void> {
    for (const id of ids) this.impair(id, 1);
    r.targets.push(...ids);
    r.start = this.now();
    try {
      await Promise.all(ids.map((id) => this.c.kill(id)));
      await sleep(durationMs);
      await Promise.all(ids.map((id) => this.restart(id)));
    } finally {
      for (const id of ids) this.impair(id, -1);
    }
    r.end = this.now();
  }

  /**
   * Starts node id again, whatever the state of the servers and of its
   * link: a start waits for NATS and the store (`startup.waitMs`), so the
   * faults that overlap it strike a replica while it starts.
   * @throws Error when it is not running after three tries
   */
  private async restart(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.c.isUp(id)) await this.c.start(id);
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        await sleep(500);
      }
    }
  }

  /** The spare joins as a voter, stays, and is removed (then killed, its rows deleted). */
  private async membership(f: PlannedFault, r: FaultRecord): Promise<void> {
    const spare = this.c.spare;
    if (this.spareVoter || this.c.isUp(spare) || this.majorityDown) return void (r.skipped = 'busy');
    this.spareVoter = true;
    r.targets.push(spare);
    r.start = this.now();
    try {
      await this.restart(spare); // serve's join asks the leader to add it, every 2 s until it is done
      const until = Date.now() + f.durationMs + 15_000;
      while (Date.now() < until && !(await this.isVoter(spare))) await sleep(200);
      r.targets.push((await this.isVoter(spare)) ? 'joined' : 'not joined in time');
      await sleep(f.durationMs);
    } finally {
      await this.removeSpare(r);
      r.end = this.now();
    }
  }

  private async isVoter(id: string): Promise<boolean> {
    try {
      return (await this.admin.status()).members.voters.includes(id);
    } catch {
      return false;
    }
  }

  /** Removes the spare from the group (retrying for up to 30 s), kills it and deletes its rows. */
  private async removeSpare(r?: FaultRecord): Promise<void> {
    const spare = this.c.spare;
    if (!this.spareVoter) return;
    const until = Date.now() + 30_000;
    let removed = false;
    while (!removed && Date.now() < until) {
      try {
        await this.admin.remove(spare, { timeoutMs: 4000 });
        removed = !(await this.isMember(spare));
      } catch (err) {
        if (r) r.error = `remove: ${err instanceof Error ? err.name : String(err)}`;
        await sleep(500);
      }
    }
    if (!removed) throw new Error(`the spare ${spare} could not be removed within 30 s`);
    await this.c.kill(spare);
    // Its join loop may have had an addVoter in flight: once it is gone, remove what that added.
    await sleep(1000);
    if (await this.isMember(spare).catch(() => false)) await this.admin.remove(spare, { timeoutMs: 4000 });
    await this.c.deleteRows(spare).catch(() => undefined);
    this.spareVoter = false;
  }

  private async isMember(id: string): Promise<boolean> {
    const m = (await this.admin.status()).members;
    return [...m.voters, ...m.learners, ...m.outgoing].includes(id);
  }

  /**
   * Ends every fault the plan left (after runPlan): servers up, links healed
   * and undelayed, nodes resumed and restarted, the spare removed.
   * @throws Error when a node cannot be restarted or the spare removed
   */
  async healAll(): Promise<void> {
    await this.c.env.heal();
    for (const p of this.c.proxies.values()) {
      p.heal();
      p.delay(0);
    }
    for (const id of this.c.ids) this.c.resume(id);
    await Promise.all(this.c.ids.filter((id) => !this.c.isUp(id)).map((id) => this.restart(id)));
    await this.removeSpare();
  }
}
