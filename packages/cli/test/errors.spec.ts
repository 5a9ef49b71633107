import { ConfigError, NotLeaderError, ProposalTimeoutError } from '@raftline/core';
import {
  AdminPermissionError,
  AdminRefusedError,
  AdminUnavailableError,
  LeaderUnavailableError,
  OutcomeUnknownError,
  RemoteCommandError,
} from '@raftline/transport-nats';
import { CommandExit, describeError, EXIT, exitCodeOf, UsageError } from '../src/index';

// Scripts rely on the exit codes: each kind of failure has its own.

describe('raftline exit codes', () => {
  it('tell refused, usage, unavailable, unknown-outcome and permission failures apart', () => {
    expect(exitCodeOf(new AdminRefusedError('remove', 'n1 is the only voter'))).toBe(EXIT.failed);
    expect(exitCodeOf(new RemoteCommandError('CommandFailedError', 'boom', false))).toBe(EXIT.failed);
    expect(exitCodeOf(new ConfigError(['node must be set']))).toBe(EXIT.usage);
    expect(exitCodeOf(new UsageError('bad'))).toBe(EXIT.usage);
    expect(exitCodeOf(new AdminUnavailableError('status', 1000, 1, false))).toBe(EXIT.unavailable);
    expect(exitCodeOf(new LeaderUnavailableError(5000, 3))).toBe(EXIT.unavailable);
    expect(exitCodeOf(new AdminUnavailableError('remove', 1000, 2, true))).toBe(EXIT.outcomeUnknown);
    expect(exitCodeOf(new OutcomeUnknownError('no answer', 2))).toBe(EXIT.outcomeUnknown);
    expect(exitCodeOf(new RemoteCommandError('ProposalTimeoutError', 'slow', true))).toBe(
      EXIT.outcomeUnknown,
    );
    expect(exitCodeOf(new ProposalTimeoutError(5000))).toBe(EXIT.outcomeUnknown);
    expect(exitCodeOf(new AdminPermissionError('status', 'raftline.demo.kv.admin.status'))).toBe(
      EXIT.permission,
    );
    expect(exitCodeOf(new CommandExit(EXIT.diverged, 'n3 differs'))).toBe(EXIT.diverged);
    expect(exitCodeOf(new NotLeaderError('n1', 'n2'))).toBe(EXIT.failed);
  });

  it('an error prints as one line naming it, without a stack', () => {
    expect(describeError(new NotLeaderError('n1', 'n2'))).toBe(
      'NotLeaderError: node n1 is not the leader; the leader is n2',
    );
    expect(describeError(new RemoteCommandError('CommandFailedError', 'boom', false))).toBe(
      'CommandFailedError: boom',
    );
    expect(describeError(new ConfigError(['a (1) must be 2', 'b must be set']))).toBe(
      'invalid configuration: a (1) must be 2; b must be set',
    );
    expect(describeError(new Error('two\n  lines'))).toBe('two lines');
  });
});
