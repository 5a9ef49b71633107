import { CommandFailedError } from '../../src/errors';
import type { CommandRequest } from '../../src/node/command';
import { MachineHost } from '../../src/state-machine/host';
import {
  commandProxy,
  queryProxy,
  type CommandsOf,
  type QueriesOf,
  type QueryRequest,
} from '../../src/state-machine/proxy';
import { KvMachine, at } from './kv-machine';

/** A one-replica "cluster": validate, then apply at the next index. */
function localCluster() {
  const host = new MachineHost(new KvMachine());
  let index = 0;
  const sent: CommandRequest[] = [];
  const send = async (request: CommandRequest): Promise<unknown> => {
    sent.push(request);
    host.validate(request);
    const result = host.apply({ ...request, time: 0 }, at(++index));
    if (!result.ok) throw result.error;
    return result.value;
  };
  const ask = async (request: QueryRequest): Promise<unknown> => host.query(request.name, request.args);
  return { host, sent, kv: commandProxy<KvMachine>(send), reads: queryProxy<KvMachine>(ask) };
}

describe('state machine - typed proxies', () => {
  it('turns a method call into a request with the method name and arguments', async () => {
    const { kv, sent } = localCluster();
    await expect(kv.put('k', 'v1')).resolves.toBeUndefined();
    await expect(kv.put('k', 'v2')).resolves.toBe('v1');
    await expect(kv.incr(5)).resolves.toBe(5);
    expect(sent).toEqual([
      { name: 'put', args: ['k', 'v1'] },
      { name: 'put', args: ['k', 'v2'] },
      { name: 'incr', args: [5] },
    ]);
  });

  it('rejects with what send rejects with', async () => {
    const { kv } = localCluster();
    await expect(kv.put('', 'v')).rejects.toThrow('command put rejected: key must not be empty');
    await expect(kv.fail('boom')).rejects.toBeInstanceOf(CommandFailedError);
  });

  it('queries go through the query path', async () => {
    const { kv, reads } = localCluster();
    await kv.put('k', 'v');
    await expect(reads.get('k')).resolves.toBe('v');
    await expect(reads.count()).rejects.toThrow('unknown query count');
  });

  it('is not thenable and cannot be assigned to', async () => {
    const { kv } = localCluster();
    expect((kv as unknown as { then?: unknown }).then).toBeUndefined();
    await expect(Promise.resolve(kv)).resolves.toBe(kv);
    expect(() => {
      (kv as unknown as Record<string, unknown>).put = 1;
    }).toThrow(TypeError);
  });

  it('types: arguments and results follow the machine, framework members are hidden', () => {
    // Checked by `tsc -p tsconfig.test.json`; the body never needs to run.
    const typeChecks = (kv: CommandsOf<KvMachine>, reads: QueriesOf<KvMachine>) => {
      const previous: Promise<string | undefined> = kv.put('k', 'v');
      const size: Promise<number> = reads.count();
      // @ts-expect-error a value must be a string
      void kv.put('k', 1);
      // @ts-expect-error put takes two arguments
      void kv.put('k');
      // @ts-expect-error put resolves to string | undefined, not number
      const wrong: Promise<number> = kv.put('k', 'v');
      // @ts-expect-error incr resolves to a number
      const alsoWrong: Promise<string> = kv.incr(1);
      // @ts-expect-error there is no such method
      void kv.nope();
      // @ts-expect-error snapshotState belongs to the framework
      void kv.snapshotState();
      // @ts-expect-error restoreState belongs to the framework
      void reads.restoreState({});
      // @ts-expect-error a protected validator is not part of the client API
      void kv.checkPut('k', 'v');
      // @ts-expect-error fields are not methods
      void kv.counter;
      return [previous, size, wrong, alsoWrong];
    };
    expect(typeof typeChecks).toBe('function');
  });
});
