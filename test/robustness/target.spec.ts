import { join } from 'node:path';
import { seededRandom } from '@raftline/core';
import { checkLinearizability } from '@raftline/testing';
import { loadTarget, TargetLoadError } from './support/target';

describe('--machine - a user module with a machine and a model', () => {
  it('loads the example target with its machine path made absolute', () => {
    const t = loadTarget(join(__dirname, 'examples/target.ts'));
    expect(t.name).toBe('counters');
    expect(t.machine).toBe(join(__dirname, 'examples/counters.ts'));
    const inv = t.next(seededRandom(1), 0, 0);
    expect(['add', 'total']).toContain(inv.name);
  });

  it("the example's model refutes a lost add", () => {
    const t = loadTarget(join(__dirname, 'examples/target.ts'));
    const ok = checkLinearizability(
      [
        { clientId: 0, input: { op: 'add', key: 'c0', n: 2 }, output: 2, call: 0, return: 1 },
        { clientId: 1, input: { op: 'total', key: 'c0' }, output: 2, call: 2, return: 3 },
      ],
      t.model,
    );
    expect(ok.ok).toBe(true);
    const lost = checkLinearizability(
      [
        { clientId: 0, input: { op: 'add', key: 'c0', n: 2 }, output: 2, call: 0, return: 1 },
        { clientId: 1, input: { op: 'total', key: 'c0' }, output: 0, call: 2, return: 3 },
      ],
      t.model,
    );
    expect(lost.ok).toBe(false);
  });

  it('a module without a target is a TargetLoadError naming what is missing', () => {
    expect(() => loadTarget(join(__dirname, 'examples/counters.ts'))).toThrow(TargetLoadError);
    expect(() => loadTarget(join(__dirname, 'examples/counters.ts'))).toThrow(
      /missing: machine, model, next, output/,
    );
  });
});
