// A replica's error crosses the wire (describe → encodeReply → decodeReply)
// and comes back as the same class with the same fields: these run without a
// server, and fail when a core error's fields change without the reviver.
import {
  CommandFailedError,
  CommandRejectedError,
  DecodeError,
  LeadershipLostError,
  LeadershipTransferError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
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
    new CommandRejectedError('reserve', 'n (0) must be a positive integer'),
    new CommandFailedError('reserve', 'only 1 left'),
    new UnknownCommandError('stock', 'query'),
    new UnknownCommandError('available'),
    new SessionExpiredError('$12.abc'),
    new PayloadTooLargeError('reply', 2_000_000, 1_048_576, 'NATS max_payload'),
    new MembershipChangeError('a membership change is in progress'),
    new DecodeError('entry payload is not a command envelope'),
  ];

  it.each(errors.map((e) => [e.name, e] as const))('%s', (_name, err) => {
    const back = roundTrip(err);
    expect(back).toBeInstanceOf(err.constructor);
    expect(back).toEqual(err); // same own fields
    expect(back!.message).toBe(err.message);
  });

  it('an error that is not raftline’s, or one whose fields are missing, is not rebuilt', () => {
    expect(roundTrip(new TypeError('boom'))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: 'NotLeaderError' }))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: 'toString' }))).toBeUndefined();
    expect(roundTrip(Object.assign(new Error('x'), { name: '__proto__' }))).toBeUndefined();
  });
});
