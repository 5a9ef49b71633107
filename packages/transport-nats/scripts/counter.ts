import type { Applier, CommandEnvelope, Role } from '@raftline/core';

/**
 * A trivial applier for tests and benchmarks: counts commands per key (the
 * value applied is the new count), records the applied order, and follows
 * the replica's role.
 */
export class CounterApplier implements Applier {
  readonly counts = new Map<string, number>();
  readonly applied: string[] = [];
  role: Role = 'follower';
  leaderId = '';
  term = 0;
  /** When (ms since the epoch) this replica last became leader. */
  leaderSince = 0;

  validate(): void {}

  apply(c: CommandEnvelope) {
    const key = String(c.args[0]);
    const next = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, next);
    this.applied.push(key);
    return { ok: true as const, value: next };
  }

  query(_name: string, args: readonly unknown[]) {
    return this.counts.get(String(args[0])) ?? 0;
  }

  snapshot() {
    return new Uint8Array();
  }

  restore() {}

  onRoleChange(role: Role, leaderId: string, term: number): void {
    if (role === 'leader' && this.role !== 'leader') this.leaderSince = Date.now();
    this.role = role;
    this.leaderId = leaderId;
    this.term = term;
  }
}
