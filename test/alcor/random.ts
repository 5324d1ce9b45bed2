// A small seeded PRNG (the planner's mulberry32), so MAC and VNI allocation and probabilistic
// faults repeat exactly for a given seed. Not for anything secret.
import { randomInt } from 'node:crypto';
import { mulberry32 } from '../../coordinator/plan/random.js';

/** Returns a function yielding uniformly distributed unsigned 32-bit integers. */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  // mulberry32 divides its 32-bit state by 2^32: multiplying back gives the integer exactly.
  return () => next() * 4294967296;
}

/** A seed for when the caller gave none. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}
