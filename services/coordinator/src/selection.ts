/**
 * Selection of the next coordinator: a pure function of replicated data
 * (the applicants in campaign order, their declared capabilities and load,
 * the task's policy, id, last holder and the epoch about to be granted), so
 * that every replica selects the same candidate. See Policy for the rules.
 */
import type { Policy } from './types';

/** What selection knows of one applicant. */
export interface Applicant {
  readonly id: string;
  readonly capabilities: Readonly<Record<string, number>>;
  readonly load: number;
  /** Tasks it holds now. */
  readonly holding: number;
}

/** What selection knows of the task. */
export interface SelectionInput {
  readonly policy: Policy;
  readonly task: string;
  /** The epoch the winner will hold. */
  readonly epoch: number;
  readonly requires: readonly string[];
  readonly designated: string | null;
  readonly lastHolder: string | null;
  /** Eligible applicants (registered, with every required capability), in campaign order. */
  readonly applicants: readonly Applicant[];
}

/** Whether a candidate with these capabilities may coordinate a task requiring `requires`. */
export function hasCapabilities(
  capabilities: Readonly<Record<string, number>>,
  requires: readonly string[],
): boolean {
  return requires.every((c) => Object.hasOwn(capabilities, c));
}

/** FNV-1a, 32 bits: a stable hash of a string, the same on every replica and every platform. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const byId = (a: Applicant, b: Applicant): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The first applicant with the smallest key (campaign order breaks ties). */
function minBy(applicants: readonly Applicant[], key: (a: Applicant) => number): Applicant | undefined {
  let best: Applicant | undefined;
  for (const a of applicants) if (!best || key(a) < key(best)) best = a;
  return best;
}

/**
 * Picks the next coordinator.
 * @returns the winner's id, or null when no applicant may be selected (none
 *   applied, or under 'designated' the designated one did not)
 */
export function select(input: SelectionInput): string | null {
  const { applicants } = input;
  if (applicants.length === 0) return null;
  switch (input.policy) {
    case 'first':
      return applicants[0]!.id;
    case 'designated':
      return applicants.some((a) => a.id === input.designated) ? input.designated : null;
    case 'capability': {
      const score = (a: Applicant): number =>
        input.requires.reduce((sum, c) => sum + (a.capabilities[c] ?? 0), 0);
      return minBy(applicants, (a) => -score(a))!.id;
    }
    case 'least-loaded':
      return minBy(applicants, (a) => a.load + a.holding)!.id;
    case 'round-robin': {
      const sorted = [...applicants].sort(byId);
      const last = input.lastHolder;
      return (last === null ? undefined : sorted.find((a) => a.id > last))?.id ?? sorted[0]!.id;
    }
    case 'random': {
      const sorted = [...applicants].sort(byId);
      return sorted[fnv1a(`${input.task}#${input.epoch}`) % sorted.length]!.id;
    }
  }
}
