import { OverloadedError, type NodeStatus } from '@raftline/core';
import { ServeMetrics } from '../src/metrics/metrics';
import { parseMetrics } from './support/cli';

// GroupMetrics.served counts every client command by outcome, a command
// refused before it is decoded (ServedNode.refusal) as one refused by propose().

function node(overloaded: boolean) {
  return {
    id: 'n1',
    propose: async () => 'done',
    query: async () => ({ value: 1, appliedIndex: 1 }),
    refusal: () => (overloaded ? new OverloadedError('n1', 'maxPendingProposals', 1024) : undefined),
    onRoleChange: () => () => {},
    onDivergence: () => () => {},
    status: () => ({ leaderId: '' }) as unknown as NodeStatus,
  };
}

async function samples(m: ServeMetrics, name: string) {
  return parseMetrics(await m.registry.metrics())
    .filter((s) => s.name === name)
    .map((s) => [s.labels.outcome ?? s.labels.reason ?? '', s.value]);
}

describe('ServeMetrics - client commands by outcome', () => {
  it('counts a refusal before decoding as a proposal refused for overload, and a served command as ok', async () => {
    const m = new ServeMetrics({ processMetrics: false });
    const full = m.group('g', 'n1').served(node(true));
    expect(full.refusal!()).toBeInstanceOf(OverloadedError);
    expect(full.refusal!()).toBeInstanceOf(OverloadedError);
    const free = m.group('h', 'n1').served(node(false));
    expect(free.refusal!()).toBeUndefined();
    await expect(free.propose({ name: 'put', args: [] })).resolves.toBe('done');

    expect(await samples(m, 'raftline_client_commands_total')).toEqual(
      expect.arrayContaining([
        ['overloaded', 2],
        ['ok', 1],
      ]),
    );
    expect(await samples(m, 'raftline_proposal_failures_total')).toEqual(
      expect.arrayContaining([['overloaded', 2]]),
    );
    expect((await samples(m, 'raftline_proposals_total')).map(([, v]) => v).sort()).toEqual([1, 2]);
  });
});
