import { CommandRejectedError, ConfigError, MachineHost } from '@raftline/core';
import { TaskQueue } from '../src/index';

/** The reason validate() refuses the command with, or undefined when it passes. */
function refusal(host: MachineHost, name: string, ...args: unknown[]): string | undefined {
  try {
    host.validate({ name, args });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(CommandRejectedError);
    return (err as CommandRejectedError).reason;
  }
}

describe('task queue - validation before replication', () => {
  const host = new MachineHost(new TaskQueue({ maxPayloadBytes: 100, maxResultBytes: 20 }));
  const why = (name: string, ...args: unknown[]) => refusal(host, name, ...args);

  it('accepts well-formed commands', () => {
    expect(why('enqueue', 'emails.send', { to: 'a@b' })).toBeUndefined();
    expect(
      why('enqueue', 'q', 1, {
        priority: -3,
        delayMs: 10,
        dedupKey: 'k',
        maxAttempts: 2,
        backoff: { type: 'exponential', delayMs: 100, maxMs: 1000 },
        ttlMs: 20,
      }),
    ).toBeUndefined();
    expect(why('claim', 'q', 'w1', { leaseMs: 1000, max: 10 })).toBeUndefined();
    expect(why('ack', '12', 7, 'ok')).toBeUndefined();
    expect(why('nack', '12', 7, { error: 'boom', retryInMs: 0 })).toBeUndefined();
    expect(why('tick')).toBeUndefined();
  });

  it('refuses a bad queue name, naming the argument', () => {
    expect(why('enqueue', '', 1)).toBe('args[0] (queue): must be letters, digits and _ . : - (not first)');
    expect(why('enqueue', 'has space', 1)).toMatch(/^args\[0\] \(queue\): must be letters/);
    expect(why('claim', 'x'.repeat(129), 'w')).toBe(
      'args[0] (queue): Too big: expected string to have <=128 characters',
    );
    expect(why('pause', 42)).toBe('args[0] (queue): Invalid input: expected string, received number');
  });

  it('refuses a payload or a result above its size limit', () => {
    expect(why('enqueue', 'q', 'x'.repeat(200))).toBe(
      'args[1] (payload): 202 bytes encoded, more than maxPayloadBytes (100)',
    );
    expect(why('enqueueMany', 'q', [{ payload: 1 }, { payload: 'y'.repeat(100) }])).toBe(
      'args[1] (items)[1].payload: 102 bytes encoded, more than maxPayloadBytes (100)',
    );
    expect(why('ack', '1', 1, 'z'.repeat(30))).toBe(
      'args[2] (result): 31 bytes encoded, more than maxResultBytes (20)',
    );
    expect(why('ackMany', [{ jobId: '1', token: 1, result: 'z'.repeat(30) }])).toMatch(
      /^args\[0\] \(items\)\[0\]\.result: 31 bytes/,
    );
  });

  it('refuses negative delays and leases, and bad numbers', () => {
    expect(why('enqueue', 'q', 1, { delayMs: -1 })).toBe(
      'args[2] (options).delayMs: Too small: expected number to be >=0',
    );
    expect(why('claim', 'q', 'w', { leaseMs: 0 })).toBe(
      'args[2] (options).leaseMs: Too small: expected number to be >=1',
    );
    expect(why('extend', '1', 1, -5)).toBe('args[2] (leaseMs): Too small: expected number to be >=1');
    expect(why('extend', '1', 1, 2 * 24 * 3600 * 1000)).toMatch(/^args\[2\] \(leaseMs\): Too big/);
    expect(why('nack', '1', 1, { retryInMs: 1.5 })).toMatch(
      /^args\[2\] \(options\)\.retryInMs: Invalid input: expected int/,
    );
    expect(why('claim', 'q', 'w', { max: 1001 })).toMatch(/^args\[2\] \(options\)\.max: Too big/);
    expect(why('enqueue', 'q', 1, { delayMs: 50, ttlMs: 50 })).toBe(
      'args[2] (options).ttlMs: ttlMs must be greater than delayMs (the job would die before it is ready)',
    );
    expect(why('enqueue', 'q', 1, { backoff: { type: 'linear', delayMs: 1 } })).toMatch(
      /^args\[2\] \(options\)\.backoff\.type: Invalid option/,
    );
  });

  it('refuses unknown option keys instead of dropping them', () => {
    expect(why('enqueue', 'q', 1, { prority: 1 })).toBe('args[2] (options): Unrecognized key: "prority"');
    expect(why('claim', 'q', 'w', { lease: 10 })).toBe('args[2] (options): Unrecognized key: "lease"');
    expect(why('configure', 'q', { keepDone: 1 })).toBe('args[1] (settings): Unrecognized key: "keepDone"');
  });

  it('refuses bad job ids, tokens, workers, batches and extra arguments', () => {
    expect(why('ack', 'abc', 1)).toBe(
      'args[0] (jobId): must be a job id (the decimal string enqueue returned)',
    );
    expect(why('ack', '01', 1)).toMatch(/^args\[0\] \(jobId\)/);
    expect(why('ack', '1', 0)).toBe('args[1] (token): Too small: expected number to be >=1');
    expect(why('claim', 'q', '')).toMatch(/^args\[1\] \(workerId\): Too small/);
    expect(why('ackMany', [])).toMatch(/^args\[0\] \(items\): Too small/);
    expect(why('retryDead', 'q', ['1', 'x'])).toMatch(/^args\[1\] \(jobIds\)\[1\]: must be a job id/);
    expect(why('tick', 1)).toBe('expected at most 0 arguments, got 1');
  });
});

describe('task queue - options', () => {
  it('ConfigError names every bad or unknown option', () => {
    expect(
      () => new TaskQueue({ maxPayloadBytes: 0, defaults: { keepDoneCount: -1, maxAttempts: 0 } }),
    ).toThrow(
      new ConfigError([
        'defaults.maxAttempts: Too small: expected number to be >=1',
        'defaults.keepDoneCount: Too small: expected number to be >=0',
        'maxPayloadBytes (0) must be a positive integer',
      ]),
    );
    expect(() => new TaskQueue({ maxPayloadByte: 10 } as never)).toThrow(
      "TaskQueue options: unknown key 'maxPayloadByte' (did you mean 'maxPayloadBytes'?)",
    );
  });
});
