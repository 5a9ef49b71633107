/**
 * Semantic versions (SemVer 2.0.0) as flagd's sem_ver reads them: an
 * optional leading `v` or `V`, MAJOR.MINOR.PATCH with optional pre-release and
 * build parts, or the shorthands MAJOR and MAJOR.MINOR (as .0) without them.
 * Build metadata is ignored in comparisons.
 */
import type { SemverComparator } from './types';

/** A parsed version. */
export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers; empty for a release. */
  readonly pre: readonly (string | number)[];
}

const NUM = '(0|[1-9]\\d*)';
const IDENT = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const FULL = new RegExp(
  `^[vV]?${NUM}\\.${NUM}\\.${NUM}(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);
const SHORT = new RegExp(`^[vV]?${NUM}(?:\\.${NUM})?$`);

/** Comparators of SemverComparator, for validation. */
export const SEMVER_COMPARATORS: readonly SemverComparator[] = ['=', '!=', '<', '<=', '>', '>=', '~', '^'];

/** @returns the version text denotes, or undefined when it is not one (or a part exceeds 2⁵³) */
export function parseSemver(text: string): Semver | undefined {
  if (text.length > 256) return undefined;
  const full = FULL.exec(text);
  const m = full ?? SHORT.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  const patch = full ? Number(m[3]) : 0;
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  const pre = full && m[4] !== undefined ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  if (pre.some((p) => typeof p === 'number' && !Number.isSafeInteger(p))) return undefined;
  return { major, minor, patch, pre };
}

/** SemVer 2.0.0 precedence. @returns -1, 0 or 1 */
export function compareSemver(a: Semver, b: Semver): number {
  for (const [x, y] of [
    [a.major, b.major],
    [a.minor, b.minor],
    [a.patch, b.patch],
  ] as const) {
    if (x !== y) return x < y ? -1 : 1;
  }
  // A pre-release sorts before its release.
  if (a.pre.length === 0 || b.pre.length === 0)
    return a.pre.length === b.pre.length ? 0 : a.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    // Numeric identifiers sort before alphanumeric ones, numerically among themselves.
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

/** Whether `actual compare target` holds; `~`: same major and minor, `^`: same major (flagd's meaning). */
export function semverHolds(actual: Semver, compare: SemverComparator, target: Semver): boolean {
  switch (compare) {
    case '~':
      return actual.major === target.major && actual.minor === target.minor;
    case '^':
      return actual.major === target.major;
    default: {
      const c = compareSemver(actual, target);
      switch (compare) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
    }
  }
}
