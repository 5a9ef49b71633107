import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EXIT,
  METRIC_NAMES,
  METRICS,
  SERVE_SETTINGS,
  SERVICE_METRIC_NAMES,
  SERVICE_METRICS,
} from '../src/index';

// The README's tables are the reference users read: they must name exactly
// what the code has.

const README = readFileSync(join(__dirname, '../README.md'), 'utf8');

/** The rows of the README's table whose first cell matches `first`. */
function rows(first: RegExp): string[][] {
  return README.split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    )
    .filter((cells) => first.test(cells[0] ?? ''));
}

describe('packages/cli/README.md', () => {
  it('documents every metric, with its type, and no other', () => {
    const documented = rows(/^`raftline_/).map(([name, type]) => [name!.replace(/`/g, ''), type]);
    const all = [
      ...METRIC_NAMES.map((name) => [name, METRICS[name].type]),
      ...SERVICE_METRIC_NAMES.map((name) => [name, SERVICE_METRICS[name].type]),
    ];
    expect(documented.sort()).toEqual(all.sort());
  });

  it('documents every exit code with its number', () => {
    const documented = rows(/^\d+$/).map(([code]) => Number(code));
    expect(documented).toEqual(Object.values(EXIT));
  });

  it('names every RAFTLINE_* variable and flag of serve beside its setting', () => {
    for (const s of SERVE_SETTINGS) {
      const path = s.scope === 'group' ? `groups.<name>.${s.path}` : s.path;
      const row = rows(new RegExp(`^\`${path.replace(/[.<>]/g, '\\$&')}\`$`))[0];
      expect([path, row?.[1], row?.[2]]).toEqual([path, `\`${s.env}\``, `\`${s.flag.split(' ')[0]}\``]);
    }
  });
});
