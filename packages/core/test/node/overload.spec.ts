import {
  ConfigError,
  DELAY_BOUND_FROM,
  MemoryLogStore,
  MemoryNetwork,
  MemoryStableStore,
  OverloadedError,
  RaftNode,
  resolveNodeConfig,
  seededRandom,
  systemClock,
  type Entry,
  type NodeConfig,
} from '../../src/index';
import { counter, until } from '../support/nodes';

// A node holds at most maxPendingProposals proposals (and maxPendingBytes of
// their entries) waiting to apply: one more is refused at once with
// OverloadedError, appends nothing, and the node serves again once the
// waiting ones apply.

/** A log store whose appends can be held: held appends complete only on release(). */
class GatedLog extends MemoryLogStore {
  private held: (() => void)[] | undefined;
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }
  override async append(entries: readonly Entry[]): Promise<void> {
    const held = this.held;
    if (held) await new Promise<void>((resolve) => held.push(resolve));
    return super.append(entries);
  }
}

async function soloNode(config: Partial<NodeConfig>) {
  const log = new GatedLog();
  const applier = counter();
  const node = new RaftNode({
    id: 'solo',
    voters: ['solo'],
    logStore: log,
    stableStore: new MemoryStableStore(),
    transport: new MemoryNetwork().transport('solo'),
    clock: systemClock,
    random: seededRandom(3),
    applier,
    config: { electionTimeoutMs: 60, heartbeatMs: 15, tickMs: 5, ...config },
  });
  await node.start();
  await until(() => node.isLeader(), 'solo leads');
  await node.propose({ name: 'inc', args: [] }); // its election's no-op applied
  return { node, log, applier };
}

const inc = { name: 'inc', args: [] } as const;

describe('RaftNode - overload', () => {
  it('refuses the proposal past maxPendingProposals at once, appending nothing, and serves again after', async () => {
    const { node, log, applier } = await soloNode({ maxPendingProposals: 3 });
    log.hold();
    const waiting = [node.propose(inc), node.propose(inc), node.propose(inc)];
    const lastBefore = node.status().lastIndex;
    const refusal = await node.propose(inc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(OverloadedError);
    expect(refusal).toMatchObject({ nodeId: 'solo', limitName: 'maxPendingProposals', limit: 3 });
    expect(node.status().lastIndex).toBe(lastBefore); // nothing appended for it
    expect(node.status().proposals).toMatchObject({ pending: 3, refused: 1 });
    // refusal() says so before any command is looked at, and counts it the same way.
    expect(node.refusal()).toMatchObject({ name: 'OverloadedError', limitName: 'maxPendingProposals' });
    expect(node.status().proposals).toMatchObject({ pending: 3, refused: 2 });
    log.release();
    expect(await Promise.all(waiting)).toEqual([2, 3, 4]);
    expect(node.refusal()).toBeUndefined();
    expect(node.status().proposals).toEqual({ pending: 0, pendingBytes: 0, refused: 2 });
    expect(await node.propose(inc)).toBe(5);
    expect(applier.applied).toBe(5);
    await node.stop();
  });

  it('refuses past maxPendingBytes of waiting entries', async () => {
    const { node, log } = await soloNode({ maxPendingBytes: 2048, maxCommandBytes: 2048 });
    log.hold();
    const big = { name: 'inc', args: ['x'.repeat(1500)] };
    const first = node.propose(big);
    expect(node.status().proposals.pendingBytes).toBeGreaterThan(1500);
    const second = node.propose(big);
    const refusal = await node.propose(big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusal).toMatchObject({ name: 'OverloadedError', limitName: 'maxPendingBytes', limit: 2048 });
    log.release();
    await Promise.all([first, second]);
    expect(node.status().proposals.pendingBytes).toBe(0);
    await node.stop();
  });

  it('refuses once DELAY_BOUND_FROM proposals wait and the oldest has waited maxPendingDelayMs', async () => {
    const { node, log } = await soloNode({ maxPendingDelayMs: 40 });
    log.hold();
    const waiting = Array.from({ length: DELAY_BOUND_FROM - 1 }, () => node.propose(inc));
    await new Promise((r) => setTimeout(r, 60));
    waiting.push(node.propose(inc)); // fewer than DELAY_BOUND_FROM waited: admitted however old
    const refusal = await node.propose(inc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusal).toMatchObject({ name: 'OverloadedError', limitName: 'maxPendingDelayMs', limit: 40 });
    log.release();
    await Promise.all(waiting);
    await expect(node.propose(inc)).resolves.toBe(DELAY_BOUND_FROM + 2);
    await node.stop();
  });

  it('frees the places of proposals that failed', async () => {
    const { node, log } = await soloNode({ maxPendingProposals: 2 });
    log.hold();
    const waiting = [node.propose(inc, { timeoutMs: 30 }), node.propose(inc, { timeoutMs: 30 })];
    await expect(Promise.all(waiting)).rejects.toMatchObject({ name: 'ProposalTimeoutError' });
    await Promise.allSettled(waiting);
    expect(node.status().proposals.pending).toBe(0);
    log.release();
    await expect(node.propose(inc)).resolves.toBeGreaterThan(0);
    await node.stop();
  });

  it('validates the bounds', () => {
    expect(() => resolveNodeConfig({ maxPendingProposals: 0 })).toThrow(ConfigError);
    expect(() => resolveNodeConfig({ maxPendingDelayMs: -1 })).toThrow(/maxPendingDelayMs/);
    expect(() => resolveNodeConfig({ maxPendingBytes: 1.5 })).toThrow(/maxPendingBytes/);
    expect(() => resolveNodeConfig({ maxPendingBytes: 1000, maxCommandBytes: 2000 })).toThrow(
      /maxPendingBytes \(1000\) must be at least maxCommandBytes \(2000\)/,
    );
  });
});
