import { Net } from './support/net';

describe('protocol - smoke', () => {
  it('elects, replicates and commits in a 3-node cluster', () => {
    const net = new Net(['a', 'b', 'c']);
    net.elect('a');
    expect(net.leaders()).toEqual(['a']);
    net.propose('a', 'x', 'y');
    for (const id of net.ids) expect(net.logOf(id)).toEqual(['·', 'x', 'y']);
    for (const id of net.ids) expect(net.node(id).status().commitIndex).toBe(3);
  });
});
