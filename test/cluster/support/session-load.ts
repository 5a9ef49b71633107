import { LeaderUnavailableError, RemoteCommandError, type NatsRaftClient } from '@raftline/transport-nats';

/** A (clientId, seq) pair: one command of one client session. */
export interface SessionCommand {
  readonly clientId: string;
  readonly seq: number;
}

/** What a session load saw. */
export interface SessionLoadResult {
  /** Commands acknowledged with the handler's value. */
  acked: number;
  /** Commands whose handler threw (CommandFailedError came back): committed, applied as failed. */
  failed: number;
  /** Commands whose outcome stayed unknown after the client's own retries. */
  unknown: number;
  /** Commands no leader accepted (nothing applied). */
  refused: number;
  /** Acknowledged commands the load sent again with the same session, whose resend was acknowledged too. */
  resent: SessionCommand[];
  /** Resends whose answer differed from the first one (must stay empty: the session returns the first result). */
  resendMismatches: string[];
}

/** A running session load. */
export interface SessionLoad {
  readonly result: SessionLoadResult;
  stop(): void;
  readonly done: Promise<SessionLoadResult>;
}

/**
 * Runs `workers` client sessions, each proposing `add(key, n)` one after
 * another with seq 1, 2, 3, … (the client resends an attempt whose outcome
 * is unknown, with the same session), until stop(), `maxCommands` issued in
 * all or `maxMs` passed. Every `failEvery`-th command adds 0, which the
 * handler refuses (a failed command); every `resendEvery`-th acknowledged
 * command is sent once more with its session, as a client whose reply was
 * lost would, and must get the first answer back.
 */
export function startSessionLoad(
  client: NatsRaftClient,
  o: {
    workers: number;
    maxCommands: number;
    maxMs: number;
    prefix: string;
    keys: number;
    failEvery: number;
    resendEvery: number;
  },
): SessionLoad {
  const result: SessionLoadResult = {
    acked: 0,
    failed: 0,
    unknown: 0,
    refused: 0,
    resent: [],
    resendMismatches: [],
  };
  const deadline = Date.now() + o.maxMs;
  let issued = 0;
  let stopped = false;
  const worker = async (w: number): Promise<void> => {
    const clientId = `${o.prefix}-w${w}`;
    for (let seq = 1; !stopped && issued < o.maxCommands && Date.now() < deadline; seq++) {
      const i = issued++;
      const n = i % o.failEvery === o.failEvery - 1 ? 0 : 1 + (i % 3);
      const request = {
        name: 'add',
        args: [`key${i % o.keys}`, n],
        // Everything before this seq has its answer (or was given up on): the replicas may forget it.
        session: { clientId, seq, ackedBelow: seq - 1 },
      };
      let value: unknown;
      try {
        value = await client.propose(request);
        result.acked++;
      } catch (err) {
        if (err instanceof RemoteCommandError && err.remoteName === 'CommandFailedError') result.failed++;
        else if (err instanceof LeaderUnavailableError) result.refused++;
        else result.unknown++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (seq % o.resendEvery !== 0) continue;
      try {
        const again = await client.propose(request);
        if (again === value) result.resent.push({ clientId, seq });
        else result.resendMismatches.push(`${clientId}#${seq}: ${String(value)} then ${String(again)}`);
      } catch {
        // A resend whose outcome is unknown proves nothing either way.
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w))).then(() => result);
  return { result, stop: () => (stopped = true), done };
}
