// An example `--machine` module: the Counters machine beside it with a model
// of its own. Run the nemesis against it with
//   npm run test:robustness -- --machine test/robustness/examples/target.ts --seeds 1 --nodes 3 --duration 30
import type { Model, Operation } from '@raftline/testing';
import type { RobustnessTarget } from '../support/target';

type Input = { op: 'add'; key: string; n: number } | { op: 'total'; key: string };

/** A counter: adds return the new total, reads the total; one counter per key. */
const counterModel: Model<number, Input, number> = {
  init: () => 0,
  step: (state, input, output) => {
    const next = input.op === 'add' ? state + input.n : state;
    return { ok: output === undefined || output === next, state: next };
  },
  readOnly: (input) => input.op === 'total',
  partition: (history: Operation<Input, number>[]) => {
    const by = new Map<string, Operation<Input, number>[]>();
    for (const op of history) by.set(op.input.key, [...(by.get(op.input.key) ?? []), op]);
    return [...by.values()];
  },
};

export const target: RobustnessTarget<number, Input, number> = {
  name: 'counters',
  machine: './counters.ts', // relative to this module
  model: counterModel,
  runsQuery: 'runs',
  next(rng, client, n) {
    const key = `c${rng.nextInt(3)}`;
    if (rng.nextInt(2) === 0) {
      const by = 1 + rng.nextInt(5);
      const id = `${client}.${n}`;
      return {
        input: { op: 'add', key, n: by },
        kind: 'command',
        name: 'add',
        args: [key, by, id],
        writeId: id,
      };
    }
    return {
      input: { op: 'total', key },
      kind: 'query',
      name: 'total',
      args: [key],
      consistency: 'linearizable',
    };
  },
  output: (_inv, value) => Number(value),
};
