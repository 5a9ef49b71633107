/** How commands print: bordered tables (like etcdctl -w table) and JSON. */

/** The formats -w takes. */
export const FORMATS = ['table', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/**
 * A table with a border, headers centred, numbers right-aligned:
 *
 *     +------+--------+
 *     | NODE |  ROLE  |
 *     +------+--------+
 *     | n1   | leader |
 *     +------+--------+
 */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const center = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const head = `|${headers.map((h, i) => ` ${center(h, widths[i]!)} `).join('|')}|`;
  const body = rows.map(
    (r) =>
      `|${r
        .map((c, i) => {
          const s = String(c);
          const w = widths[i]!;
          return ` ${typeof c === 'number' ? s.padStart(w) : s.padEnd(w)} `;
        })
        .join('|')}|`,
  );
  return [line, head, line, ...body, line].join('\n');
}

/** JSON on one line per document (for scripts and jq). */
export function json(value: unknown): string {
  return JSON.stringify(value);
}

/** Writes a line to stdout. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Writes a line to stderr. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A duration in ms as people read it: 850ms, 12.3s, 4m10s, 2h5m. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m`;
}
