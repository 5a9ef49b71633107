import { ConfigError, seededRandom } from '@raftline/core';
import {
  DEFAULT_FAULT_WEIGHTS,
  healAll,
  KvMachine,
  randomFault,
  runFaultPhase,
  SimCluster,
  type RandomFaultOptions,
} from '../src/index';

jest.setTimeout(60_000);

const put = (key: string, value: string) => ({ name: 'put', args: [key, value] });

/** Runs `count` random faults on a fresh cluster, advancing between them. @returns the descriptions and the cluster (running) */
async function schedule(
  seed: number,
  count: number,
  options: RandomFaultOptions = {},
  nodes = 3,
): Promise<{ c: SimCluster; events: string[] }> {
  const c = await SimCluster.create({ nodes, seed });
  const rng = seededRandom(seed);
  const events: string[] = [];
  for (let i = 0; i < count; i++) {
    events.push(await randomFault(c, rng, options));
    await c.advance(50 + rng.nextInt(100));
    c.check();
  }
  return { c, events };
}

/** Nodes of c that are down. */
const downCount = (c: SimCluster): number => c.ids.filter((id) => !c.isRunning(id)).length;

describe('randomFault', () => {
  it('draws the same schedule from the same seed, and another from another seed', async () => {
    const a = await schedule(5, 25);
    const b = await schedule(5, 25);
    const other = await schedule(6, 25);
    await Promise.all([a.c.stop(), b.c.stop(), other.c.stop()]);
    expect(a.events).toEqual(b.events);
    expect(other.events).not.toEqual(a.events);
  });

  it.each([3, 5])('never crashes a majority of %i nodes: further crashes are skipped', async (nodes) => {
    const { c, events } = await schedule(11, 10, { weights: { ...zero(), crash: 1 } }, nodes);
    const down = downCount(c);
    await c.stop();
    expect(down).toBe(Math.floor((nodes - 1) / 2));
    expect(events.filter((e) => e.startsWith('crash n'))).toHaveLength(down);
    expect(events.at(-1)).toBe('crash skipped (a majority must stay up)');
  });

  it('restarts a crashed node, and says so when none is down', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 2 });
    const rng = seededRandom(2);
    const restartOnly = { weights: { ...zero(), restart: 1 } };
    expect(await randomFault(c, rng, restartOnly)).toBe('restart: none down');
    c.crash('n2');
    expect(await randomFault(c, rng, restartOnly)).toBe('restart n2');
    expect(c.isRunning('n2')).toBe(true);
    await c.stop();
  });

  it('draws only the kinds whose weight is above 0', async () => {
    const { c, events } = await schedule(3, 60, { weights: { dropAppends: 0, unreliable: 0 } });
    await c.stop();
    expect(events.some((e) => e.startsWith('drop') || e.startsWith('unreliable'))).toBe(false);
    for (const kind of ['partition', 'crash', 'restart', 'reliable', 'heal'])
      expect(events.some((e) => e.startsWith(kind))).toBe(true);
  });

  it('loses appendDrops replication messages of the node it names', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 4 });
    await c.propose(put('a', '1'));
    const what = await randomFault(c, seededRandom(4), {
      weights: { ...zero(), dropAppends: 1 },
      appendDrops: 3,
    });
    expect(what).toMatch(/^drop 3 append messages of n[1-3]$/);
    const dropped = c.networkStats().dropped;
    await c.propose(put('b', '2'));
    await c.advance(500);
    expect(c.networkStats().dropped - dropped).toBeGreaterThanOrEqual(1);
    await c.stop();
  });

  it('leaves a cluster that converges once healed, with every kind drawn', async () => {
    const { c, events } = await schedule(9, 40, {}, 5);
    expect(new Set(events.map((e) => e.split(/[ :]/)[0]))).toEqual(
      new Set(['partition', 'crash', 'restart', 'unreliable', 'drop', 'reliable', 'heal']),
    );
    await healAll(c);
    expect(c.ids.every((id) => c.isRunning(id))).toBe(true);
    await c.propose(put('final', 'yes'), { timeoutMs: 10_000 });
    await c.advance(1000);
    for (const id of c.ids) expect((c.machine(id) as KvMachine).dump().get('final')).toBe('yes');
    c.check();
    await c.stop();
  });

  it.each<[string, RandomFaultOptions]>([
    ['a negative weight', { weights: { heal: -1 } }],
    ['a fractional weight', { weights: { crash: 1.5 } }],
    ['all weights 0', { weights: zero() }],
    ['appendDrops 0', { appendDrops: 0 }],
  ])('refuses %s with a ConfigError and leaves the cluster as it was', async (_name, options) => {
    const c = await SimCluster.create({ nodes: 3, seed: 1 });
    const rng = seededRandom(1);
    await expect(randomFault(c, rng, options)).rejects.toThrow(ConfigError);
    expect(c.ids.every((id) => c.isRunning(id) && c.isConnected(id))).toBe(true);
    await c.stop();
  });
});

describe('runFaultPhase', () => {
  it('records each fault with the time it ran, and ends once the virtual time reaches untilMs', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 8 });
    const rng = seededRandom(8);
    const events: string[] = [];
    await runFaultPhase(c, { untilMs: 1000, fault: () => randomFault(c, rng), rng, events });
    const times = events.map((e) => Number(/^(\d+) ms: /.exec(e)![1]));
    await c.stop();
    expect(events.length).toBeGreaterThan(3);
    expect(times[0]).toBe(0);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(50);
    expect(times.at(-1)!).toBeLessThan(1000);
    expect(c.now()).toBeGreaterThanOrEqual(1000);
  });

  it('runs no further fault once stop() holds', async () => {
    const c = await SimCluster.create({ nodes: 3, seed: 8 });
    const rng = seededRandom(8);
    const events: string[] = [];
    await runFaultPhase(c, {
      untilMs: 10_000,
      fault: () => randomFault(c, rng),
      rng,
      events,
      stop: () => events.length >= 3,
    });
    await c.stop();
    expect(events).toHaveLength(3);
  });
});

/** Every weight 0. */
function zero(): Record<keyof typeof DEFAULT_FAULT_WEIGHTS, number> {
  return Object.fromEntries(Object.keys(DEFAULT_FAULT_WEIGHTS).map((k) => [k, 0])) as Record<
    keyof typeof DEFAULT_FAULT_WEIGHTS,
    number
  >;
}
