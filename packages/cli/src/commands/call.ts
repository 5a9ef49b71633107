/** `raftline call <command> [args]` and `raftline query <name> [args]`: one command or query, untyped. */
import { NatsRaftClient, type NatsConnection } from '@raftline/transport-nats';
import type { ReadConsistency } from '@raftline/core';
import { json, print } from '../output';
import { oneGroup, parseArgs, withConnection, type Target } from './common';

export const CONSISTENCIES: readonly ReadConsistency[] = ['linearizable', 'lease', 'stale'];

export function client(nc: NatsConnection, target: Target): NatsRaftClient {
  return new NatsRaftClient({
    connection: nc,
    cluster: target.cluster,
    group: oneGroup(target),
    timeoutMs: target.timeoutMs,
  });
}

/**
 * Proposes one command (without a client session: an attempt whose outcome
 * is unknown is not resent) and prints its result as JSON.
 * @throws RemoteCommandError (the replica refused or the handler threw), OutcomeUnknownError, LeaderUnavailableError
 */
export async function callCommand(target: Target, name: string, argsText: string | undefined): Promise<void> {
  const args = parseArgs(argsText);
  await withConnection(target, async (nc) => {
    const receipt = await client(nc, target).submit({ name, args });
    print(target.format === 'json' ? json(receipt) : (JSON.stringify(receipt.value, null, 2) ?? 'undefined'));
  });
}

/**
 * Runs one query and prints its value as JSON (with -w json: the value, the
 * replica that answered and the applied index it read at).
 * @throws RemoteCommandError, ReadNotConfirmedError
 */
export async function queryCommand(
  target: Target,
  name: string,
  argsText: string | undefined,
  options: { consistency: ReadConsistency; replica?: string },
): Promise<void> {
  const args = parseArgs(argsText);
  await withConnection(target, async (nc) => {
    const receipt = await client(nc, target).query(
      { name, args },
      {
        consistency: options.consistency,
        timeoutMs: target.timeoutMs,
        ...(options.replica ? { replica: options.replica } : {}),
      },
    );
    print(target.format === 'json' ? json(receipt) : (JSON.stringify(receipt.value, null, 2) ?? 'undefined'));
  });
}
