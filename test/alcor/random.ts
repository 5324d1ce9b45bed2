// Seeded randomness, so MAC and VNI allocation and probabilistic faults repeat exactly for a given
// seed. Not for anything secret.
import { randomInt } from 'node:crypto';
import { mulberry32 } from '@merak/coordinator';

/**
 * Returns a function yielding uniformly distributed unsigned 32-bit integers: the coordinator's
 * mulberry32, whose floats are exactly these integers / 2^32, so the sequence is the same.
 */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 2 ** 32;
}

/** A seed for when the caller gave none. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}
