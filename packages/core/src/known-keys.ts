import { ConfigError } from './errors';

/**
 * Every key of T, each mapped to `true`: the compiler refuses a KnownKeys<T>
 * that misses a key of T or names one T does not have, so a list of allowed
 * option keys cannot drift from the options' type.
 *
 *     const KEYS: KnownKeys<MyOptions> = { url: true, timeoutMs: true };
 */
export type KnownKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Returns one problem per key of `options` that `known` does not hold, each
 * naming the key and `where` it was found, with the closest known key when
 * one is close enough to be a typo:
 * `Replica options: unknown key 'snapshotstore' (did you mean 'snapshotStore'?)`.
 * `options` undefined has no problems; a non-object is one problem.
 */
export function unknownKeyProblems(options: unknown, known: object, where: string): string[] {
  if (options === undefined) return [];
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return [`${where} must be an object (got ${describe(options)})`];
  }
  const allowed = Object.keys(known);
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    if (Object.prototype.hasOwnProperty.call(known, key)) continue;
    const near = closest(key, allowed);
    problems.push(`${where}: unknown key '${key}'${near ? ` (did you mean '${near}'?)` : ''}`);
  }
  return problems;
}

/**
 * Throws when `options` holds a key that `known` does not: a misspelt
 * option would otherwise be dropped without a word.
 * @throws ConfigError naming every unknown key and `where` it was found
 */
export function checkKnownKeys(options: unknown, known: object, where: string): void {
  const problems = unknownKeyProblems(options, known, where);
  if (problems.length > 0) throw new ConfigError(problems);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** The known key a typo most likely meant: same letters in another case, or within a small edit distance. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = allowed.find((k) => k.toLowerCase() === lower);
  if (sameCase) return sameCase;
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of allowed) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
