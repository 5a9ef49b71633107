import { AUTO_PREFETCH_MAX, AutoPrefetch } from '../src/client/prefetch';

describe('auto prefetch', () => {
  it('holds nothing before it has measured a handler and a claim', () => {
    const a = new AutoPrefetch(4);
    expect(a.prefetch).toBe(0);
    a.handled(1);
    expect(a.prefetch).toBe(0);
    a.claimed(10);
    expect(a.prefetch).toBeGreaterThan(0);
  });

  it('holds enough to keep every slot busy for two claim round trips', () => {
    const a = new AutoPrefetch(4);
    a.handled(5); // a slot does 2 jobs during one 10 ms claim
    a.claimed(10);
    expect(a.prefetch).toBe(2 * 4 * 2);
  });

  it('holds nothing for handlers far longer than a claim, and at most the cap for instant ones', () => {
    const slow = new AutoPrefetch(8);
    slow.handled(1000);
    slow.claimed(5);
    expect(slow.prefetch).toBe(0);
    const instant = new AutoPrefetch(1);
    instant.handled(0);
    instant.claimed(3);
    expect(instant.prefetch).toBe(AUTO_PREFETCH_MAX);
    const capped = new AutoPrefetch(1, 10);
    capped.handled(0);
    capped.claimed(3);
    expect(capped.prefetch).toBe(10);
  });

  it('follows the handler as it slows down', () => {
    const a = new AutoPrefetch(2);
    a.claimed(10);
    a.handled(1);
    const fast = a.prefetch;
    for (let i = 0; i < 50; i++) a.handled(100);
    expect(a.prefetch).toBeLessThan(fast);
    expect(a.prefetch).toBe(Math.ceil((2 * 2 * 10) / 100));
  });
});
