import type { Clock } from '../../src/index';
import { TickClock } from '../../src/node/tick-clock';

/** A clock whose time the test sets; timers are not used by TickClock. */
function manualClock(): Clock & { t: number } {
  const c = {
    t: 1000,
    now: () => c.t,
    setTimeout: () => () => {},
  };
  return c;
}

describe('TickClock', () => {
  it('ticks once per timer while the timer keeps time, and never from a message then', () => {
    const clock = manualClock();
    const ticks = new TickClock(clock, 10, 100);
    for (let i = 1; i <= 5; i++) {
      clock.t += 10;
      expect(ticks.behind(true)).toBe(0);
      expect(ticks.onTimer(true)).toBe(1);
    }
  });

  it("a leader's late timer runs every tick that is due; another role's runs one", () => {
    const clock = manualClock();
    const ticks = new TickClock(clock, 10, 100);
    clock.t += 37;
    expect(ticks.onTimer(true)).toBe(3);
    clock.t += 3;
    expect(ticks.onTimer(true)).toBe(1);
    clock.t += 50;
    expect(ticks.onTimer(false)).toBe(1);
    clock.t += 10;
    expect(ticks.onTimer(true)).toBe(1); // what a follower missed is not owed once it leads
  });

  it('after a pause, a leader’s first message or read runs the ticks missed, at most `most`, and the timer then none extra', () => {
    const clock = manualClock();
    const ticks = new TickClock(clock, 10, 50);
    clock.t += 10;
    expect(ticks.onTimer(true)).toBe(1);
    clock.t += 2_000; // 200 ticks without running
    expect(ticks.behind(false)).toBe(0);
    expect(ticks.behind(true)).toBe(50);
    expect(ticks.behind(true)).toBe(0);
    clock.t += 10;
    expect(ticks.onTimer(true)).toBe(1);
  });

  it('one tick late is left to the timer', () => {
    const clock = manualClock();
    const ticks = new TickClock(clock, 10, 100);
    clock.t += 19;
    expect(ticks.behind(true)).toBe(0);
    clock.t += 1;
    expect(ticks.behind(true)).toBe(2);
  });
});
