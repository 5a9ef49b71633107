import type { Entry } from '../protocol/types';
import type { Applier, ApplyResult } from './applier';
import { decodeCommand, type CommandEnvelope } from './command';
import type { CommittedFeed } from './committed-feed';
import type { Proposals } from './proposals';
import type { SnapshotManager } from './snapshots';
import type { Verifier } from './verification';

/** What applying committed entries touches. */
export interface ApplyParts {
  readonly applier: Applier;
  readonly verification: Pick<Verifier, 'intercept'>;
  readonly proposals: Pick<Proposals, 'settle'>;
  readonly feed: Pick<CommittedFeed, 'push'>;
  readonly snapshots: Pick<SnapshotManager, 'afterApply'> | undefined;
}

/**
 * Applies committed entries to the state machine in log order: a
 * verification entry is the verifier's, a command is decoded and applied
 * (a handler that throws fails its proposal, never the node); each entry
 * then settles its proposal, feeds the committed stream and counts toward
 * the next snapshot. A replica stopped at a divergence settles entries
 * without applying them, and its state stays as it was.
 */
export function applyEntries(entries: readonly Entry[], parts: ApplyParts): void {
  const { applier, verification, proposals, feed, snapshots } = parts;
  for (const e of entries) {
    const intercepted = verification.intercept(e);
    if (intercepted?.applied === false) {
      proposals.settle(e, intercepted.outcome); // stopped at a divergence: the state stays as it was
      continue;
    }
    let outcome: ApplyResult | undefined = intercepted?.outcome;
    let command: CommandEnvelope | undefined;
    if (!intercepted && e.type === 'normal') {
      try {
        command = decodeCommand(e.data);
        outcome = applier.apply(command, { index: e.index, term: e.term, time: command.time });
      } catch (err) {
        outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    }
    proposals.settle(e, outcome);
    feed.push(e, command, outcome);
    snapshots?.afterApply(e.data.byteLength);
  }
}
