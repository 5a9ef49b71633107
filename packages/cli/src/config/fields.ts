/**
 * Reads fields of an untyped configuration object (a parsed YAML or JSON
 * file, with environment and flags merged in) and collects one problem per
 * bad field, each naming its full path and, when it did not come from the
 * file, where it came from: `metrics.port (x, from RAFTLINE_METRICS_PORT)
 * must be an integer from 0 to 65535`.
 */
import { unknownKeyProblems } from '@raftline/core';

/** Where a value that did not come from the file was set, by path: `--metrics-port`, `RAFTLINE_NODE`. */
export type Origins = ReadonlyMap<string, string>;

export class FieldReader {
  constructor(
    readonly problems: string[],
    private readonly origins: Origins,
  ) {}

  /** The object at `path` (undefined when absent); a problem when it is not a plain object. */
  object(value: unknown, path: string): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, value, 'must be a mapping of fields');
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /** A problem for each key of `obj` that `known` lacks, with the closest known key as a hint. */
  known(obj: Record<string, unknown> | undefined, known: object, path: string): void {
    this.problems.push(...unknownKeyProblems(obj, known, path || 'the configuration'));
  }

  string(value: unknown, path: string, required: true): string;
  string(value: unknown, path: string, required?: false): string | undefined;
  string(value: unknown, path: string, required = false): string | undefined {
    if (value === undefined || value === null || value === '') {
      if (required) this.problems.push(`${path}${this.from(path)} must be set`);
      return undefined;
    }
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'string') {
      this.problem(path, value, 'must be a string');
      return undefined;
    }
    return value;
  }

  /** A list of strings: a YAML list, or one string of comma-separated items. */
  list(value: unknown, path: string): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    const items = typeof value === 'string' ? value.split(',') : value;
    if (!Array.isArray(items) || items.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
      this.problem(path, value, 'must be a list of strings (or one comma-separated string)');
      return undefined;
    }
    return items.map((v) => String(v).trim()).filter((v) => v.length > 0);
  }

  integer(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    const n = this.number(value, path, `must be an integer ${range}`);
    if (n === undefined) return undefined;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problem(path, value, `must be an integer ${range}`);
      return undefined;
    }
    return n;
  }

  /** A number; numeric strings (from the environment or a flag) count. */
  number(value: unknown, path: string, must = 'must be a number'): number | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      this.problem(path, value, must);
      return undefined;
    }
    return n;
  }

  /** true/false; 'true', 'false', '1', '0', 'yes', 'no' count. */
  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'boolean') return value;
    const s = String(value).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    this.problem(path, value, 'must be true or false');
    return undefined;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    const s = this.string(value, path);
    if (s === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(s)) {
      this.problem(path, value, `must be one of ${allowed.join(', ')}`);
      return undefined;
    }
    return s as T;
  }

  /** Records `<path> (<value>[, from <origin>]) <must …>`. */
  problem(path: string, value: unknown, must: string): void {
    const origin = this.origins.get(path);
    this.problems.push(`${path} (${show(value)}${origin ? `, from ${origin}` : ''}) ${must}`);
  }

  private from(path: string): string {
    const origin = this.origins.get(path);
    return origin ? ` (from ${origin})` : '';
  }
}

/** A value as a problem quotes it: short, on one line. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
