/** Cancels a timer; calling it twice is harmless. */
export type Cancel = () => void;

/**
 * Time as the node sees it: real timers in production, virtual time in
 * simulation. Only the node runtime reads it; the protocol never does.
 */
export interface Clock {
  /** Milliseconds since some fixed origin, non-decreasing. */
  now(): number;
  /** Calls fn once after ms milliseconds, unless cancelled. */
  setTimeout(fn: () => void, ms: number): Cancel;
}

/** The process's real clock (Date.now and timers). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
