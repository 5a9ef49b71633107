// CommandFailedError keeps the name of what the handler threw: in the result,
// in the session table (retries, snapshots, the encoding before it was kept),
// in the committed stream's outcome and in its snapshot marks.
import { pack, unpack } from '../../src/codec';
import { CommandFailedError, DecodeError } from '../../src/errors';
import type { ApplyResult } from '../../src/node/applier';
import { encodeCommand } from '../../src/node/command';
import { CommittedFeed, type CommittedEvent } from '../../src/node/committed-feed';
import { Command, StateMachine } from '../../src/state-machine/decorators';
import { MachineHost } from '../../src/state-machine/host';
import { ReplicatedStateMachine } from '../../src/state-machine/machine';
import { decodeResult, encodeResult } from '../../src/state-machine/sessions';
import { MemoryLogStore, MemoryNetwork, MemoryStableStore } from '../../src/ports/memory';
import { seededRandom } from '../../src/protocol/random';
import { Replica } from '../../src/replica';
import { FAST, until } from '../support/nodes';
import { at, cmd } from './kv-machine';

class StaleTokenError extends Error {
  override readonly name = 'StaleTokenError';
}

/** Leaves name as Error's: its class names it. */
class NotHolderError extends Error {}

@StateMachine('leases')
class Leases extends ReplicatedStateMachine {
  token = 4;
  @Command() ack(token: number): number {
    if (token < this.token) throw new StaleTokenError(`token ${token} < ${this.token}`);
    return token;
  }
  @Command() release(holder: string): never {
    throw new NotHolderError(`${holder} does not hold it`);
  }
  @Command() plain(): never {
    throw new Error('plain failure');
  }
  @Command() odd(): never {
    throw 'a string';
  }
  @Command() async later(): Promise<void> {}
}

function failure(result: ApplyResult): CommandFailedError {
  if (result.ok) throw new Error('expected a failure');
  expect(result.error).toBeInstanceOf(CommandFailedError);
  return result.error as CommandFailedError;
}

describe('CommandFailedError - the name of what the handler threw', () => {
  it('a handler that throws a named error fails with its name in errorName and in the message', () => {
    const host = new MachineHost(new Leases());
    const error = failure(host.apply(cmd('ack', [3]), at(1)));
    expect(error.errorName).toBe('StaleTokenError');
    expect(error.reason).toBe('token 3 < 4');
    expect(error.message).toBe('command ack failed while applying: StaleTokenError: token 3 < 4');
    expect(error.name).toBe('CommandFailedError');
  });

  it('an Error subclass that leaves name as Error is named by its class', () => {
    const error = failure(new MachineHost(new Leases()).apply(cmd('release', ['b']), at(1)));
    expect(error.errorName).toBe('NotHolderError');
    expect(error.message).toBe('command release failed while applying: NotHolderError: b does not hold it');
  });

  it('a plain Error is named Error, and its message reads as before', () => {
    const error = failure(new MachineHost(new Leases()).apply(cmd('plain', []), at(1)));
    expect(error.errorName).toBe('Error');
    expect(error.message).toBe('command plain failed while applying: plain failure');
  });

  it('no errorName when the handler threw a non-Error or the framework failed the command', () => {
    const host = new MachineHost(new Leases());
    expect(failure(host.apply(cmd('odd', []), at(1))).errorName).toBeUndefined();
    expect(failure(host.apply(cmd('odd', []), at(1))).message).toBe(
      'command odd failed while applying: a string',
    );
    expect(failure(host.apply(cmd('later', []), at(2))).errorName).toBeUndefined();
  });

  it('a retry answers with the same named failure, also after a snapshot is restored', () => {
    const host = new MachineHost(new Leases());
    const ack = cmd('ack', [3], { clientId: 'c', seq: 1 });
    const first = host.apply(ack, at(1));
    const retry = host.apply(ack, at(2));
    expect(retry).toEqual({ ...first, duplicateOf: 1 });
    expect(failure(retry).errorName).toBe('StaleTokenError');

    const restored = new MachineHost(new Leases());
    restored.restore(host.snapshot());
    const again = failure(restored.apply(ack, at(3)));
    expect([again.errorName, again.message]).toEqual([
      'StaleTokenError',
      'command ack failed while applying: StaleTokenError: token 3 < 4',
    ]);
  });
});

