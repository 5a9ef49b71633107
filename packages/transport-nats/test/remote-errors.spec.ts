// A replica's error crosses the wire (describe → encodeReply → decodeReply)
// and comes back as the same class with the same fields: these run without a
// server, and fail when a core error's fields change without the reviver.
import {
  ApplyTimeoutError,
  CommandFailedError,
  CommandRejectedError,
  ConfigError,
  DecodeError,
  DivergedError,
  LeadershipLostError,
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
  OverloadedError,
  PayloadTooLargeError,
  ProposalTimeoutError,
  ReadNotConfirmedError,
  SessionExpiredError,
  UnknownCommandError,
} from '@raftline/core';
import { decodeReply, describe as describeError, encodeReply } from '../src/client-wire';
import { reviveError } from '../src/remote-errors';

function roundTrip(err: Error): Error | undefined {
  const reply = decodeReply(encodeReply({ ok: false, error: describeError(err) }, undefined));
  if (reply.ok) throw new Error('expected an error reply');
  return reviveError(reply.error);
}

describe('remote errors - a replica error comes back as its own class', () => {
  const errors: Error[] = [
    new NotLeaderError('n1', 'n2'),
    new LeadershipTransferError('n1', 'n3'),
    new LeadershipLostError(42),
    new ReadNotConfirmedError('n2', 'no leader is known'),
    new ProposalTimeoutError(3000),
    new NodeStoppedError('n3'),
    new OverloadedError('n1', 'maxInFlightPerClient', 1024),
    new CommandRejectedError('reserve', 'n (0) must be a positive integer'),
    new CommandFailedError('reserve', 'only 1 left'),
    new CommandFailedError('ack', 'token 3 < 4', 'StaleTokenError'),
    new UnknownCommandError('stock', 'query'),
    new UnknownCommandError('available'),
    new SessionExpiredError('$12.abc'),
    new PayloadTooLargeError('reply', 2_000_000, 1_048_576, 'NATS max_payload'),
    new MembershipChangeError('a membership change is in progress'),
    new DecodeError('entry payload is not a command envelope'),
    new DivergedError('n3', 12, 'c1:aa', 'c1:bb'),
    new ApplyTimeoutError('n2', 40, 5000),
    new ConfigError(['snapshotStore is not set', 'lagWindow (1) must be at least 2']),
  ];

  it.each(errors.map((e) => [e.message, e] as const))('%s', (_message, err) => {
    const back = roundTrip(err);
    expect(back).toBeInstanceOf(err.constructor);
    expect(back).toEqual(err); // same own fields
    expect(back!.message).toBe(err.message);
  });

  it('a CommandFailedError keeps the name of what the handler threw', () => {
    const back = roundTrip(new CommandFailedError('ack', 'token 3 < 4', 'StaleTokenError'));
    expect((back as CommandFailedError).errorName).toBe('StaleTokenError');
    expect(back!.message).toBe('command ack failed while applying: StaleTokenError: token 3 < 4');
  });

  it('an error that is not raftline’s, or one whose fields are missing, is not rebuilt', () => {
    expect(roundTrip(new TypeError('boom'))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: 'NotLeaderError' }))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: 'toString' }))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: '__proto__' }))).toBeUndefined();
  });
});
