import { Command, Query, ReplicatedStateMachine, StateMachine, Validate } from '@raftline/core';

/**
 * A replicated stock ledger for the typed-client tests (in-process and in
 * replica processes): `stock` adds units of a sku, `reserve` takes some and
 * fails (on every replica) when too few are left, `mark` counts how many
 * times each key was applied, so a test sees any command applied twice.
 * Clients import it as a type only: none of its code runs in them.
 */
@StateMachine('inventory')
export class Inventory extends ReplicatedStateMachine {
  private units: Record<string, number> = {};
  private applied: Record<string, number> = {};

  /** Adds n units of sku; returns the units now available. */
  @Command()
  stock(sku: string, n: number): number {
    this.units[sku] = (this.units[sku] ?? 0) + n;
    return this.units[sku];
  }

  /** Takes n units of sku; returns the units left. Throws (the command fails) when fewer than n are left. */
  @Command()
  reserve(sku: string, n: number): number {
    const left = this.units[sku] ?? 0;
    if (left < n) throw new Error(`only ${left} of ${sku} left, ${n} asked`);
    this.units[sku] = left - n;
    return this.units[sku];
  }

  @Validate('reserve')
  private checkReserve(sku: unknown, n: unknown): string | undefined {
    if (typeof sku !== 'string' || sku === '') return 'sku must be a non-empty string';
    if (!Number.isSafeInteger(n) || (n as number) < 1) return `n (${String(n)}) must be a positive integer`;
    return undefined;
  }

  /** Counts one application of key; returns how many times key was applied. */
  @Command()
  mark(key: string): number {
    this.applied[key] = (this.applied[key] ?? 0) + 1;
    return this.applied[key];
  }

  /** Units of sku available. */
  @Query()
  available(sku: string): number {
    return this.units[sku] ?? 0;
  }

  /** How many times each marked key was applied. */
  @Query()
  marks(): Record<string, number> {
    return { ...this.applied };
  }

  override snapshotState(): unknown {
    return { units: this.units, applied: this.applied };
  }

  override restoreState(state: unknown): void {
    const s = state as { units: Record<string, number>; applied: Record<string, number> };
    this.units = { ...s.units };
    this.applied = { ...s.applied };
  }
}