describe('session results - the stored encoding of a failure', () => {
  it('keeps errorName as a fourth element, and leaves it out when there is none', () => {
    expect(
      unpack(encodeResult({ ok: false, error: new CommandFailedError('ack', 'r', 'StaleTokenError') })),
    ).toEqual([1, 'ack', 'r', 'StaleTokenError']);
    expect(unpack(encodeResult({ ok: false, error: new CommandFailedError('ack', 'r') }))).toEqual([
      1,
      'ack',
      'r',
    ]);
  });

  it('decodes the encoding written before the name was kept', () => {
    const old = decodeResult(pack([1, 'ack', 'token 3 < 4']));
    expect(old).toEqual({ ok: false, error: new CommandFailedError('ack', 'token 3 < 4') });
    expect(failure(old).errorName).toBeUndefined();
    expect(failure(old).message).toBe('command ack failed while applying: token 3 < 4');
  });

  it('refuses a malformed name or extra elements with DecodeError', () => {
    expect(() => decodeResult(pack([1, 'ack', 'r', 7]))).toThrow(DecodeError);
    expect(() => decodeResult(pack([1, 'ack', 'r', 'E', 'extra']))).toThrow(DecodeError);
  });
});

describe('committed stream - a failed outcome names what the handler threw', () => {
  const entries = [1, 2, 3].map((index) => ({
    index,
    term: 1,
    type: 'normal' as const,
    data: encodeCommand(cmd('ack', [3])),
  }));
  const feedOf = () =>
    new CommittedFeed(
      4,
      (lo, hi) => entries.slice(lo - 1, hi),
      () => 1,
    );
  async function outcomes(feed: CommittedFeed): Promise<CommittedEvent['outcome'][]> {
    feed.close();
    const out: CommittedEvent['outcome'][] = [];
    for await (const e of feed.iterate({ fromIndex: 1, outcomes: 'all' })) out.push(e.outcome);
    return out;
  }

  it('error.name is the class the proposer received; errorName is the handler’s error, through snapshot marks', async () => {
    const host = new MachineHost(new Leases());
    const feed = feedOf();
    feed.push(entries[0]!, cmd('ack', [3]), host.apply(cmd('ack', [3]), at(1)));
    feed.push(entries[1]!, cmd('odd', []), host.apply(cmd('odd', []), at(2)));
    feed.push(entries[2]!, cmd('ack', [5]), host.apply(cmd('ack', [5]), at(3)));
    const named = {
      kind: 'failed',
      error: {
        name: 'CommandFailedError',
        message: 'command ack failed while applying: StaleTokenError: token 3 < 4',
        errorName: 'StaleTokenError',
      },
    };
    const unnamed = {
      kind: 'failed',
      error: { name: 'CommandFailedError', message: 'command odd failed while applying: a string' },
    };
    const live = await outcomes(feed);
    expect(live.slice(0, 2)).toEqual([named, unnamed]);
    expect('errorName' in (live[1] as { error: object }).error).toBe(false);

    const marks = feed.snapshotMarks().capture();
    expect((unpack(marks) as unknown[])[2]).toEqual([
      [1, 'f', 'CommandFailedError', named.error.message, 'StaleTokenError'],
      [2, 'f', 'CommandFailedError', unnamed.error.message],
    ]);
    const restored = feedOf();
    restored.snapshotMarks().prepare(marks)();
    restored.skipTo(3);
    expect(await outcomes(restored)).toEqual([named, unnamed, { kind: 'applied' }]);
    expect(() =>
      feedOf()
        .snapshotMarks()
        .prepare(pack([1, 1, [[1, 'f', 'a', 'b', 9]]])),
    ).toThrow('snapshot outcome mark is malformed');
  });
});

describe('CommandFailedError - a proposer in-process gets the name', () => {
  it('a replica rejects the proposal with errorName, and its committed stream reports it', async () => {
    const replica = new Replica({
      id: 'solo',
      voters: ['solo'],
      machine: new Leases(),
      logStore: new MemoryLogStore(),
      stableStore: new MemoryStableStore(),
      transport: new MemoryNetwork().transport('solo'),
      random: seededRandom(3),
      config: FAST,
    });
    await replica.start();
    try {
      await until(() => replica.node.isLeader(), 'a leader');
      const err: unknown = await replica.commands.ack(1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandFailedError);
      expect(err).toMatchObject({ command: 'ack', reason: 'token 1 < 4', errorName: 'StaleTokenError' });
      for await (const e of replica.committed({ outcomes: 'all' })) {
        expect(e.outcome).toEqual({
          kind: 'failed',
          error: {
            name: 'CommandFailedError',
            message: 'command ack failed while applying: StaleTokenError: token 1 < 4',
            errorName: 'StaleTokenError',
          },
        });
        break;
      }
    } finally {
      await replica.stop();
    }
  });
});
