/** `raftline transfer`, `raftline snapshot`, `raftline verify`. */
import { AdminClient, type NatsConnection } from '@raftline/transport-nats';
import { CommandExit, EXIT } from '../errors';
import { json, print, table } from '../output';
import { oneGroup, withConnection, type Target } from './common';

function admin(nc: NatsConnection, target: Target): AdminClient {
  return new AdminClient({
    connection: nc,
    cluster: target.cluster,
    group: oneGroup(target),
    timeoutMs: target.timeoutMs,
  });
}

/** Moves leadership to `to`, or to the most up-to-date other voter. */
export async function transferCommand(target: Target, to: string | undefined): Promise<void> {
  await withConnection(target, async (nc) => {
    const outcome = await admin(nc, target).transferLeadership(to, { timeoutMs: target.timeoutMs });
    if (target.format === 'json') print(json(outcome));
    else if (outcome.changed) print(`leadership moved to ${outcome.leaderId || '(not known yet)'}`);
    else print(`${outcome.leaderId} already leads: nothing changed`);
  });
}

/** Takes a snapshot on `node`, or on the leader. */
export async function snapshotCommand(target: Target, node: string | undefined): Promise<void> {
  await withConnection(target, async (nc) => {
    const outcome = await admin(nc, target).snapshot({
      timeoutMs: target.timeoutMs,
      ...(node ? { node } : {}),
    });
    if (target.format === 'json') print(json(outcome));
    else print(`${outcome.node}: snapshot at index ${outcome.index}`);
  });
}

/**
 * Verifies that the replicas hold the same state: their digests at one
 * marker, side by side.
 * @throws CommandExit with EXIT.diverged when a digest differs or is missing
 */
export async function verifyCommand(target: Target): Promise<void> {
  await withConnection(target, async (nc) => {
    const report = await admin(nc, target).verify({ timeoutMs: target.timeoutMs });
    if (target.format === 'json') {
      print(json(report));
    } else {
      print(`verification marker at index ${report.index}, proposed by ${report.leaderId}`);
      const rows = report.replicas.map((r) =>
        'digest' in r ? [r.node, r.digest, r.matches ? 'yes' : 'NO'] : [r.node, `- (${r.reason})`, '-'],
      );
      print(table(['NODE', 'DIGEST', 'MATCHES'], rows));
    }
    if (!report.agree) {
      const parts = [
        report.disagreeing.length > 0 ? `${report.disagreeing.join(', ')} differ` : '',
        report.missing.length > 0 ? `${report.missing.join(', ')} gave no digest` : '',
      ].filter(Boolean);
      throw new CommandExit(
        EXIT.diverged,
        `replicas do not agree at index ${report.index}: ${parts.join('; ')}`,
      );
    }
    if (target.format !== 'json') print(`all ${report.replicas.length} replicas agree`);
  });
}
