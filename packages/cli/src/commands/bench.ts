/**
 * `raftline bench <command> [args]`: a quick, bounded load against a group
 * (at most --count requests and --duration seconds) with a live progress
 * bar and a latency summary. `{n}` in a string argument becomes the
 * request's number, so every request can touch its own key.
 */
import type { ReadConsistency } from '@raftline/core';
import { CommandExit, EXIT } from '../errors';
import { json, print, table } from '../output';
import { client } from './call';
import { parseArgs, withConnection, type Target } from './common';

export interface BenchOptions {
  readonly count: number;
  readonly concurrency: number;
  readonly maxSeconds: number;
  /** Run a query of that name instead of a command. */
  readonly query: boolean;
  readonly consistency: ReadConsistency;
}

/** What a run measured. */
export interface BenchSummary {
  readonly name: string;
  readonly kind: 'command' | 'query';
  readonly ok: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly perSecond: number;
  /** Latency of successful requests, ms. */
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
}

/**
 * Runs the load and prints the summary.
 * @throws CommandExit (EXIT.failed) when no request succeeded
 */
export async function benchCommand(
  target: Target,
  name: string,
  argsText: string | undefined,
  options: BenchOptions,
): Promise<BenchSummary> {
  const template = parseArgs(argsText);
  return withConnection(target, async (nc) => {
    const c = client(nc, target);
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    const started = Date.now();
    const deadline = started + options.maxSeconds * 1000;
    let issued = 0;
    let stop = false;
    const onSignal = (): void => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    const progress = process.stderr.isTTY
      ? setInterval(() => drawProgress(latencies.length, count(errors), options.count, started), 100)
      : undefined;
    const worker = async (): Promise<void> => {
      while (!stop && issued < options.count && Date.now() < deadline) {
        const n = issued++;
        const args = substitute(template, n) as unknown[];
        const t0 = process.hrtime.bigint();
        try {
          if (options.query) await c.query({ name, args }, { consistency: options.consistency });
          else await c.propose({ name, args });
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        } catch (err) {
          const e = err as { remoteName?: string; name?: string };
          const key = e.remoteName ?? e.name ?? 'Error';
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: options.concurrency }, worker));
    } finally {
      process.off('SIGINT', onSignal);
      if (progress) {
        clearInterval(progress);
        drawProgress(latencies.length, count(errors), options.count, started);
        process.stderr.write('\n');
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const summary: BenchSummary = {
      name,
      kind: options.query ? 'query' : 'command',
      ok: sorted.length,
      errors,
      seconds,
      perSecond: sorted.length / Math.max(seconds, 1e-3),
      latencyMs: {
        p50: rank(sorted, 0.5),
        p90: rank(sorted, 0.9),
        p99: rank(sorted, 0.99),
        max: sorted.at(-1) ?? 0,
      },
    };
    print(target.format === 'json' ? json(summary) : renderSummary(summary));
    if (summary.ok === 0 && count(errors) > 0) {
      throw new CommandExit(
        EXIT.failed,
        `every request failed (${Object.entries(errors)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ')})`,
      );
    }
    return summary;
  });
}

function renderSummary(s: BenchSummary): string {
  const ms = (v: number): string => v.toFixed(2);
  const errs =
    Object.entries(s.errors)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ') || '0';
  return table(
    ['KIND', 'NAME', 'OK', 'ERRORS', 'SECONDS', 'PER SEC', 'P50 MS', 'P90 MS', 'P99 MS', 'MAX MS'],
    [
      [
        s.kind,
        s.name,
        s.ok,
        errs,
        s.seconds.toFixed(2),
        Math.round(s.perSecond),
        ms(s.latencyMs.p50),
        ms(s.latencyMs.p90),
        ms(s.latencyMs.p99),
        ms(s.latencyMs.max),
      ],
    ],
  );
}

function drawProgress(ok: number, failed: number, total: number, started: number): void {
  const done = ok + failed;
  const width = 30;
  const filled = Math.min(width, Math.round((done / total) * width));
  const rate = done / Math.max((Date.now() - started) / 1000, 1e-3);
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}  ${Math.round(rate)}/s  errors ${failed}   `,
  );
}

/** The value with `{n}` in every string replaced by n. */
export function substitute(value: unknown, n: number): unknown {
  if (typeof value === 'string') return value.replaceAll('{n}', String(n));
  if (Array.isArray(value)) return value.map((v) => substitute(v, n));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, n)]));
  }
  return value;
}

/** The nearest-rank percentile of sorted values (0 when empty). */
export function rank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function count(errors: Record<string, number>): number {
  return Object.values(errors).reduce((a, b) => a + b, 0);
}
