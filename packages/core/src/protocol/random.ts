/**
 * Randomness enters the protocol only through this interface, so a run is a
 * pure function of its inputs and a seed.
 */
export interface RandomSource {
  /** Returns an integer uniformly drawn from [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * A small, fast, seeded generator (a 32-bit multiply–xorshift mix). Not for
 * cryptography; good enough to spread election timeouts and fault schedules.
 * The same seed always yields the same sequence.
 */
export function seededRandom(
  seed: number,
): RandomSource & { nextFloat(): number; fork(): RandomSource & { nextFloat(): number } } {
  let state = seed >>> 0 || 0x9e3779b9;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
  const nextFloat = (): number => nextUint32() / 4294967296;
  return {
    nextFloat,
    nextInt: (maxExclusive: number) => Math.floor(nextFloat() * maxExclusive),
    fork: () => seededRandom(nextUint32()),
  };
}
