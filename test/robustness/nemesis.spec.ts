import { CLUSTER_WEIGHTS, DEFAULT_WEIGHTS, FAULT_KINDS, planFaults, PlanError } from './support/nemesis';

const base = { durationMs: 120_000, electionMs: 1000 };

describe('nemesis plan - seeded, overlapping, inside the run', () => {
  it('the same seed gives the same plan, another seed another', () => {
    expect(planFaults({ ...base, seed: 7 })).toEqual(planFaults({ ...base, seed: 7 }));
    expect(planFaults({ ...base, seed: 7 })).not.toEqual(planFaults({ ...base, seed: 8 }));
  });

  it('every fault starts after the warm-up and ends before the quiet tail, in start order', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const plan = planFaults({ ...base, seed, warmupMs: 2000, quietMs: 5000 });
      expect(plan.length).toBeGreaterThan(0);
      for (const [i, f] of plan.entries()) {
        expect(f.at).toBeGreaterThanOrEqual(2000);
        expect(f.at + f.durationMs).toBeLessThanOrEqual(base.durationMs - 5000);
        if (i > 0) expect(f.at).toBeGreaterThanOrEqual(plan[i - 1]!.at);
      }
    }
  });

  it('over 50 seeds every kind is drawn (bridges with several nats-servers only), and some faults overlap', () => {
    const plans = Array.from({ length: 50 }, (_, i) => planFaults({ ...base, seed: i + 1, natsServers: 3 }));
    const kinds = new Set(plans.flat().map((f) => f.kind));
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
    const variants = new Set(plans.flat().map((f) => `${f.kind} ${f.variant ?? ''}`));
    for (const v of ['bridge cut', 'bridge drop', 'bridge one-way', 'one-way deaf', 'one-way mute']) {
      expect(variants).toContain(v);
    }
    const single = Array.from({ length: 50 }, (_, i) => planFaults({ ...base, seed: i + 1 })).flat();
    expect(single.some((f) => f.kind === 'bridge')).toBe(false);
    const overlaps = plans.flatMap((p) => p.slice(1).filter((f, i) => f.at < p[i]!.at + p[i]!.durationMs));
    expect(overlaps.length).toBeGreaterThan(20);
  });

  it('pauses and isolations outlast an election timeout; a zero weight leaves a kind out', () => {
    const plans = Array.from({ length: 20 }, (_, i) =>
      planFaults({ ...base, seed: i, weights: { ...CLUSTER_WEIGHTS, 'kill-majority': 0 } }),
    ).flat();
    const partitions = ['pause', 'isolate', 'one-way', 'bridge'];
    for (const f of plans.filter((p) => partitions.includes(p.kind))) {
      expect(f.durationMs).toBeGreaterThan(base.electionMs);
    }
    expect(plans.some((f) => f.kind === 'kill-majority')).toBe(false);
  });

  it('refuses plans that cannot be made with PlanError', () => {
    const none = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as typeof DEFAULT_WEIGHTS;
    expect(() => planFaults({ ...base, seed: 1, weights: none })).toThrow(PlanError);
    expect(() => planFaults({ ...base, seed: 1, weights: { ...none, pause: -1 } })).toThrow(
      /pause must be >= 0/,
    );
    expect(() => planFaults({ seed: 1, durationMs: 5000, electionMs: 1000 })).toThrow(
      'durationMs (5000) must exceed warmupMs (3000) + quietMs (4000)',
    );
  });
});
