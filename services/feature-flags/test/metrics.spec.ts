import { OTHER_LABEL_VALUE, readMachineMetrics, type MachineMetric } from '@raftline/core';
import { AUTHOR, Harness, boolFlag } from './support/harness';

/** The samples of one family, as `label=value → value` strings, sorted. */
function series(metrics: readonly MachineMetric[] | undefined, name: string): string[] {
  const family = metrics?.find((m) => m.name === name);
  if (!family) throw new Error(`no ${name}`);
  return family.samples
    .map((s) => `${Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')} → ${s.value}`)
    .sort();
}

describe('feature flags - metrics', () => {
  it('counts flags and segments by environment as they are written and deleted', () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'checkout', boolFlag(), AUTHOR);
    h.cmd.setFlag('prod', 'search', boolFlag(), AUTHOR);
    h.cmd.setFlag('dev', 'checkout', boolFlag(), AUTHOR);
    h.cmd.setSegment('prod', 'staff', { when: { attribute: 'staff', op: 'equals', value: true } }, AUTHOR);
    h.cmd.deleteFlag('prod', 'search', AUTHOR);
    const m = readMachineMetrics(h.machine);
    expect(series(m, 'raftline_flags')).toEqual(['environment=dev → 1', 'environment=prod → 1']);
    expect(series(m, 'raftline_flag_segments')).toEqual(['environment=dev → 0', 'environment=prod → 1']);
  });

  it('environment names are user data: past the first 20 written, they are summed under (other)', () => {
    const h = new Harness();
    for (let i = 0; i < 23; i++) h.cmd.setFlag(`env${String(i).padStart(2, '0')}`, 'f', boolFlag(), AUTHOR);
    const flags = series(readMachineMetrics(h.machine), 'raftline_flags');
    expect(flags).toHaveLength(21);
    expect(flags).toContain(`environment=${OTHER_LABEL_VALUE} → 3`);
    expect(flags).toContain('environment=env19 → 1');
    expect(flags).not.toContain('environment=env20 → 1');
  });

  it("counts the evaluations this replica's evaluate query served, by reason; none of it is replicated state", () => {
    const h = new Harness();
    h.cmd.setFlag('prod', 'on', boolFlag(), AUTHOR);
    h.cmd.setFlag('prod', 'off', boolFlag([], { enabled: false }), AUTHOR);
    const before = h.host.digest();
    h.q.evaluate('prod', 'on', { targetingKey: 'u1' });
    h.q.evaluate('prod', 'on', { targetingKey: 'u2' });
    h.q.evaluate('prod', 'off');
    h.q.evaluate('prod', 'missing');
    const evaluations = series(readMachineMetrics(h.machine), 'raftline_flag_evaluations_total');
    expect(evaluations).toEqual([
      'reason=DEFAULT → 0',
      'reason=DISABLED → 1',
      'reason=ERROR → 1',
      'reason=SPLIT → 0',
      'reason=STATIC → 2',
      'reason=TARGETING_MATCH → 0',
    ]);
    expect(h.host.digest()).toBe(before);
    const restored = h.restored();
    expect(series(readMachineMetrics(restored.machine), 'raftline_flag_evaluations_total')).toContain(
      'reason=STATIC → 0',
    );
    expect(series(readMachineMetrics(restored.machine), 'raftline_flags')).toEqual(['environment=prod → 2']);
  });
});
