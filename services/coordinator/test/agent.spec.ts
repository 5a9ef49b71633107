import { ConfigError } from '@raftline/core';
import { CoordinatorAgent, NotHoldingError } from '../src';

// What CoordinatorAgent decides before it sends anything: its timing options,
// and that an agent holding nothing acts on nothing. Over NATS, with replicas:
// agents.integration.spec.ts.

const base = {
  connection: {} as never, // never used: nothing here reaches the network
  cluster: 'c',
  group: 'g',
  task: 't',
  candidate: 'a',
};

describe('CoordinatorAgent - options and acting without a lease', () => {
  it('refuses timing options that cannot keep a lease, naming each', () => {
    expect(() => new CoordinatorAgent({ ...base, leaseMs: 0 })).toThrow(ConfigError);
    expect(() => new CoordinatorAgent({ ...base, leaseMs: 1000, renewEveryMs: 900 })).toThrow(
      /renewEveryMs \(900\) must be below leaseMs × \(1 − maxClockDrift\) \(900\)/,
    );
    expect(() => new CoordinatorAgent({ ...base, maxClockDrift: 0.5 })).toThrow(
      /maxClockDrift \(0.5\) must be at least 0 and below 0.5/,
    );
    expect(() => new CoordinatorAgent({ ...base, leaseMs: 1000, renewEveryMs: 899 })).not.toThrow();
  });

  it('an agent that was never elected is no coordinator, has no epoch, and sends no guarded command', async () => {
    const agent = new CoordinatorAgent(base);
    expect(agent.isCoordinator()).toBe(false);
    expect(agent.epoch).toBeNull();
    await expect(agent.act('r', { op: 'set', value: 1 })).rejects.toBeInstanceOf(NotHoldingError);
    await expect(agent.checkpoint({ state: 's' })).rejects.toBeInstanceOf(NotHoldingError);
    await agent.close(); // nothing to resign, no client to close
  });
});
