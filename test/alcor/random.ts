// A small seeded PRNG (mulberry32), so MAC and VNI allocation and probabilistic faults repeat
// exactly for a given seed. Not for anything secret.
import { randomInt } from 'node:crypto';

/** Returns a function yielding uniformly distributed unsigned 32-bit integers. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A seed for when the caller gave none. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}
