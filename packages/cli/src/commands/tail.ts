/** `raftline tail`: the group's committed commands from an index, from the JetStream mirror (readCommitted). */
import type { OutcomeFilter } from '@raftline/core';
import { readCommitted, type CommittedMessage } from '@raftline/transport-nats';
import { json, print } from '../output';
import { oneGroup, withConnection, type Target } from './common';

export interface TailOptions {
  readonly fromIndex: number;
  readonly outcomes: OutcomeFilter;
  readonly follow: boolean;
  /** Stop after this many records. */
  readonly limit?: number;
}

/**
 * Prints committed commands in log order, one per line (JSON lines with -w
 * json), until the stream's current end, or with follow until interrupted.
 * @throws CommittedStreamError when the group has no mirrored stream or it cannot be read from fromIndex
 */
export async function tailCommand(target: Target, options: TailOptions): Promise<void> {
  const group = oneGroup(target);
  await withConnection(target, async (nc) => {
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let printed = 0;
    try {
      for await (const r of readCommitted({
        connection: nc,
        cluster: target.cluster,
        group,
        fromIndex: options.fromIndex,
        outcomes: options.outcomes,
        follow: options.follow,
        signal: abort.signal,
      })) {
        print(target.format === 'json' ? json(recordJson(r)) : recordLine(r));
        if (options.limit !== undefined && ++printed >= options.limit) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

function recordJson(r: CommittedMessage): Record<string, unknown> {
  const { index, term, seq, command, outcome } = r;
  return {
    index,
    term,
    seq,
    time: new Date(command.time).toISOString(),
    name: command.name,
    args: command.args,
    ...(command.session ? { session: command.session } : {}),
    outcome,
  };
}

/** `12  t3  2025-01-02T10:00:00.000Z  put ["k","v"]` and, when not applied, its outcome. */
export function recordLine(r: CommittedMessage): string {
  const o = r.outcome;
  const outcome =
    o.kind === 'applied'
      ? ''
      : o.kind === 'failed'
        ? `  failed: ${o.error.name}: ${o.error.message}`
        : `  duplicate of ${o.of}`;
  return `${String(r.index).padStart(6)}  t${r.term}  ${new Date(r.command.time).toISOString()}  ${r.command.name} ${JSON.stringify(r.command.args)}${outcome}`;
}
