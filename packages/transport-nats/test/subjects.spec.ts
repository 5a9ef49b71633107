import { checkToken, committedStreamName, groupSubjects, SubjectTokenError } from '../src/index';

describe('subjects - one namespace per cluster and group', () => {
  it('names the raft and client subjects of a group', () => {
    const s = groupSubjects('prod', 'orders');
    expect(s.raft('n1')).toBe('raftline.prod.orders.raft.n1');
    expect(s.client).toBe('raftline.prod.orders.client');
    expect(s.clientNode('n2')).toBe('raftline.prod.orders.client.n2');
  });

  it('names the committed subject, the service endpoints and the committed stream of a group', () => {
    const s = groupSubjects('prod', 'orders');
    expect(s.committed).toBe('raftline.prod.orders.committed');
    expect(s.service('n1', 'status')).toBe('raftline.prod.orders.srv.n1.status');
    expect(() => s.service('n1', 'a.b')).toThrow(/^endpoint /);
    expect(committedStreamName('prod', 'orders')).toBe('raftline_prod_orders');
    expect(() => committedStreamName('a/b', 'orders')).toThrow(/^cluster .*path separator/);
    expect(() => committedStreamName('prod', 'x\\y')).toThrow(/^group .*path separator/);
    expect(() => committedStreamName('prod', 'a.b')).toThrow(SubjectTokenError);
  });

  it.each([
    ['', 'it is empty'],
    ['a.b', "it contains '.'"],
    ['a*', 'wildcard'],
    ['>', 'wildcard'],
    ['a b', 'whitespace'],
    ['a\tb', 'whitespace'],
    ['a\u0000', 'control character'],
  ])('refuses %j as a token with a SubjectTokenError naming the field', (value, problem) => {
    expect(() => checkToken('cluster', value)).toThrow(SubjectTokenError);
    expect(() => checkToken('cluster', value)).toThrow(problem);
    expect(() => groupSubjects('ok', value)).toThrow(/^group /);
    expect(() => groupSubjects('ok', 'ok').raft(value)).toThrow(/^node id /);
  });

  it('accepts ids with dashes, underscores, colons and unicode', () => {
    for (const v of ['node-1', 'a_b', 'eu:west', 'nœud']) expect(checkToken('node id', v)).toBe(v);
  });
});
