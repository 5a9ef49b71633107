/** The SVG chart of bench/compare.ts: throughput per system at each client count, and sequential p50. */

export interface ChartRow {
  readonly system: string;
  /** Commands per second at each client count, in LEVELS order (NaN: not measured). */
  readonly throughput: readonly number[];
  readonly sequentialP50Ms: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Returns an SVG document: grouped bars (one group per client count) and a sequential-p50 panel. */
export function compareSvg(rows: readonly ChartRow[], levels: readonly number[], title: string): string {
  const W = 760;
  const H = 360;
  const left = 60;
  const top = 40;
  const plotW = 470;
  const plotH = 260;
  const max = Math.max(1, ...rows.flatMap((r) => r.throughput.filter(Number.isFinite)));
  const groupW = plotW / levels.length;
  const barW = (groupW * 0.8) / Math.max(1, rows.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="13">${esc(title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    const y = top + plotH - (plotH * t) / 4;
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(v)}</text>`);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="#eee"/>`);
  }
  levels.forEach((level, g) => {
    const x0 = left + g * groupW + groupW * 0.1;
    rows.forEach((r, i) => {
      const v = r.throughput[g] ?? NaN;
      if (!Number.isFinite(v)) return;
      const h = (plotH * v) / max;
      out.push(
        `<rect x="${(x0 + i * barW).toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" ` +
          `height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(r.system)} ${level} clients: ${Math.round(v)}/s</title></rect>`,
      );
    });
    out.push(
      `<text x="${left + g * groupW + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle">${level} clients</text>`,
    );
  });
  out.push(
    `<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">commands/s</text>`,
  );
  // Legend with sequential p50.
  const lx = left + plotW + 30;
  out.push(`<text x="${lx}" y="${top}" font-weight="bold">system (sequential p50)</text>`);
  rows.forEach((r, i) => {
    const y = top + 20 + i * 20;
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    const p50 = Number.isFinite(r.sequentialP50Ms) ? `${r.sequentialP50Ms.toFixed(2)} ms` : '-';
    out.push(`<text x="${lx + 18}" y="${y}">${esc(r.system)} (${p50})</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
