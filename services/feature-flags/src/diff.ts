/**
 * Structural diffs of definitions, for the history: which fields a write
 * changed, from what, to what. Paths read like the validator's
 * (`rules[0].serve.rollout.split[0].weight`, `variants.on`).
 */
import type { Change, JsonValue } from './types';

/** At most this many changes are listed per write; the rest are counted in a last entry. */
export const MAX_CHANGES = 100;

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key)
    ? path === ''
      ? key
      : `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

function walk(
  before: JsonValue | undefined,
  after: JsonValue | undefined,
  path: string,
  out: Change[],
): void {
  if (before === after) return;
  if (isObject(before) && isObject(after)) {
    for (const k of Object.keys(before))
      walk(before[k], Object.hasOwn(after, k) ? after[k] : undefined, join(path, k), out);
    for (const k of Object.keys(after))
      if (!Object.hasOwn(before, k)) walk(undefined, after[k], join(path, k), out);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++)
      walk(before[i], after[i], join(path, i), out);
    return;
  }
  out.push({ path, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
}

/**
 * The changes from before to after (undefined: absent), at most MAX_CHANGES
 * of them, then one `{ path: '…' , after: '<n> more changes' }`.
 * @returns the changes, in field order; none when they are equal
 */
export function diff(before: JsonValue | undefined, after: JsonValue | undefined): Change[] {
  if (before === undefined || after === undefined) {
    return [
      { path: '', ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) },
    ];
  }
  const out: Change[] = [];
  walk(before, after, '', out);
  if (out.length <= MAX_CHANGES) return out;
  return [...out.slice(0, MAX_CHANGES), { path: '…', after: `${out.length - MAX_CHANGES} more changes` }];
}

/** Whether a and b are equal JSON data (object key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}
